import Foundation
import GatehouseQR
import KioskCore
import Synchronization

/// Dry-run camera: frames from a folder of grey PGM images, one after another at the configured
/// rate, re-reading the folder each round (so a test or a technician can swap what the "camera"
/// sees). An empty folder gives blank frames; a missing folder behaves like an unplugged camera.
public final class FolderFrameSource: FrameSource {
    public let folder: String
    private let frameInterval: Duration
    private var next = 0
    private var cache: [String: (modified: Date, image: GreyImage)] = [:]
    private var opened = false
    private let blank: GreyImage

    public init(folder: String, frameRate: Int, width: Int, height: Int) {
        self.folder = folder
        frameInterval = .microseconds(1_000_000 / max(1, frameRate))
        blank = GreyImage(width: width, height: height, pixels: [UInt8](repeating: 200, count: width * height))
    }

    public var name: String { "folder \(folder)" }

    public func open() throws(CaptureError) {
        guard FileManager.default.fileExists(atPath: folder) else { throw .noDevice(folder) }
        opened = true
    }

    public func withNextFrame<T>(timeout: Duration, _ body: (UnsafePointer<UInt8>, Int, Int) -> T) throws(CaptureError) -> T {
        guard opened else { throw .noDevice(folder) }
        Thread.sleep(forTimeInterval: Double(frameInterval.wholeMilliseconds) / 1000)
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { throw .noDevice(folder) }
        let images = files.filter { $0.hasSuffix(".pgm") }.sorted()
        var image = blank
        if !images.isEmpty {
            let path = folder + "/" + images[next % images.count]
            next &+= 1
            if let loaded = load(path) { image = loaded }
        }
        return image.pixels.withUnsafeBufferPointer { body($0.baseAddress!, image.width, image.height) }
    }

    private func load(_ path: String) -> GreyImage? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date
        else { return nil }
        if let cached = cache[path], cached.modified == modified { return cached.image }
        guard let data = FileManager.default.contents(atPath: path), let image = try? GreyImage(pgm: Array(data)) else { return nil }
        if cache.count > 32 { cache.removeAll() }
        cache[path] = (modified, image)
        return image
    }

    public func close() { opened = false }
}

/// Dry-run GPIO: every change is printed on stdout, and with a log file also written there as
/// one JSON object a line (`{"ms":1234,"line":"relay","value":1}`) for tests to read.
public final class GPIOTimeline: Sendable {
    private let output: FileHandle?
    private let timekeeper: any Timekeeper
    private let printToTerminal: Bool
    private let lock = Mutex(())

    public init(logPath: String?, timekeeper: any Timekeeper, printToTerminal: Bool = true) throws {
        if let logPath {
            FileManager.default.createFile(atPath: logPath, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: logPath) else { throw CurlError("cannot write the GPIO log \(logPath)") }
            output = handle
        } else {
            output = nil
        }
        self.timekeeper = timekeeper
        self.printToTerminal = printToTerminal
    }

    func record(line: String, value: Bool) {
        let ms = timekeeper.now().wholeMilliseconds
        lock.withLock { _ in
            output?.write(Data("{\"ms\":\(ms),\"line\":\"\(line)\",\"value\":\(value ? 1 : 0)}\n".utf8))
            if printToTerminal { FileHandle.standardOutput.write(Data("GPIO \(String(format: "%8lld", ms)) ms  \(line.padding(toLength: 5, withPad: " ", startingAt: 0)) \(value ? "ON" : "off")\n".utf8)) }
        }
    }
}

/// A line that only records (dry-run, no GPIO chip needed). Records changes only, like a scope
/// on the pin would show them.
public final class RecordedOutputLine: OutputLine {
    public let name: String
    private let timeline: GPIOTimeline
    private let level = Mutex<Bool?>(nil)

    public init(name: String, timeline: GPIOTimeline) {
        self.name = name
        self.timeline = timeline
    }

    public func set(_ active: Bool) throws {
        let changed = level.withLock { current -> Bool in
            defer { current = active }
            return current != active
        }
        if changed { timeline.record(line: name, value: active) }
    }
}

/// Hands out recorded lines in place of libgpiod.
public struct RecordedLineRequester: LineRequester {
    public let timeline: GPIOTimeline
    public init(timeline: GPIOTimeline) { self.timeline = timeline }
    public func requestOutput(_ name: String, wiring: LineWiring, initial: Bool) throws -> any OutputLine {
        let line = RecordedOutputLine(name: name, timeline: timeline)
        try line.set(initial)
        return line
    }
}

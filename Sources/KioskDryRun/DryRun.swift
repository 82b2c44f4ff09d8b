import FoundationEssentials
import GatehouseCore
import GatehouseImage
import KioskCore
import KioskHardware
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Dry-run camera: frames from a folder of grey PGM images, one after another at the configured
/// rate, re-reading the folder each round (so a test or a technician can swap what the "camera"
/// sees). An empty folder gives blank frames; a missing folder behaves like an unplugged camera.
public final class FolderFrameSource: FrameSource {
    public let folder: String
    private let frameInterval: Duration
    private var next = 0
    private var cache: [String: (modified: Int64, image: GreyImage)] = [:]
    private var opened = false
    private let blank: GreyImage

    public init(folder: String, frameRate: Int, width: Int, height: Int) {
        self.folder = folder
        frameInterval = .microseconds(1_000_000 / max(1, frameRate))
        blank = GreyImage(width: width, height: height, pixels: [UInt8](repeating: 200, count: width * height))
    }

    public var name: String { "folder \(folder)" }

    public func open() throws(CaptureError) {
        var info = stat()
        guard stat(folder, &info) == 0 else { throw .noDevice(folder) }
        opened = true
    }

    public func withNextFrame<T>(timeout: Duration, _ body: (UnsafePointer<UInt8>, Int, Int) -> T) throws(CaptureError) -> T {
        guard opened else { throw .noDevice(folder) }
        var pause = timespec(tv_sec: Int(frameInterval.components.seconds), tv_nsec: Int(frameInterval.components.attoseconds / 1_000_000_000))
        nanosleep(&pause, nil)
        guard let images = Self.pgmFiles(in: folder) else { throw .noDevice(folder) }
        var image = blank
        if !images.isEmpty {
            let path = folder + "/" + images[next % images.count]
            next &+= 1
            if let loaded = load(path) { image = loaded }
        }
        return image.pixels.withUnsafeBufferPointer { body($0.baseAddress!, image.width, image.height) }
    }

    /// The folder's *.pgm names, sorted; nil when the folder is gone. Plain POSIX calls: this
    /// runs for every frame, and Foundation's file APIs would grow the daemon's memory.
    static func pgmFiles(in folder: String) -> [String]? {
        guard let directory = opendir(folder) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".pgm") { names.append(name) }
        }
        return names.sorted()
    }

    private func load(_ path: String) -> GreyImage? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        if let cached = cache[path], cached.modified == modified { return cached.image }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count == bytes.count, let image = try? GreyImage(pgm: bytes) else { return nil }
        if cache.count > 32 { cache.removeAll() }
        cache[path] = (modified, image)
        return image
    }

    public func close() { opened = false }
}

/// Dry-run GPIO: every change is printed on stdout, and with a log file also written there as
/// one JSON object a line (`{"ms":1234,"line":"relay","value":1}`) for tests to read.
public final class GPIOTimeline: Sendable {
    private let output: OutputFile?
    private let timekeeper: any Timekeeper
    private let printToTerminal: Bool
    private let lock = Mutex(())

    public init(logPath: String?, timekeeper: any Timekeeper, printToTerminal: Bool = true) throws {
        if let logPath {
            guard let file = OutputFile(path: logPath) else { throw DryRunError(description: "cannot write the GPIO log \(logPath)") }
            output = file
        } else {
            output = nil
        }
        self.timekeeper = timekeeper
        self.printToTerminal = printToTerminal
    }

    func record(line: String, value: Bool) {
        let ms = timekeeper.now().wholeMilliseconds
        // The system clock too: what another process's log can be compared with.
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let wallMs = Int64(wall.tv_sec) * 1000 + Int64(wall.tv_nsec) / 1_000_000
        lock.withLock { _ in
            output?.write("{\"ms\":\(ms),\"wall\":\(wallMs),\"line\":\"\(line)\",\"value\":\(value ? 1 : 0)}\n")
            if printToTerminal {
                // Plain string padding: String(format:) would load Foundation's formatting code.
                let time = String(ms)
                let name = line + String(repeating: " ", count: max(0, 5 - line.count))
                POSIXOutput.write(
                    "GPIO \(String(repeating: " ", count: max(0, 8 - time.count)))\(time) ms  \(name) \(value ? "ON" : "off")\n",
                    to: POSIXOutput.standardOutput
                )
            }
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

/// A dry-run part that cannot start (its log file cannot be written).
public struct DryRunError: Error, CustomStringConvertible {
    public let description: String
}

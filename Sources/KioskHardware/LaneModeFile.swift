import GatehouseCore
import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// A lane mode kept in a file, read every 250 ms: the box's setting (`gate-kiosk mode`, in the
/// state directory, so a lane locked for maintenance stays locked after a reboot) or a dry
/// run's key switch (`--inputs DIR/mode`). A missing or empty file sets no mode; a name no mode
/// has reads as out of order, so a garbled setting never leaves a lane in free passage.
public struct LaneModeFile: LaneModeInput {
    public let path: String
    /// The word that clears the setting: `remote` for the box's file, `normal` for a key switch
    /// (whose normal position leaves the lane to the others).
    public let clearWord: String
    static let poll: Duration = .milliseconds(250)

    public init(path: String, clearWord: String) {
        self.path = path
        self.clearWord = clearWord
    }

    public func modes() -> AsyncStream<LaneMode?> {
        AsyncStream { continuation in
            let task = Task {
                var reported: LaneMode??
                while !Task.isCancelled {
                    let mode = read()
                    if reported == nil || reported! != mode {
                        reported = .some(mode)
                        continuation.yield(mode)
                    }
                    try? await Task.sleep(for: Self.poll)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func read() -> LaneMode? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = Glibc.read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let word = String(decoding: buffer.prefix(count).filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }, as: UTF8.self)
        if word.isEmpty || word == clearWord { return nil }
        return LaneMode(rawValue: word) ?? .outOfOrder
    }

    /// Writes `word` (a mode's name, or `clearWord`) so that a reader never sees half of it.
    public static func write(_ word: String, to path: String) throws(LaneModeFileError) {
        let temporary = path + ".new"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw LaneModeFileError(path: temporary, errno: errno) }
        let bytes = Array((word + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else { throw LaneModeFileError(path: temporary, errno: errno) }
        guard rename(temporary, path) == 0 else { throw LaneModeFileError(path: path, errno: errno) }
    }
}

public struct LaneModeFileError: Error, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}

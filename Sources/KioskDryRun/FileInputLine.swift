import FoundationEssentials
import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// Dry-run input: a file holding `1` while the input is asserted (an alarm, a passage) and `0`
/// while it is not, read every 10 ms so a test or a technician can drive it. A missing file is
/// `missing` (for a normally-closed alarm: a cut wire); anything else in it is a broken line.
public struct FileInputLine: InputLine {
    public let name: String
    public let path: String
    public let missing: InputLevel
    public let debounce: Duration
    static let pollInterval: Duration = .milliseconds(10)

    public init(name: String, path: String, missing: InputLevel, debounce: Duration) {
        self.name = name
        self.path = path
        self.missing = missing
        self.debounce = debounce
    }

    public func levels() -> AsyncStream<InputLevel> {
        AsyncStream { continuation in
            let task = Task {
                var reported: InputLevel?
                while !Task.isCancelled {
                    let level = currentLevel()
                    if level != reported {
                        // Bounce: the level must still read so after the debounce time.
                        if reported != nil, debounce > .zero {
                            try? await Task.sleep(for: debounce)
                            guard currentLevel() == level else { continue }
                        }
                        reported = level
                        continuation.yield(level)
                    }
                    try? await Task.sleep(for: Self.pollInterval)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Plain POSIX reads: this runs a hundred times a second.
    func currentLevel() -> InputLevel {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno == ENOENT ? missing : .broken("\(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = Glibc.read(descriptor, &buffer, buffer.count)
        guard count >= 0 else { return .broken("\(path): \(String(cString: strerror(errno)))") }
        let text = String(decoding: buffer.prefix(count).filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }, as: UTF8.self)
        switch text {
        case "1": return .asserted
        case "0": return .clear
        case let other: return .broken("\(path) holds '\(other.prefix(8))', not 0 or 1")
        }
    }
}

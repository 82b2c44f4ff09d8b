#if canImport(Glibc)
import Glibc
#endif

/// Writes to a file descriptor with plain write(2): what FileHandle did for us, without linking
/// full Foundation into the daemon (see KioskCore/Text.swift for why).
public enum POSIXOutput {
    public static let standardOutput: Int32 = 1
    public static let standardError: Int32 = 2

    /// Writes all of `bytes`, retrying short writes and EINTR. Returns false on any other error
    /// (a closed pipe, a full disk): the caller decides whether that matters.
    @discardableResult
    public static func write(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    @discardableResult
    public static func write(_ text: String, to descriptor: Int32) -> Bool {
        write(Array(text.utf8), to: descriptor)
    }
}

/// A file opened for writing (created or truncated), closed when released.
public final class OutputFile: Sendable {
    public let descriptor: Int32

    public init?(path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    public func write(_ text: String) { POSIXOutput.write(text, to: descriptor) }

    deinit { close(descriptor) }
}

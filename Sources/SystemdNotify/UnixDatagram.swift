#if canImport(Glibc)
import Glibc
#endif

/// Sends datagrams to an AF_UNIX socket by path, or by abstract name when the path starts
/// with '@' (how systemd may hand out NOTIFY_SOCKET). Thread-safe: each send is one sendto().
public final class UnixDatagramSender: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    public init?(path: String) {
        guard !path.isEmpty, path.utf8.count < 108 else { return nil }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        self.path = path
        fd = descriptor
    }

    deinit { close(fd) }

    /// Sends one datagram; returns errno on failure, 0 on success.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(path.utf8)
        let abstract = name.first == UInt8(ascii: "@")
        if abstract { name[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in name.enumerated() { raw[index] = byte }
        }
        // For an abstract name the length must not count trailing NULs; for a path it may
        // include the terminator.
        let length = MemoryLayout<sa_family_t>.size + name.count + (abstract ? 0 : 1)
        let sent = bytes.withUnsafeBytes { body in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
                }
            }
        }
        return sent < 0 ? errno : 0
    }
}

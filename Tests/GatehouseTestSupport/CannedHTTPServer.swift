import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A server on 127.0.0.1 that answers every request with the same bytes: a hostile or broken
/// service, for testing what a client does with an answer it must not trust.
public final class CannedHTTPServer: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init(status: Int, body: String, contentType: String = "application/json") throws {
        let (fd, port) = ServiceProcess.loopbackSocket(listening: 8)
        guard fd >= 0 else { throw HTTPClientError("socket: errno \(errno)") }
        self.fd = fd
        self.port = port
        let bodyBytes = Array(body.utf8)
        let answer =
            Array("HTTP/1.1 \(status) X\r\nContent-Type: \(contentType)\r\nContent-Length: \(bodyBytes.count)\r\nConnection: close\r\n\r\n".utf8)
            + bodyBytes
        Thread {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                // Read the request head and whatever body came with it, then answer.
                var seen: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 4096)
                var timeout = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                while seen.firstRange(of: [13, 10, 13, 10]) == nil {
                    let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    seen += chunk[0..<n]
                }
                _ = answer.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }.start()
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

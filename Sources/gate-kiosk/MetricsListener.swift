import Dispatch
import FoundationEssentials
import KioskCore
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The latest figures the heartbeat rendered, for the box's `/metrics`.
final class LatestMetrics: Sendable {
    private let text = Mutex<String?>(nil)

    func publish(_ metrics: String) { text.withLock { $0 = metrics } }
    var current: String? { text.withLock { $0 } }
}

/// The box's own `/metrics` (`metrics_listen`): the heartbeat's figures (as in the textfile) to
/// a Prometheus server that scrapes the box directly.
///
/// A scrape every few seconds is all it serves, so it answers one connection at a time on a
/// thread of its own, with no web framework in the daemon's memory: a request head of at most
/// 4 KB that must arrive within 2 s (a client that sends nothing cannot hold it), `GET /metrics`
/// or `HEAD /metrics` answered, anything else refused, and the connection closed.
struct MetricsListener: Service {
    let address: ListenAddress
    let latest: LatestMetrics
    let logger: Logger

    func run() async throws {
        // A LAN address may not be there yet at boot (DHCP), and /metrics is no reason to keep
        // a gate shut: the kiosk runs on, and binds once it can.
        let (address, logger) = (address, logger)
        let bound: Int32? = await cancelWhenGracefulShutdown {
            var said = false
            while !Task.isCancelled {
                do {
                    return try Self.listen(on: address)
                } catch {
                    if !said {
                        logger.error("No /metrics yet: the address cannot be bound; trying again every 10 s", metadata: ["error": "\(error)"])
                    }
                    said = true
                    try? await Task.sleep(for: .seconds(10))
                }
            }
            return nil
        }
        guard let socket = bound else { return }
        logger.info("Serving /metrics", metadata: ["metrics.listen": "\(address)"])
        let stopping = StopFlag()
        let latest = latest
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue(label: "gate-kiosk.metrics").async {
                    Self.serve(socket, latest: latest, until: stopping)
                    done.resume()
                }
            }
        } onGracefulShutdown: {
            stopping.stop()
        }
        close(socket)
    }

    static func listen(on address: ListenAddress) throws -> Int32 {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let socket = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw ListenError(address: address, errno: errno) }
        var yes: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var parsed = false
        var bound: Int32 = -1
        if address.isIPv6 {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = in_port_t(UInt16(address.port).bigEndian)
            parsed = inet_pton(AF_INET6, address.host, &socketAddress.sin6_addr) == 1
            if parsed { bound = bind(socket, to: &socketAddress) }
        } else {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(address.port).bigEndian)
            parsed = inet_pton(AF_INET, address.host, &socketAddress.sin_addr) == 1
            if parsed { bound = bind(socket, to: &socketAddress) }
        }
        guard bound == 0, Glibc.listen(socket, 8) == 0 else {
            let error = parsed ? errno : EINVAL
            close(socket)
            throw ListenError(address: address, errno: error)
        }
        return socket
    }

    /// `bind` with an IPv4 or an IPv6 socket address.
    private static func bind<Address>(_ socket: Int32, to address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    /// Accepts until `stopping` (looked at every 250 ms).
    static func serve(_ socket: Int32, latest: LatestMetrics, until stopping: StopFlag) {
        while !stopping.stopped {
            var ready = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 250) > 0 else { continue }
            let connection = accept(socket, nil, nil)
            guard connection >= 0 else { continue }
            answer(connection, latest: latest)
            close(connection)
        }
    }

    /// Reads one request head and answers it.
    static func answer(_ connection: Int32, latest: LatestMetrics) {
        var limit = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var head = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1024)
        // The head ends at the first blank line (a body may follow in the same read).
        while head.count < 4096, !head.contains(Array("\r\n\r\n".utf8)), !head.contains(Array("\n\n".utf8)) {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            head += buffer[0..<count]
        }
        let line = String(decoding: head.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let words = line.split(separator: " ")
        let response: (status: String, body: String, extra: String)
        if words.count != 3 || !words[2].hasPrefix("HTTP/1.") {
            response = ("400 Bad Request", "not an HTTP/1 request\n", "")
        } else if words[0] != "GET" && words[0] != "HEAD" {
            response = ("405 Method Not Allowed", "only GET and HEAD\n", "Allow: GET, HEAD\r\n")
        } else if words[1] != "/metrics" && !words[1].hasPrefix("/metrics?") {
            response = ("404 Not Found", "the figures are at /metrics\n", "")
        } else if let text = latest.current {
            response = ("200 OK", text, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n")
        } else {
            response = ("503 Service Unavailable", "no figures yet: the first come 2 s after the start\n", "Retry-After: 2\r\n")
        }
        let body = Array(response.body.utf8)
        var out = Array(
            "HTTP/1.1 \(response.status)\r\n\(response.extra)Content-Length: \(body.count)\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
                .utf8
        )
        if words.first != "HEAD" { out += body }
        var sent = 0
        while sent < out.count {
            let count = out[sent...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            sent += count
        }
        // Closing with a request body still unread would reset the connection, and the client
        // could lose the answer: say the answer is complete, then read what is left, briefly.
        shutdown(connection, Int32(SHUT_WR))
        var brief = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &brief, socklen_t(MemoryLayout<timeval>.size))
        var drained = 0
        while drained < 65536 {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { break }
            drained += count
        }
    }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func stop() { flag.store(true, ordering: .relaxed) }
    var stopped: Bool { flag.load(ordering: .relaxed) }
}

struct ListenError: Error, CustomStringConvertible {
    let address: ListenAddress
    let errno: Int32
    var description: String { "metrics_listen \(address): \(String(cString: strerror(errno)))" }
}

extension Array where Element == UInt8 {
    fileprivate func contains(_ part: [UInt8]) -> Bool { firstRange(of: part) != nil }
}

import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 UDP endpoint: where a peer listens, or where a datagram came from.
public struct PeerEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// Network byte order, as in `sockaddr_in`.
    var address: UInt32
    var port: UInt16

    public init?(_ listen: ListenAddress) {
        guard !listen.isIPv6 else { return nil }
        var parsed = in_addr()
        guard inet_pton(AF_INET, listen.host, &parsed) == 1, (1...65535).contains(listen.port) else { return nil }
        address = parsed.s_addr
        port = UInt16(listen.port)
    }

    init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    init(_ socketAddress: sockaddr_in) {
        address = socketAddress.sin_addr.s_addr
        port = UInt16(bigEndian: socketAddress.sin_port)
    }

    var socketAddress: sockaddr_in {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr.s_addr = address
        return socketAddress
    }

    public var description: String {
        let bytes = withUnsafeBytes(of: address) { Array($0) }
        return "\(bytes[0]).\(bytes[1]).\(bytes[2]).\(bytes[3]):\(port)"
    }

    /// The group gates find each other in with `peer_discovery = on`: organisation-local scope
    /// (RFC 2365), so routers at the site's edge do not carry it further.
    public static func discoveryGroup(port: UInt16) -> PeerEndpoint {
        PeerEndpoint(ListenAddress("239.255.74.47:\(port)")!)!
    }
}

public struct PeerSocketError: Error, CustomStringConvertible {
    public let description: String
}

/// The gate's one UDP socket for its peers: bound to `peer_listen`, sending from the same port so
/// a peer can answer the address it sees. Sends never block: a full buffer drops the datagram
/// (a peer that is down or slow costs nothing, and hellos ask again for what was lost).
final class PeerSocket: Sendable {
    let descriptor: Int32

    init(listen: PeerEndpoint, joinDiscovery: Bool) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw PeerSocketError(description: "socket(): \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        // Datagrams to the group reach only a socket bound to any address (or the group's).
        var address = (joinDiscovery ? PeerEndpoint(address: 0, port: listen.port) : listen).socketAddress
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw PeerSocketError(description: "cannot listen on \(listen) (peer_listen): \(reason)")
        }
        if joinDiscovery {
            var membership = ip_mreq()
            membership.imr_multiaddr.s_addr = PeerEndpoint.discoveryGroup(port: listen.port).address
            membership.imr_interface.s_addr = listen.address
            guard setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &membership, socklen_t(MemoryLayout<ip_mreq>.size)) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw PeerSocketError(description: "cannot join the discovery group (peer_discovery): \(reason)")
            }
            var loop: UInt8 = 0
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, 1)
            if listen.address != 0 {
                var interface = in_addr(s_addr: listen.address)
                setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &interface, socklen_t(MemoryLayout<in_addr>.size))
            }
        }
        descriptor = fd
    }

    /// False when the kernel refused it at once (no route, a full buffer): the caller counts it.
    @discardableResult
    func send(_ bytes: [UInt8], to endpoint: PeerEndpoint) -> Bool {
        var address = endpoint.socketAddress
        let sent = bytes.withUnsafeBytes { body in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, body.baseAddress, body.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return sent == bytes.count
    }

    /// The next datagram, or nil after `timeoutMilliseconds` without one (or on a transient error).
    func receive(timeoutMilliseconds: Int32, into buffer: inout [UInt8]) -> (bytes: ArraySlice<UInt8>, from: PeerEndpoint)? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = buffer.withUnsafeMutableBytes { body in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(descriptor, body.baseAddress, body.count, Int32(MSG_DONTWAIT | MSG_TRUNC), $0, &length)
                }
            }
        }
        guard count >= 0 else { return nil }
        // MSG_TRUNC returns the datagram's real size: one bigger than the buffer is not ours,
        // and comes back empty (malformed).
        return (count > buffer.count ? [] : buffer[..<count], PeerEndpoint(from))
    }

    deinit { close(descriptor) }
}

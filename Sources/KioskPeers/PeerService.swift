import KioskCore
import KioskHardware
import KioskOffline
import Logging
import ServiceLifecycle
import Synchronization

/// The peer exchange as a service: the socket's datagrams read on a thread of its own (a flood
/// of them never reaches the decision loop), and the exchange's clock every quarter second.
public struct PeerService: Service {
    public let exchange: PeerExchange
    let socket: PeerSocket

    /// Opens the socket on `listen` (joining the discovery group when asked); throws with what
    /// went wrong, e.g. the port already taken.
    public static func make(
        listen: ListenAddress,
        settings: PeerExchange.Settings,
        snapshot: OfflineSnapshot,
        clock: TrustedClock,
        logger: Logger
    ) throws -> PeerService {
        guard let endpoint = PeerEndpoint(listen) else { throw PeerSocketError(description: "peer_listen must be an IPv4 address and port") }
        let socket = try PeerSocket(listen: endpoint, joinDiscovery: settings.discovery != nil)
        let exchange = try PeerExchange(settings: settings, snapshot: snapshot, clock: clock, logger: logger) { datagram, target in
            socket.send(datagram, to: target)
        }
        return PeerService(exchange: exchange, socket: socket)
    }

    public func run() async throws {
        let stop = Atomic<Bool>(false)
        let (exchange, socket) = (exchange, socket)
        async let ended: Void = withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
            DedicatedThread.start(name: "gate-kiosk-peer") {
                var buffer = [UInt8](repeating: 0, count: PeerMessage.maximumSize)
                while !stop.load(ordering: .relaxed) {
                    guard let (bytes, from) = socket.receive(timeoutMilliseconds: 200, into: &buffer) else { continue }
                    exchange.receive(bytes, from: from)
                }
                ended.resume()
            }
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                exchange.tick()
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        stop.store(true, ordering: .relaxed)
        await ended
    }
}

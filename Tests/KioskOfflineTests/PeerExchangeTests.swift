import Foundation
import GatehouseCore
import KioskCore
import Logging
import Synchronization
import Testing

@testable import KioskOffline
@testable import KioskPeers

/// Two gates' exchanges joined by an in-memory wire the test pumps: what one sends reaches the
/// other only when the test says, or never (a cable out).
@Suite struct PeerExchangeTests {
    final class Wire: Sendable {
        let queue = Mutex<[(bytes: [UInt8], from: PeerEndpoint, to: PeerEndpoint)]>([])
        let cut = Atomic<Bool>(false)

        func send(from: PeerEndpoint) -> @Sendable ([UInt8], PeerEndpoint) -> Bool {
            { bytes, to in
                if !self.cut.load(ordering: .relaxed) { self.queue.withLock { $0.append((bytes, from, to)) } }
                return true
            }
        }

        /// Delivers until nothing is left in flight.
        func pump(_ gates: [PeerEndpoint: PeerExchange]) {
            while true {
                let batch = queue.withLock { queue in
                    defer { queue.removeAll() }
                    return queue
                }
                if batch.isEmpty { return }
                for datagram in batch { gates[datagram.to]?.receive(datagram.bytes[...], from: datagram.from) }
            }
        }
    }

    struct Gate {
        let snapshot: OfflineSnapshot
        let exchange: PeerExchange
        let decider: SnapshotDecider
    }

    static let codes = (1...3).map(Tickets.code)
    static let a = PeerEndpoint(ListenAddress("10.1.0.11:7447")!)!
    static let b = PeerEndpoint(ListenAddress("10.1.0.12:7447")!)!

    static func gate(
        _ name: String,
        at me: PeerEndpoint,
        peer: PeerEndpoint,
        wire: Wire,
        folder: Folder,
        catchUp: Duration = .seconds(30)
    ) throws -> Gate {
        let snapshot = try OfflineSnapshot(path: folder.path + "/\(name).sqlite")
        let clock = FakeClock()
        let page = TicketSyncPage(
            eventId: Tickets.event,
            serverTime: 1_700_000_000_000,
            cursor: "3",
            complete: true,
            tickets: codes.enumerated().map { Tickets.synced($0.element, number: $0.offset + 1) },
            peerKey: SyncedPeerKey(id: "a2V5MQ", key: Base64URL.encode(Array(repeating: 7, count: 32)))
        )
        try snapshot.apply(page, contact: clock.trusted.contact(serverTime: page.serverTime))
        var settings = PeerExchange.Settings(
            deviceID: "device-\(name)",
            gateID: "gate-\(name)",
            peers: [peer],
            discovery: nil,
            maxAge: .seconds(3600)
        )
        settings.catchUpLimit = catchUp
        let exchange = try PeerExchange(
            settings: settings,
            snapshot: snapshot,
            clock: clock.trusted,
            logger: Logger(label: "test"),
            send: wire.send(from: me)
        )
        var decider = SnapshotDecider(snapshot: snapshot, clock: clock.trusted, maxAge: .seconds(3600), gateID: "gate-\(name)")
        decider.peers = exchange
        return Gate(snapshot: snapshot, exchange: exchange, decider: decider)
    }

    static func answer(_ decision: OfflineDecision) -> CheckinAnswer? {
        if case .decided(let answer) = decision { return answer }
        return nil
    }

    @Test func an_admission_reaches_the_peer_and_a_take_back_withdraws_it() throws {
        let folder = try Folder()
        let wire = Wire()
        let gateA = try Self.gate("a", at: Self.a, peer: Self.b, wire: wire, folder: folder)
        let gateB = try Self.gate("b", at: Self.b, peer: Self.a, wire: wire, folder: folder)
        let gates = [Self.a: gateA.exchange, Self.b: gateB.exchange]
        // Until each has heard the other out, neither decides offline.
        guard case .cannotDecide(let why) = gateB.decider.decide(qrData: Self.codes[0].text, scanId: "s-0") else {
            Issue.record("decided before catching up")
            return
        }
        #expect(why.contains("catching up with peer gate 10.1.0.11:7447"))
        gateA.exchange.tick()
        gateB.exchange.tick()
        wire.pump(gates)
        #expect(gateA.exchange.notReady == nil && gateB.exchange.notReady == nil)

        // A admits; B, once the record is through, refuses naming A.
        #expect(Self.answer(gateA.decider.decide(qrData: Self.codes[0].text, scanId: "s-1"))?.result == .valid)
        wire.pump(gates)
        let refused = Self.answer(gateB.decider.decide(qrData: Self.codes[0].text, scanId: "s-2"))
        #expect(
            refused?.result == .alreadyUsed && refused?.firstUsedGate == "gate-a" && refused?.firstUsedByPeer == true,
            "\(String(describing: refused))"
        )
        // Learnt, not B's own: nothing of it is B's to upload.
        #expect(try gateB.snapshot.pendingUploads(limit: 10).isEmpty)

        // Nobody went through A's turnstile: A takes the admission back, and B hears that too.
        #expect(try gateA.snapshot.annul(scanID: "s-1") == .dropped)
        gateA.exchange.tick()
        wire.pump(gates)
        #expect(Self.answer(gateB.decider.decide(qrData: Self.codes[0].text, scanId: "s-3"))?.result == .valid)
        // And now A refuses it, naming B.
        wire.pump(gates)
        #expect(Self.answer(gateA.decider.decide(qrData: Self.codes[0].text, scanId: "s-4"))?.firstUsedGate == "gate-b")

        // A datagram lost on the way is asked for again by the next hello.
        wire.cut.store(true, ordering: .relaxed)
        #expect(Self.answer(gateA.decider.decide(qrData: Self.codes[1].text, scanId: "s-5"))?.result == .valid)
        wire.cut.store(false, ordering: .relaxed)
        usleep(300_000)  // a peer answers the same gate at most every 250 ms
        gateB.exchange.hello(Self.a, context: gateB.exchange.context()!)
        wire.pump(gates)
        #expect(Self.answer(gateB.decider.decide(qrData: Self.codes[1].text, scanId: "s-6"))?.result == .alreadyUsed)
        #expect(gateB.exchange.figures.dropped.isEmpty, "\(gateB.exchange.figures)")
    }

    @Test func a_gate_whose_peers_do_not_answer_decides_alone_after_the_limit() async throws {
        let folder = try Folder()
        let wire = Wire()
        wire.cut.store(true, ordering: .relaxed)
        let gateB = try Self.gate("b", at: Self.b, peer: Self.a, wire: wire, folder: folder, catchUp: .milliseconds(300))
        #expect(gateB.exchange.notReady != nil)
        if case .decided = gateB.decider.decide(qrData: Self.codes[0].text, scanId: "s-1") { Issue.record("decided while catching up") }
        try await Task.sleep(for: .milliseconds(400))
        gateB.exchange.tick()
        #expect(gateB.exchange.notReady == nil)
        #expect(Self.answer(gateB.decider.decide(qrData: Self.codes[0].text, scanId: "s-2"))?.result == .valid)
    }
}

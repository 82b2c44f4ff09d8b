import Foundation
import GatehouseCore
import GatehouseImage
import GatehouseTestSupport
import KioskCore
import KioskDryRun
import Logging
import QRRendering
import ServiceLifecycle
import Synchronization
import SystemdNotify
import Testing

@testable import KioskHardware
@testable import gate_kiosk

/// The kiosk's service group with dry-run camera and recorded lines: whatever ends it — a
/// graceful shutdown in the middle of a relay pulse, a cancellation, a check-in that never
/// answers — the relay ends closed and the lights off, within the bound.
@Suite struct KioskLifecycleTests {
    /// A line that remembers its level and every change.
    final class LevelLine: OutputLine, Sendable {
        let name: String
        private let changes = Mutex<[Bool]>([])
        init(_ name: String) { self.name = name }
        func set(_ active: Bool) throws { changes.withLock { $0.append(active) } }
        var isActive: Bool { changes.withLock { $0.last ?? false } }
        var everActive: Bool { changes.withLock { $0.contains(true) } }
    }

    /// Answers `valid` after `latency`; `nil` never answers (but, like the curl client, returns
    /// when cancelled).
    final class SlowClient: CheckinClient {
        let latency: Duration?
        let calls = Atomic<Int>(0)
        init(latency: Duration?) { self.latency = latency }

        func checkin(qrData: String, scanId: String, direction: ScanDirection) async -> CheckinReply {
            calls.add(1, ordering: .relaxed)
            guard let latency else {
                try? await Task.sleep(for: .seconds(3600))
                return .unreachable("cancelled")
            }
            try? await Task.sleep(for: latency)
            return .answered(
                CheckinAnswer(
                    result: .valid,
                    message: "Valid — entry allowed",
                    ticket: TicketSummary(id: "T1", number: 1, holderName: nil, ticketType: nil)
                )
            )
        }

        func probe() async -> CheckinReply { .unreachable("not used") }
    }

    struct Rig {
        let folder: String
        let green = LevelLine("green")
        let red = LevelLine("red")
        let relay = LevelLine("relay")
        let daemon: KioskDaemon

        init(
            client: any CheckinClient,
            relayPulse: Duration = .seconds(20),
            source: ((String) -> any FrameSource)? = nil,
            notifier: SystemdNotifier = SystemdNotifier(environment: [:])
        ) throws {
            folder = NSTemporaryDirectory() + "/kiosk-lifecycle-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let code = "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            let qr = try QRMatrix(encoding: code).greyImage(scale: 4)
            var pixels = [UInt8](repeating: 220, count: 640 * 480)
            for y in 0..<qr.height { for x in 0..<qr.width { pixels[(y + 60) * 640 + x + 160] = qr.pixels[y * qr.width + x] } }
            try #require(
                FileManager.default.createFile(
                    atPath: folder + "/frame.pgm",
                    contents: Data(GreyImage(width: 640, height: 480, pixels: pixels).pgm())
                )
            )
            var configuration = try KioskConfiguration.resolve(
                file: [:],
                environment: [:],
                overrides: ["server_url": "http://127.0.0.1:9", "device_id": "D1", "gate_id": "north-1"]
            )
            // A long pulse, so the shutdown surely lands inside it.
            configuration.relayPulse = relayPulse
            configuration.greenTime = max(configuration.greenTime, relayPulse)
            let outputs = LaneOutputs(green: green, red: red, relay: relay)
            var daemon = KioskDaemon(
                configuration: configuration,
                parts: .init(
                    source: source?(folder) ?? FolderFrameSource(folder: folder, frameRate: 15, width: 640, height: 480),
                    decoder: LiveQRDecoder(),
                    outputs: outputs,
                    client: client
                ),
                notifier: notifier,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            daemon.shutdownLimit = .seconds(2)
            daemon.cancellationLimit = .seconds(5)
            self.daemon = daemon
        }

        var isSafe: Bool { !green.isActive && !red.isActive && !relay.isActive }

        func waitUntil(_ limit: Duration = .seconds(10), _ condition: () -> Bool) async throws {
            let end = ContinuousClock.now + limit
            while !condition() {
                guard ContinuousClock.now < end else { throw CancellationError() }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Frames from a folder until `hangAfter` reads, then a read that does not return until
    /// released: a camera driver stuck in an ioctl.
    final class StuckSource: FrameSource, @unchecked Sendable {
        let inner: FolderFrameSource
        let hangAfter: Int
        private var reads = 0
        let release = DispatchSemaphore(value: 0)

        init(folder: String, hangAfter: Int) {
            inner = FolderFrameSource(folder: folder, frameRate: 15, width: 640, height: 480)
            self.hangAfter = hangAfter
        }
        var name: String { "stuck camera" }
        func open() throws(CaptureError) { try inner.open() }
        func close() { inner.close() }
        func withNextFrame<T>(timeout: Duration, _ body: (UnsafePointer<UInt8>, Int, Int) -> T) throws(CaptureError) -> T {
            reads += 1
            if reads == hangAfter { release.wait() }
            return try inner.withNextFrame(timeout: timeout, body)
        }
    }

    @Test func a_hung_camera_read_asks_systemd_for_a_restart_once() async throws {
        let sink = try DatagramSink()
        let stuck = Mutex<StuckSource?>(nil)
        let rig = try Rig(
            client: SlowClient(latency: .milliseconds(5)),
            source: { folder in
                let source = StuckSource(folder: folder, hangAfter: 5)
                stuck.withLock { $0 = source }
                return source
            },
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "2000000"])
        )
        let group = rig.daemon.serviceGroup(signals: [])
        let running = Task { try await group.run() }
        // Read the notify socket off the cooperative pool (each receive blocks up to 2 s).
        let messages: [String] = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var seen: [String] = []
                let end = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < end, !seen.contains(where: { $0.hasPrefix("WATCHDOG=trigger") }) {
                    if let message = sink.receive() { seen.append(String(decoding: message, as: UTF8.self)) }
                }
                // Two more seconds: a second trigger or a ping would show here.
                let after = ContinuousClock.now + .seconds(2)
                while ContinuousClock.now < after { if let message = sink.receive() { seen.append(String(decoding: message, as: UTF8.self)) } }
                continuation.resume(returning: seen)
            }
        }
        stuck.withLock { _ = $0?.release.signal() }
        await group.triggerGracefulShutdown()
        try await running.value
        let trigger = try #require(messages.firstIndex { $0.hasPrefix("WATCHDOG=trigger") }, "no WATCHDOG=trigger in \(messages)")
        #expect(messages[trigger].contains("STATUS=HUNG: "), "the status says why")
        #expect(messages.contains("WATCHDOG=1"), "pinged while the loops ran")
        #expect(!messages[(trigger + 1)...].contains { $0.hasPrefix("WATCHDOG") }, "one trigger, and no ping after it")
        #expect(rig.isSafe)
    }

    @Test func a_graceful_shutdown_during_a_relay_pulse_ends_with_the_gate_shut() async throws {
        let rig = try Rig(client: SlowClient(latency: .milliseconds(5)))
        let group = rig.daemon.serviceGroup(signals: [])
        let running = Task { try await group.run() }
        try await rig.waitUntil { rig.relay.isActive }
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ContinuousClock.now - started < .seconds(3), "bounded by the frame timeout, not the 20 s pulse")
        #expect(rig.isSafe, "relay closed, lights off")
    }

    @Test func cancelling_the_kiosk_during_a_relay_pulse_ends_with_the_gate_shut() async throws {
        let rig = try Rig(client: SlowClient(latency: .milliseconds(5)))
        let group = rig.daemon.serviceGroup(signals: [])
        let running = Task { try await group.run() }
        try await rig.waitUntil { rig.relay.isActive }
        running.cancel()
        _ = await running.result
        #expect(rig.isSafe, "relay closed, lights off")
    }

    @Test func a_check_in_that_never_answers_does_not_hold_up_the_shutdown() async throws {
        let client = SlowClient(latency: nil)
        let rig = try Rig(client: client)
        let group = rig.daemon.serviceGroup(signals: [])
        let running = Task { try await group.run() }
        try await rig.waitUntil { client.calls.load(ordering: .relaxed) > 0 }
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(ContinuousClock.now - started < .seconds(4))
        #expect(rig.isSafe && !rig.relay.everActive, "never opened without an answer")
    }
}

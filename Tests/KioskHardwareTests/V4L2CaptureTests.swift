import Foundation
import GatehouseCore
import GatehouseImage
import InMemoryLogging
import KioskCore
import KioskHardware
import Logging
import QRRendering
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real V4L2 capture code against a fake at the ioctl layer that follows the kernel's rules.
@Suite struct V4L2CaptureTests {
    let device = FakeV4L2Device()

    func capture(width: Int = 640, height: Int = 480) -> V4L2Capture {
        V4L2Capture(settings: .init(path: device.path, width: width, height: height, frameRate: 15), device: device)
    }

    func frame(_ marker: UInt8) -> [UInt8] {
        var pixels = [UInt8](repeating: 128, count: 640 * 480)
        pixels[0] = marker
        return pixels
    }

    @Test func frames_flow_and_the_newest_wins() throws {
        let camera = capture()
        try camera.open()
        #expect(device.mappedCount == 4 && device.queuedCount == 4)
        device.deliver(frame(1))
        #expect(try camera.withNextFrame(timeout: .seconds(1)) { pixels, w, h in (pixels[0], w, h) } == (1, 640, 480))
        // Three frames arrived while we were busy: judge the newest, give the others back.
        device.deliver(frame(2))
        device.deliver(frame(3))
        device.deliver(frame(4))
        #expect(try camera.withNextFrame(timeout: .seconds(1)) { pixels, _, _ in pixels[0] } == 4)
        #expect(device.queuedCount == 4, "every buffer is back in the queue")
        // The drain asks poll, never DQBUF on an empty queue: libv4l2 logs each such EAGAIN.
        #expect(device.emptyDequeues == 0)
        camera.close()
        #expect(device.mappedCount == 0 && device.openDescriptors.isEmpty && device.buffers.isEmpty)
    }

    @Test func no_frame_is_a_timeout() throws {
        let camera = capture()
        try camera.open()
        #expect(throws: CaptureError.timeout) { try camera.withNextFrame(timeout: .milliseconds(50)) { _, _, _ in 0 } }
        // EAGAIN from DQBUF is "nothing more ready", not a failure: frames still flow after it.
        device.deliver(frame(9))
        #expect(try camera.withNextFrame(timeout: .seconds(1)) { pixels, _, _ in pixels[0] } == 9)
    }

    @Test func unplug_is_detected_and_replug_recovers_without_leaks() throws {
        let camera = capture()
        try camera.open()
        device.deliver(frame(1))
        _ = try camera.withNextFrame(timeout: .seconds(1)) { _, _, _ in 0 }
        device.unplug()
        #expect(throws: CaptureError.noDevice(device.path)) { try camera.withNextFrame(timeout: .seconds(1)) { _, _, _ in 0 } }
        camera.close()
        #expect(device.mappedCount == 0, "mappings released even though the device is gone")
        #expect(throws: CaptureError.noDevice(device.path)) { try camera.open() }
        device.replug()
        for _ in 0..<20 {
            try camera.open()
            device.deliver(frame(5))
            #expect(try camera.withNextFrame(timeout: .seconds(1)) { pixels, _, _ in pixels[0] } == 5)
            camera.close()
        }
        #expect(device.mappedCount == 0 && device.openDescriptors.isEmpty)
    }

    @Test func a_camera_without_grey_is_refused_cleanly() {
        device.supportsGrey = false
        let camera = capture()
        #expect { try camera.open() } throws: { error in
            guard case CaptureError.unsupported(let what) = error else { return false }
            return what.contains("8-bit grey")
        }
        #expect(!camera.isOpen && device.openDescriptors.isEmpty && device.mappedCount == 0)
    }

    @Test func the_driver_may_round_the_size() throws {
        let camera = capture(width: 1200, height: 700)
        try camera.open()
        #expect(camera.width == 1280 && camera.height == 720)
    }

    @Test func the_real_libv4l2_path_reports_a_missing_camera() {
        let camera = V4L2Capture(settings: .init(path: "/dev/gatehouse-no-such-camera", width: 640, height: 480, frameRate: 15))
        #expect(throws: CaptureError.noDevice("/dev/gatehouse-no-such-camera")) { try camera.open() }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/video0"), "no /dev/video0 on this machine"))
    func a_real_camera_gives_grey_frames() throws {
        let camera = V4L2Capture(settings: .init(path: "/dev/video0", width: 640, height: 480, frameRate: 15))
        try camera.open()
        let size = try camera.withNextFrame(timeout: .seconds(3)) { _, w, h in w * h }
        #expect(size > 0)
    }
}

/// The capture loop over the fake: offline once, back within two seconds, codes decoded by zbar.
@Suite struct CaptureLoopTests {
    @Test func unplug_and_replug_during_scanning() async throws {
        let device = FakeV4L2Device()
        let code = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
        let qr = try QRMatrix(encoding: code).greyImage(scale: 6)
        var scene = [UInt8](repeating: 230, count: 640 * 480)
        for y in 0..<qr.height { for x in 0..<qr.width { scene[(y + 60) * 640 + x + 120] = qr.pixels[y * qr.width + x] } }
        let sceneCopy = scene
        device.onIdlePoll = { device.deliver(sceneCopy) }

        let logs = LogStore()
        let seen = Mutex<[(Duration, String)]>([])
        let timekeeper = SystemTimekeeper()
        let health = KioskHealth()
        let loop = CaptureLoop(
            source: V4L2Capture(settings: .init(path: device.path, width: 640, height: 480, frameRate: 15), device: device),
            decoder: LiveQRDecoder(),
            timekeeper: timekeeper,
            health: health,
            logger: logs.logger,
            frameTimeout: .milliseconds(200),
            onScan: { event in seen.withLock { $0.append((event.frameAt, String(decoding: event.payloads[0], as: UTF8.self))) } }
        )
        let thread = Thread { loop.run() }
        thread.start()
        defer { loop.stop() }

        try await waitFor { !seen.withLock { $0.isEmpty } }
        #expect(seen.withLock { $0[0].1 } == code)

        device.unplug()
        try await waitFor { if case .offline = health.camera { return true } else { return false } }
        try await Task.sleep(for: .milliseconds(700))
        #expect(logs.messages.filter { $0 == "Camera offline" }.count == 1, "logged once, not once a retry")

        seen.withLock { $0.removeAll() }
        device.replug()
        let replugged = timekeeper.now()
        try await waitFor(limit: .seconds(3)) { !seen.withLock { $0.isEmpty } }
        let back = seen.withLock { $0[0].0 } - replugged
        #expect(back < .seconds(2), "scanning again \(back) after the camera came back")
        #expect(logs.messages.filter { $0 == "Camera online" }.count == 2)
        loop.stop()
        while thread.isExecuting { try await Task.sleep(for: .milliseconds(10)) }
        #expect(device.mappedCount == 0 && device.openDescriptors.isEmpty)
    }
}

func waitFor(limit: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(limit)")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

final class LogStore: Sendable {
    private let handler: InMemoryLogHandler = {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        return handler
    }()
    var messages: [String] { handler.entries.map(\.message.description) }
    var logger: Logger {
        let handler = self.handler
        return Logger(label: "test") { _ in handler }
    }
}

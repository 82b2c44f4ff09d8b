import FoundationEssentials
import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// Faults a test may switch on through the environment, to see the kiosk's supervisor and
/// systemd deal with what cannot be caused from outside. Only the field rig sets it, through a
/// unit drop-in; a box in service has no reason to.
///
///   GATE_KIOSK_FAULT=hang-capture:SECONDS   after SECONDS of running, the camera read never
///                                           returns (a driver stuck in an ioctl): the capture
///                                           loop stops beating, the watchdog pings stop, and
///                                           systemd restarts the unit after WatchdogSec.
enum FaultInjection {
    static let variable = "GATE_KIOSK_FAULT"

    /// The source to use: `source` itself, or `source` wrapped in the fault asked for. An unknown
    /// or malformed value is a configuration error (exit 78), not a silently healthy kiosk.
    static func frameSource(_ source: any FrameSource, environment: [String: String]) -> any FrameSource {
        guard let value = environment[variable], !value.isEmpty else { return source }
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "hang-capture", let seconds = Int(parts[1]), (0...86_400).contains(seconds) else {
            fail("environment \(variable) = '\(value)' is not allowed: expected hang-capture:SECONDS (0–86400)", code: exitConfigurationError)
        }
        return HangingFrameSource(wrapping: source, after: .seconds(seconds))
    }
}

/// Delivers the wrapped source's frames until the deadline, then blocks forever in the next read.
final class HangingFrameSource: FrameSource {
    private let source: any FrameSource
    private let hangAt: ContinuousClock.Instant

    init(wrapping source: any FrameSource, after delay: Duration) {
        self.source = source
        self.hangAt = .now + delay
    }

    var name: String { source.name }
    func open() throws(CaptureError) { try source.open() }
    func close() { source.close() }

    func withNextFrame<T>(timeout: Duration, _ body: (UnsafePointer<UInt8>, Int, Int) -> T) throws(CaptureError) -> T {
        if ContinuousClock.now >= hangAt {
            // Written straight to stderr (the journal): the logger may itself be what hangs next.
            let message = Array("gate-kiosk: test fault \(FaultInjection.variable): the capture read hangs now\n".utf8)
            _ = message.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            while true { sleep(3600) }
        }
        return try source.withNextFrame(timeout: timeout, body)
    }
}

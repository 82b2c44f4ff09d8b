import Logging
import Synchronization

/// Codes seen in one frame.
public struct ScanEvent: Sendable {
    public var payloads: [[UInt8]]
    /// When the frame was taken off the camera (before decoding).
    public var frameAt: Duration

    public init(payloads: [[UInt8]], frameAt: Duration) {
        self.payloads = payloads
        self.frameAt = frameAt
    }
}

/// Grabs frames and decodes them on its own thread (V4L2 poll and zbar block); hands what it
/// reads to the async side through `onScan`. Never exits for a missing or failing camera: it
/// reports the state once per change and reopens with back-off.
public final class CaptureLoop: @unchecked Sendable {
    private let source: any FrameSource
    private let decoder: any QRDecoder
    private let timekeeper: any Timekeeper
    private let health: KioskHealth
    private let logger: Logger
    private let frameTimeout: Duration
    private let onScan: @Sendable (ScanEvent) -> Void
    private let stopRequested = Atomic<Bool>(false)

    /// Back-off between reopen attempts: short at first, never over a second, so the kiosk is
    /// scanning within about a second of the camera coming back.
    static let backoff: [Duration] = [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1)]

    public init(
        source: any FrameSource,
        decoder: any QRDecoder,
        timekeeper: any Timekeeper,
        health: KioskHealth,
        logger: Logger,
        frameTimeout: Duration = .seconds(2),
        onScan: @escaping @Sendable (ScanEvent) -> Void
    ) {
        self.source = source
        self.decoder = decoder
        self.timekeeper = timekeeper
        self.health = health
        self.logger = logger
        self.frameTimeout = frameTimeout
        self.onScan = onScan
    }

    public func stop() { stopRequested.store(true, ordering: .relaxed) }
    public var isStopping: Bool { stopRequested.load(ordering: .relaxed) }

    /// Runs until `stop()`. Call on a dedicated thread.
    public func run() {
        var failures = 0
        var open = false
        var lastError: CaptureError?
        while !isStopping {
            health.captureBeat(timekeeper.now())
            if !open {
                do throws(CaptureError) {
                    try source.open()
                    open = true
                    failures = 0
                    lastError = nil
                    health.setCamera(.online(source.name))
                    logger.notice("Camera online", metadata: ["camera.device": "\(source.name)"])
                } catch {
                    report(error, previous: &lastError)
                    pause(Self.backoff[min(failures, Self.backoff.count - 1)])
                    failures += 1
                    continue
                }
            }
            do throws(CaptureError) {
                let frameAt = timekeeper.now()
                let payloads = try source.withNextFrame(timeout: frameTimeout) { pixels, width, height in
                    decoder.decode(pixels: pixels, width: width, height: height)
                }
                health.frameRead(codes: payloads.count)
                if !payloads.isEmpty { onScan(ScanEvent(payloads: payloads, frameAt: frameAt)) }
            } catch {
                // Unplugged, stalled or broken: close, say so once, and reopen with back-off.
                source.close()
                open = false
                report(error, previous: &lastError)
            }
        }
        source.close()
    }

    /// One warning per outage, however its cause changes while the camera is away (an unplugged
    /// camera first stalls, then is missing, then is there but not yet streaming); the changes
    /// are logged at info level, and the status line always says the latest.
    private func report(_ error: CaptureError, previous: inout CaptureError?) {
        health.setCamera(.offline(error.description))
        guard error != previous else { return }
        let metadata: Logger.Metadata = ["camera.device": "\(source.name)", "camera.error": "\(error)"]
        if previous == nil {
            logger.warning("Camera offline", metadata: metadata)
        } else {
            logger.info("Camera still offline", metadata: metadata)
        }
        previous = error
    }

    private func pause(_ duration: Duration) {
        // Sleep in short steps so stop() and the watchdog beat are not held up.
        var left = duration
        while left > .zero && !isStopping {
            let step = min(left, .milliseconds(100))
            let (seconds, attoseconds) = step.components
            var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            nanosleep(&request, nil)
            left -= step
            health.captureBeat(timekeeper.now())
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

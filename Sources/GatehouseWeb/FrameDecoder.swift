#if ServerQRDecoding
import Dispatch
import Foundation
import GatehouseAPI
import GatehouseDomain
import Hummingbird
import QRReading
import Synchronization

/// Reads codes from the frames phones without a built-in barcode detector send, with the
/// kiosk's live decoder (its budgets, and what it learnt of the phone's view: one scanner per
/// phone), on threads of its own at a lower priority, so check-ins always have a core:
/// - at most cores − 1 frames at once, one per phone; a phone that sends faster is told to skip;
/// - a frame is at most 640 pixels a side (what the scanner page sends);
/// - an answer waits at most `timeLimit`: a frame that takes longer (a sheet of finder-like
///   squares can cost a QR engine seconds) is answered "too slow" while its thread finishes,
///   keeping that phone's slot until it does.
package final class FrameDecoder: Sendable {
    package static let maximumSide = 640
    package let concurrent: Int
    package let timeLimit: Duration
    package let cores: FrameDecodingCores
    /// Frames a phone may send: 16 in a burst, then 8 a second.
    package let requests: RateLimiter

    package enum Reservation {
        case reserved(Slot)
        case deviceBusy
        case allBusy
    }

    /// A decoder reserved for one phone's frame; released once when its work ends.
    package final class Slot: Sendable {
        let device: String
        fileprivate let decoder: FrameDecoder
        private let released = Atomic<Bool>(false)

        fileprivate init(device: String, decoder: FrameDecoder) {
            self.device = device
            self.decoder = decoder
        }

        func release() {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            decoder.state.withLock { _ = $0.inFlight.remove(device) }
        }
    }

    fileprivate struct State {
        var inFlight: Set<String> = []
        /// Each phone's live scanner, the least recently used dropped past `scannerCapacity`.
        var scanners: [String: (scanner: ScannerBox, used: UInt64)] = [:]
        var uses: UInt64 = 0
    }

    package static let scannerCapacity = 256
    fileprivate let state = Mutex(State())

    /// `now`: the service's clock, which the frame rate is counted on.
    package init(
        concurrent: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1),
        timeLimit: Duration = .milliseconds(1500),
        cores: FrameDecodingCores = .idleOnly,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.cores = cores
        self.concurrent = concurrent
        self.timeLimit = timeLimit
        requests = RateLimiter(capacity: 16, perSecond: 8, now: now)
    }

    package func reserve(device: String) -> Reservation {
        state.withLock { state in
            if state.inFlight.contains(device) { return .deviceBusy }
            guard state.inFlight.count < concurrent else { return .allBusy }
            state.inFlight.insert(device)
            return .reserved(Slot(device: device, decoder: self))
        }
    }

    /// The payloads in the frame, or nil when reading it took longer than `timeLimit`.
    package func decode(_ pixels: [UInt8], width: Int, height: Int, slot: Slot) async -> [[UInt8]]? {
        let scanner = state.withLock { state -> ScannerBox in
            state.uses &+= 1
            if let known = state.scanners[slot.device] {
                state.scanners[slot.device] = (known.scanner, state.uses)
                return known.scanner
            }
            if state.scanners.count >= Self.scannerCapacity, let oldest = state.scanners.min(by: { $0.value.used < $1.value.used }) {
                state.scanners.removeValue(forKey: oldest.key)
            }
            let made = ScannerBox()
            state.scanners[slot.device] = (made, state.uses)
            return made
        }
        let answer = OneAnswer<[[UInt8]]?>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<[[UInt8]]?, Never>) in
            answer.wait(continuation)
            let thread = Thread { [cores] in
                Thread.current.name = "frame-decoder"
                if cores == .idleOnly { Self.runOnlyOnIdleCores() }
                let payloads = pixels.withUnsafeBufferPointer { buffer in
                    scanner.scanner.scan(pixels: buffer.baseAddress!, width: width, height: height).payloads
                }
                slot.release()
                answer.give(payloads)
            }
            thread.start()
            Task {
                try? await Task.sleep(for: timeLimit)
                answer.give(nil)
            }
        }
    }
}

extension FrameDecoder {
    /// Puts the calling thread in Linux's SCHED_IDLE class: it runs only when no other thread
    /// wants the core, and any waking thread takes the core at once. A nice value is not enough:
    /// it weighs threads only against those of the same autogroup (session), so a decoding thread
    /// at nice 10 still shared its core evenly with the PostgreSQL backends that check-ins wait
    /// on, in a session of their own. Falls back to nice 10 where the class is refused.
    fileprivate static func runOnlyOnIdleCores() {
        // SCHED_IDLE from <linux/sched.h> (a fixed ABI value; Glibc's module hides it behind _GNU_SOURCE).
        let linuxSchedIdle: Int32 = 5
        var parameters = sched_param(sched_priority: 0)
        if pthread_setschedparam(pthread_self(), linuxSchedIdle, &parameters) != 0 {
            // On Linux, PRIO_PROCESS with 0 sets the calling thread's nice value only.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        }
    }
}

/// A phone's live scanner: used by one thread at a time (its phone has one frame in flight).
package final class ScannerBox: @unchecked Sendable {
    package let scanner = QRScanner(effort: .live)
}

/// The first of several answers (the work's, or the deadline's) resumes the waiting request once.
package final class OneAnswer<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, Never>?, given: T??)>((nil, nil))

    package func wait(_ continuation: CheckedContinuation<T, Never>) {
        let early = state.withLock { state -> T?? in
            if let given = state.given { return given }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early!) }
    }

    package func give(_ value: T) {
        let waiting = state.withLock { state -> CheckedContinuation<T, Never>? in
            guard state.given == nil else { return nil }
            state.given = .some(value)
            defer { state.continuation = nil }
            return state.continuation
        }
        waiting?.resume(returning: value)
    }
}
#endif

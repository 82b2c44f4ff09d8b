import Synchronization

/// Monotonic time and sleeping, injected so tests can run patterns and lane rules on virtual
/// time (and assert exact pulse lengths) while the daemon uses the real clock.
public protocol Timekeeper: Sendable {
    /// Time since an arbitrary fixed origin; never goes backwards.
    func now() -> Duration
    func sleep(for duration: Duration) async throws
}

/// The real clock.
public struct SystemTimekeeper: Timekeeper {
    private let origin = ContinuousClock.now
    public init() {}
    public func now() -> Duration { ContinuousClock.now - origin }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Virtual time for tests: sleeping advances the clock at once. Deterministic as long as one
/// task at a time sleeps on it.
public final class VirtualTimekeeper: Timekeeper {
    private let current = Mutex<Duration>(.zero)
    public init() {}
    public func now() -> Duration { current.withLock { $0 } }
    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        current.withLock { $0 += max(.zero, duration) }
    }
    public func advance(_ duration: Duration) { current.withLock { $0 += duration } }
}

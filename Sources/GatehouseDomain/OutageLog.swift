import Logging
import Synchronization

/// Logs a database outage once per change of cause, and its end once, instead of one line per
/// failed request (thousands a second at a busy venue) or per pool retry.
public final class OutageLog: Sendable {
    private let cause = Mutex<String?>(nil)
    /// Mirrors `cause != nil`, so the hot path's "still fine" check takes no lock.
    private let inOutage = Atomic<Bool>(false)

    public init() {}

    /// The database could not serve; logs at error when the cause differs from the last one.
    public func failed(_ why: String, logger: Logger) {
        let changed = cause.withLock { current -> Bool in
            defer { current = why }
            return current != why
        }
        inOutage.store(true, ordering: .relaxed)
        if changed { logger.error("Database unavailable", metadata: ["db.error": "\(why)"]) }
    }

    /// The database served a request; logs once when that ends an outage.
    public func served(logger: Logger) {
        guard inOutage.load(ordering: .relaxed) else { return }
        let ended = cause.withLock { current -> String? in
            defer { current = nil }
            return current
        }
        inOutage.store(false, ordering: .relaxed)
        if let ended { logger.notice("Database available again", metadata: ["db.previous_error": "\(ended)"]) }
    }
}

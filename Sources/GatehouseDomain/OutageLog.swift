import CoreMetrics
import Logging
import Synchronization

/// Logs each cause of a database outage once, and its end once, instead of one line per failed
/// request (thousands a second at a busy venue) or per pool retry.
///
/// Once per cause, not per change of cause: while a server restarts, several connections fail at
/// once with different errors (lost mid-query, refused, gone away) and a busy service alternates
/// between them — logged on every change, that was a line every few requests again.
public final class OutageLog: Sendable {
    private struct Outage {
        /// Causes already logged in this outage (at most `maximumCauses`).
        var logged: Set<String> = []
        var last: String?
    }

    /// Distinct causes logged per outage; any further ones only count as the latest.
    public static let maximumCauses = 8

    private let outage = Mutex(Outage())
    /// Mirrors `outage.last != nil`, so the hot path's "still fine" check takes no lock.
    private let inOutage = Atomic<Bool>(false)

    private let errors: Counter
    private let outages: Counter

    public init(metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        errors = Counter(label: ServiceMeters.storeErrors, factory: metrics)
        outages = Counter(label: ServiceMeters.storeOutages, factory: metrics)
    }

    /// The database could not serve; logs at error the first time this outage meets `why`.
    public func failed(_ why: String, logger: Logger) {
        let isNew = outage.withLock { outage -> Bool in
            outage.last = why
            guard outage.logged.count < Self.maximumCauses else { return false }
            return outage.logged.insert(why).inserted
        }
        errors.increment()
        if !inOutage.exchange(true, ordering: .relaxed) { outages.increment() }
        if isNew { logger.error("Database unavailable", metadata: ["db.error": "\(why)"]) }
    }

    /// The database served a request; logs once when that ends an outage.
    public func served(logger: Logger) {
        guard inOutage.load(ordering: .relaxed) else { return }
        let ended = outage.withLock { outage -> String? in
            defer { outage = Outage() }
            return outage.last
        }
        inOutage.store(false, ordering: .relaxed)
        if let ended { logger.notice("Database available again", metadata: ["db.previous_error": "\(ended)"]) }
    }
}

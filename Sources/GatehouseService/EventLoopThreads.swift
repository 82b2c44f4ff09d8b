import GatehouseStorage

/// How many event-loop threads `gatehouse serve` runs: they carry the connections, the HTTP
/// parsing and (as Swift's global executor, see `main.swift`) every request's work.
public enum EventLoopThreads {
    /// The accepted range for `--event-loops` and `$GATEHOUSE_EVENT_LOOPS`.
    public static let allowed = 1...256

    /// The default for a database on this many cores.
    ///
    /// With PostgreSQL or MySQL one loop per two cores: a batch's commit answers every scan that
    /// waited for it, and each scan whose connection lives on another loop is a wake-up of that
    /// loop's thread. Measured on 2 cores with the database on the same machine, one loop against
    /// two: PostgreSQL 16% more check-ins a second (the service's CPU per check-in 106 µs against
    /// 124 µs), MariaDB 1–4% more. With SQLite the database runs in the service's own threads and
    /// every core is the service's to use: one loop was 5% slower there, so one per core.
    public static func defaultCount(for database: DatabaseLocation, cores: Int) -> Int {
        switch database {
        case .sqlite: max(1, cores)
        case .postgres, .mysql: max(1, cores / 2)
        }
    }
}

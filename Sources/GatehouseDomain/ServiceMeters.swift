import CoreMetrics
import GatehouseCore

/// The service's own metrics, counted with swift-metrics where things happen: names in
/// Prometheus's conventions (`_total` counters, base units), and the help each one carries on
/// `GET /metrics` (the factory reads it from here: swift-metrics has no place for it).
public enum ServiceMeters {
    public static let checkins = "gatehouse_checkins_total"
    public static let checkinDuration = "gatehouse_checkin_duration_seconds"
    public static let storeErrors = "gatehouse_store_errors_total"
    public static let storeOutages = "gatehouse_store_outages_total"
    public static let offlineCheckins = "gatehouse_offline_checkins_total"
    public static let heartbeats = "gatehouse_heartbeats_total"

    public static let help: [String: String] = [
        checkins: "Check-ins decided, by result, gate and store (validate and commit).",
        checkinDuration: "Time from a check-in request's body to its decision, by store.",
        storeErrors: "Requests the database could not serve.",
        storeOutages: "Times the database stopped serving after it had served.",
        offlineCheckins: "Offline admissions uploaded by gates, by outcome (recorded, replayed, conflict, refused).",
        heartbeats: "Device heartbeats kept.",
    ]

    /// A decision takes a few milliseconds: the buckets start well below that.
    public static let durationBuckets: [String: [Duration]] = [
        checkinDuration: [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(3), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500),
        ]
    ]
}

import FoundationEssentials
import GatehouseCore
import KioskCore
import KioskPeers

#if canImport(Glibc)
import Glibc
#endif

/// The box's figures in Prometheus's text format: for node_exporter's textfile collector
/// (`metrics_textfile`) and the box's own `/metrics` (`metrics_listen`).
enum KioskMetrics {
    /// `heartbeat`: the figures just sent (or not); `counts`: frames and codes read since the
    /// start; `lastDelivered`: when a heartbeat last reached the service (seconds since 1970).
    /// `peers`: the peer exchange's figures, when the gate has peers.
    static func text(_ heartbeat: Heartbeat, counts: (frames: Int, codes: Int), lastDelivered: Double?, peers: PeerFigures? = nil) -> String {
        var out = PrometheusText()
        typealias Samples = [(labels: [(String, String)], value: Double)]
        func metric(_ name: String, _ type: String, _ help: String, _ samples: Samples) {
            guard !samples.isEmpty else { return }
            out.family(name, type, help)
            for sample in samples { out.sample(name, sample.labels, sample.value) }
        }
        func one(_ value: Double?) -> Samples { value.map { [([], $0)] } ?? [] }
        func flag(_ value: Bool?) -> Samples { one(value.map { $0 ? 1 : 0 }) }
        let info = [
            ("version", heartbeat.version ?? ""), ("gate", heartbeat.gateId), ("device", heartbeat.deviceId), ("decoder", heartbeat.decoder ?? ""),
        ]
        metric("gate_kiosk_info", "gauge", "The kiosk's version, gate, device and QR engines.", [(info, 1)])
        metric("gate_kiosk_uptime_seconds", "gauge", "Seconds since the kiosk started.", one(heartbeat.uptimeSeconds.map(Double.init)))
        metric("gate_kiosk_camera_up", "gauge", "1 while frames come from the camera.", flag(heartbeat.camera.map { $0 == "ok" }))
        metric("gate_kiosk_frames_total", "counter", "Camera frames read since the start.", [([], Double(counts.frames))])
        metric("gate_kiosk_codes_read_total", "counter", "QR codes read since the start.", [([], Double(counts.codes))])
        metric("gate_kiosk_service_up", "gauge", "1 when the service answered the last check-in.", flag(heartbeat.online))
        metric("gate_kiosk_snapshot_tickets", "gauge", "Tickets in the offline snapshot.", one(heartbeat.snapshotTickets.map(Double.init)))
        metric(
            "gate_kiosk_snapshot_age_seconds",
            "gauge",
            "Seconds since the snapshot last synced.",
            one(heartbeat.snapshotAgeSeconds.map(Double.init))
        )
        metric("gate_kiosk_offline_backlog", "gauge", "Offline admissions not yet uploaded.", one(heartbeat.backlog.map(Double.init)))
        metric("gate_kiosk_clock_trusted", "gauge", "1 when the kiosk can trust its clock for offline decisions.", flag(heartbeat.clockTrusted))
        metric("gate_kiosk_alarm_active", "gauge", "1 while the fire alarm holds the lane open.", [([], heartbeat.alarm == nil ? 0 : 1)])
        metric(
            "gate_kiosk_lane_mode",
            "gauge",
            "The lane's mode: 1 for the mode in force.",
            heartbeat.laneMode.map { current in LaneMode.allCases.map { ([("mode", $0.rawValue)], $0 == current ? 1 : 0) } } ?? []
        )
        metric(
            "gate_kiosk_disk_free_bytes",
            "gauge",
            "Bytes free on the state directory's file system.",
            one(heartbeat.diskFreeBytes.map(Double.init))
        )
        if let peers {
            metric("gate_kiosk_peers", "gauge", "Peer gates this gate knows (configured and discovered).", [([], Double(peers.peers))])
            metric("gate_kiosk_peers_reachable", "gauge", "Peer gates heard from in the last 10 s.", [([], Double(peers.reachable))])
            metric("gate_kiosk_peer_records_sent_total", "counter", "Used records sent to peer gates (one per peer).", [([], Double(peers.sent))])
            metric(
                "gate_kiosk_peer_records_applied_total",
                "counter",
                "Peer gates' used records applied to the snapshot.",
                [([], Double(peers.applied))]
            )
            metric(
                "gate_kiosk_peer_datagrams_dropped_total",
                "counter",
                "Datagrams on the peer port dropped unapplied, by reason.",
                PeerFigures.dropReasons.map { ([("reason", $0)], Double(peers.dropped[$0] ?? 0)) }
            )
        }
        metric("gate_kiosk_cpu_temperature_celsius", "gauge", "The CPU's temperature.", one(heartbeat.cpuTemperatureCelsius))
        metric("gate_kiosk_undervoltage", "gauge", "1 while the power supply is under-voltage (Raspberry Pi).", flag(heartbeat.undervoltage))
        metric("gate_kiosk_throttled", "gauge", "1 while the CPU is throttled (Raspberry Pi).", flag(heartbeat.throttled))
        metric(
            "gate_kiosk_heartbeat_last_success_timestamp_seconds",
            "gauge",
            "When a heartbeat last reached the service.",
            one(lastDelivered)
        )
        return out.text
    }
}

/// node_exporter's textfile collector file (`metrics_textfile`), written to a temporary file
/// beside it and renamed over it, so the collector never reads half a file.
struct MetricsTextfile {
    let path: String

    func write(_ text: String) throws {
        let temporary = path + ".tmp"
        guard let file = fopen(temporary, "w") else { throw MetricsTextfileError(path: temporary, errno: errno) }
        let written = fputs(text, file)
        let flushed = fflush(file)
        fclose(file)
        guard written >= 0, flushed == 0 else { throw MetricsTextfileError(path: temporary, errno: errno) }
        chmod(temporary, 0o644)
        guard rename(temporary, path) == 0 else { throw MetricsTextfileError(path: path, errno: errno) }
    }
}

struct MetricsTextfileError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32
    var description: String { "\(path): \(String(cString: strerror(errno)))" }
}

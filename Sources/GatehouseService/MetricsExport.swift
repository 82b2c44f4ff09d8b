import CoreMetrics
import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird
import Prometheus

/// swift-metrics' factory on a swift-prometheus registry, giving each metric the help text
/// `ServiceMeters` says (Prometheus's own factory leaves it empty, which `promtool check metrics`
/// refuses) and the check-in latency its fine buckets.
final class ExplainedPrometheusFactory: MetricsFactory, Sendable {
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// The metric named `label` whole (its unit suffix is part of the label), with its help.
    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: ServiceMeters.help[label] ?? label)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: [0.01, 0.1, 1, 10, 100, 1000])
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets = ServiceMeters.durationBuckets[label] ?? [.milliseconds(5), .milliseconds(50), .milliseconds(500), .seconds(5)]
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { (handler as? Prometheus.Counter).map(registry.unregisterCounter) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { (handler as? Prometheus.Counter).map(registry.unregisterCounter) }
    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Histogram<Double> { registry.unregisterValueHistogram(histogram) }
    }
    func destroyMeter(_ handler: any MeterHandler) { (handler as? Prometheus.Gauge).map(registry.unregisterGauge) }
    func destroyTimer(_ handler: any TimerHandler) { (handler as? Histogram<Duration>).map(registry.unregisterDurationHistogram) }
}

/// `GET /metrics`: the counted metrics, then what is read at the scrape — connections held and
/// refused, and each device's heartbeat as gauges. Answers the admin token, or the metrics token
/// (`--metrics-token`) so a Prometheus server needs no admin rights.
struct MetricsRoute {
    let gatehouse: Gatehouse
    let connections: ConnectionRegistry
    let adminTokenHash: [UInt8]
    let metricsTokenHash: [UInt8]?

    func add(to router: Router<GatehouseRequestContext>) {
        router.get("metrics") { request, _ in
            guard let token = request.bearerToken,
                Self.matches(TokenHash.of(token), adminTokenHash) || metricsTokenHash.map({ Self.matches(TokenHash.of(token), $0) }) == true
            else { throw Problem.unauthorized("the admin or metrics token is required (Authorization: Bearer …)") }
            var text = [UInt8]()
            text.reserveCapacity(16 * 1024)
            (gatehouse.metrics as? ExplainedPrometheusFactory)?.registry.emit(into: &text)
            text += Array(try await scrapeTime().utf8)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: text))
            )
        }
    }

    static func matches(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The figures read now rather than counted.
    func scrapeTime() async throws -> String {
        var out = PrometheusText()
        out.family("gatehouse_connections", "gauge", "HTTP connections held now.")
        out.sample("gatehouse_connections", [], Double(connections.count))
        out.family("gatehouse_connections_refused_total", "counter", "Connections refused because every held one was answering a request.")
        out.sample("gatehouse_connections_refused_total", [], Double(connections.refused))
        out.family("gatehouse_connections_evicted_total", "counter", "Idle connections closed to make room for a new one.")
        out.sample("gatehouse_connections_evicted_total", [], Double(connections.evicted))

        let now = gatehouse.now()
        let outbox = try await gatehouse.store.mailOutboxDepth()
        out.family("gatehouse_mail_outbox_pending", "gauge", "Ticket mails waiting to be sent.")
        out.sample("gatehouse_mail_outbox_pending", [], Double(outbox.pending))
        out.family("gatehouse_mail_outbox_oldest_age_seconds", "gauge", "How long the oldest waiting ticket mail has waited (0 when none waits).")
        out.sample("gatehouse_mail_outbox_oldest_age_seconds", [], outbox.oldestPendingAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)

        var devices: [(event: String, status: Gatehouse.DeviceStatus)] = []
        var webhooks: [Webhook] = []
        for event in try await gatehouse.events() {
            devices += try await gatehouse.fleet(eventId: event.id).map { (event.id, $0) }
            webhooks += try await gatehouse.webhooks(eventId: event.id)
        }
        out.family("gatehouse_webhook_failures", "gauge", "Deliveries the webhook's receiver has not taken in a row.")
        for webhook in webhooks {
            out.sample("gatehouse_webhook_failures", [("event", webhook.eventId), ("webhook", webhook.id)], Double(webhook.failures))
        }
        out.family("gatehouse_webhook_last_delivery_timestamp_seconds", "gauge", "When the webhook's receiver last took a delivery.")
        for webhook in webhooks {
            guard let at = webhook.deliveredAt else { continue }
            out.sample(
                "gatehouse_webhook_last_delivery_timestamp_seconds",
                [("event", webhook.eventId), ("webhook", webhook.id)],
                at.timeIntervalSince1970
            )
        }
        let families: [(name: String, help: String, value: (Gatehouse.DeviceStatus) -> Double?)] = [
            ("gatehouse_device_up", "1 when the device's last heartbeat came within 30 s.", { $0.state == .silent ? 0 : 1 }),
            (
                "gatehouse_device_heartbeat_age_seconds", "Seconds since the device's last heartbeat.",
                { $0.lastHeartbeatAt.map { max(0, now.timeIntervalSince($0)) } }
            ),
            ("gatehouse_device_backlog", "Offline admissions the device has not uploaded yet.", { $0.heartbeat?.backlog.map(Double.init) }),
            (
                "gatehouse_device_snapshot_age_seconds", "Age of the device's ticket snapshot, as it reported it.",
                { $0.heartbeat?.snapshotAgeSeconds.map(Double.init) }
            ),
        ]
        for family in families {
            out.family(family.name, "gauge", family.help)
            for (event, status) in devices {
                guard let value = family.value(status) else { continue }
                out.sample(family.name, [("event", event), ("gate", status.gateId), ("device", status.deviceId)], value)
            }
        }
        return out.text
    }
}

import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// The gates page: every device of an event with a traffic light from its heartbeat, kept
/// current by fleet.js; and one device's page with its figures and its last reported events.
extension OrganizerSite {
    package func addFleetPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("events/:id/gates") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(try await fleetPage(event))
            }
        }
        router.get("events/:id/gates/live") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .response(try WebPage.json(["devices": try await gatehouse.fleet(eventId: event.id).map(fleetRow)]))
            }
        }
        router.get("devices/:id") { request, context in
            await handle(request, context) {
                let (device, status, events) = try await gatehouse.deviceStatus(deviceId: try context.parameters.require("id"))
                return .page(try await devicePage(device, status, events))
            }
        }
    }

    /// One device as the gates page shows it, and as fleet.js redraws it.
    struct FleetRow: Sendable, Encodable {
        var id: String
        var name: String
        var gateId: String
        var kind: String
        /// `ok`, `warn` or `bad`: the light.
        var tone: String
        var state: String
        var heard: String
        var camera: String
        var snapshot: String
        var backlog: String
        var lane: String
        var last: String
        var problems: String
    }

    func fleetRow(_ status: Gatehouse.DeviceStatus) -> FleetRow {
        let heartbeat = status.heartbeat
        return FleetRow(
            id: status.deviceId,
            name: status.name,
            gateId: status.gateId,
            kind: status.kind.rawValue,
            tone: Self.tone(status.state),
            state: Self.words(status.state),
            heard: status.lastHeartbeatAt.map { clock.timeOfDay($0) } ?? "never",
            camera: Self.camera(heartbeat),
            snapshot: Self.snapshot(heartbeat),
            backlog: heartbeat?.backlog.map(String.init) ?? "—",
            lane: heartbeat.map { beat in beat.alarm.map { "FIRE ALARM: \($0)" } ?? beat.laneMode?.rawValue ?? "—" } ?? "—",
            last: heartbeat?.lastDecision ?? "—",
            problems: status.problems.filter { $0 != status.state }.map(Self.words).joined(separator: ", ")
        )
    }

    /// Red: the device cannot be used; amber: it works but needs a look; green: nothing wrong.
    static func tone(_ state: DeviceState) -> String {
        switch state {
        case .silent, .cameraOffline: "bad"
        case .offline, .staleSnapshot, .backlog, .lowDisk, .hot, .undervoltage: "warn"
        case .ok: "ok"
        }
    }

    static func words(_ state: DeviceState) -> String {
        switch state {
        case .silent: "silent"
        case .cameraOffline: "camera offline"
        case .offline: "offline (own snapshot)"
        case .staleSnapshot: "snapshot old"
        case .backlog: "uploads waiting"
        case .lowDisk: "disk nearly full"
        case .hot: "hot"
        case .undervoltage: "under-voltage"
        case .ok: "ok"
        }
    }

    static func camera(_ heartbeat: Heartbeat?) -> String {
        guard let heartbeat, let camera = heartbeat.camera else { return "—" }
        switch camera {
        case "ok": return heartbeat.framesPerSecond.map { "ok, \(String(format: "%.1f", $0)) fps" } ?? "ok"
        case "offline": return "offline" + (heartbeat.cameraDetail.map { ": \($0)" } ?? "")
        case "none": return "not in use"
        default: return camera
        }
    }

    static func snapshot(_ heartbeat: Heartbeat?) -> String {
        guard let heartbeat, let tickets = heartbeat.snapshotTickets else { return "—" }
        return "\(tickets) tickets" + (heartbeat.snapshotAgeSeconds.map { ", \($0) s old" } ?? ", age unknown")
    }

    package func fleetPage(_ event: Event) async throws -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var devices: [FleetRow]
            var hasDevices: Bool
            var summary: String
        }
        let rows = try await gatehouse.fleet(eventId: event.id).map(fleetRow)
        let bad = rows.filter { $0.tone == "bad" }.count
        let warn = rows.filter { $0.tone == "warn" }.count
        let model = Model(
            tabs: EventTabs(event, current: "gates"),
            eventId: event.id,
            devices: rows,
            hasDevices: !rows.isEmpty,
            summary: "\(rows.count) device\(rows.count == 1 ? "" : "s"): \(rows.count - bad - warn) ok, \(warn) to look at, \(bad) not working"
        )
        return WebPage(title: "Gates · \(event.name)", template: "fleet", data: model, section: .events, scripts: ["live.js", "fleet.js"])
    }

    package func devicePage(_ device: Device, _ status: Gatehouse.DeviceStatus, _ events: [DeviceEvent]) async throws -> WebPage {
        struct Figure: Sendable {
            var label: String
            var value: String
        }
        struct Reported: Sendable {
            var at: String
            var kind: String
            var detail: String
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var row: FleetRow
            var figures: [Figure]
            var events: [Reported]
            var hasEvents: Bool
        }
        let event = try await gatehouse.event(id: device.eventId)
        let beat = status.heartbeat
        func text<T>(_ value: T?, _ render: (T) -> String = { "\($0)" }) -> String { value.map(render) ?? "—" }
        let figures: [Figure] = [
            ("Last heard", status.lastHeartbeatAt.map { clock.display($0).local } ?? "never"),
            ("Version", text(beat?.version)), ("Up for", text(beat?.uptimeSeconds) { Self.span($0) }),
            ("Camera", Self.camera(beat)), ("Decoder", text(beat?.decoder)), ("Codes read", text(beat?.codesPerMinute) { "\($0) a minute" }),
            ("Last decision", text(beat?.lastDecision)), ("Service", text(beat?.online) { $0 ? "answers" : "does not answer: deciding offline" }),
            ("Snapshot", Self.snapshot(beat)), ("Uploads waiting", text(beat?.backlog)),
            ("Clock", text(beat?.clockTrusted) { $0 ? "trusted" : "NOT trusted" }), ("Lane", text(beat?.laneMode?.rawValue)),
            ("Fire alarm", text(beat?.alarm)),
            (
                "Disk free",
                text(beat?.diskFreeBytes) { "\($0 / 1_048_576) MB" + (beat?.diskFreePercent.map { " (\(String(format: "%.1f", $0)) %)" } ?? "") }
            ),
            ("CPU", text(beat?.cpuTemperatureCelsius) { "\(String(format: "%.1f", $0)) °C" }),
            ("Under-voltage", text(beat?.undervoltage) { $0 ? "YES" : "no" }),
            ("Throttled", text(beat?.throttled) { $0 ? "YES" : "no" }),
        ].map { Figure(label: $0.0, value: $0.1) }
        let model = Model(
            tabs: EventTabs(event, current: "gates"),
            row: fleetRow(status),
            figures: figures,
            events: events.map {
                Reported(at: clock.display($0.at).local, kind: $0.kind.replacingOccurrences(of: "_", with: " "), detail: $0.detail)
            },
            hasEvents: !events.isEmpty
        )
        return WebPage(title: "\(device.name) · Gates · \(event.name)", template: "fleet-device", data: model, section: .events)
    }

    static func span(_ seconds: Int) -> String {
        seconds < 120
            ? "\(seconds) s" : seconds < 7200 ? "\(seconds / 60) min" : seconds < 172_800 ? "\(seconds / 3600) h" : "\(seconds / 86_400) days"
    }
}

import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import QRRendering

/// Devices of one event: gate, last seen, last result, revoke; and pairing codes for new kiosks
/// and phones, shown as text and as a QR code (a phone's camera opens the staff scanner with it).
extension OrganizerSite {
    package func addDevicePages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("events/:id/devices") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(try await devicePage(event, values: [:], error: nil, done: Self.query(request, "done")))
            }
        }
        router.post("events/:id/pairings") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                refused: { try await devicePage(try await gatehouse.event(id: id), values: values, error: $0, done: nil) }
            ) {
                let event = try await gatehouse.event(id: id)
                values = try await WebForm.fields(request)
                let gate = Self.optional(values["gateId"]) ?? ""
                guard !gate.isEmpty else { throw InvalidInputError("Gate must not be empty") }
                let minutes = Int(values["minutes"] ?? "15") ?? 0
                let name = Self.optional(values["name"])
                let (code, expiresAt) = try await gatehouse.createPairing(eventId: event.id, gateId: gate, name: name, timeToLive: minutes * 60)
                let handle = vault.keep(
                    CodeVault.Pairing(eventId: event.id, gateId: gate, name: name, code: code, expiresAt: expiresAt, createdAt: Date())
                )
                return .redirect("/admin/events/\(event.id)/pairings/\(handle)")
            }
        }
        router.get("events/:id/pairings/:handle") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let pairing = vault.pairing(try context.parameters.require("handle"), eventId: event.id) else {
                    throw NotFoundError("pairing code (it expired or was shown more than 30 minutes ago: make a new one)")
                }
                let scheme = form.scheme(of: request, peer: context.remoteHost)
                let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!] ?? "localhost"
                return .page(try pairingPage(event, pairing, base: "\(scheme)://\(host)"))
            }
        }
        router.get("devices/:id/revoke") { request, context in
            await handle(request, context) {
                let id = try context.parameters.require("id")
                guard let eventId = Self.query(request, "event") else { throw InvalidInputError("event is missing") }
                let event = try await gatehouse.event(id: eventId)
                guard let device = try await gatehouse.devices(eventId: event.id).first(where: { $0.device.id == id })?.device else {
                    throw NotFoundError("device \(id)")
                }
                return .page(
                    WebPage(
                        title: "Revoke a device",
                        template: "device-revoke",
                        data: DeviceRevoke(
                            tabs: EventTabs(event, current: "devices"),
                            eventId: event.id,
                            deviceId: device.id,
                            deviceName: device.name,
                            gateId: device.gateId
                        ),
                        section: .events
                    )
                )
            }
        }
        router.post("events/:id/devices/:device/lane-mode") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                let values = try await WebForm.fields(request)
                let word = values["mode"] ?? ""
                var mode: LaneMode?
                if !word.isEmpty {
                    guard let chosen = LaneMode(rawValue: word) else {
                        throw InvalidInputError("Lane mode \(word) is not one of normal, free, locked, out_of_order")
                    }
                    mode = chosen
                }
                _ = try await gatehouse.setLaneMode(deviceId: try context.parameters.require("device"), mode: mode, logger: context.logger)
                return .redirect("/admin/events/\(event.id)/devices?done=lane")
            }
        }
        router.post("devices/:id/revoke") { request, context in
            await handle(request, context) {
                let device = try await gatehouse.revokeDevice(id: try context.parameters.require("id"))
                return .redirect("/admin/events/\(device.eventId)/devices?done=revoked")
            }
        }
    }

    struct DeviceRevoke: Sendable {
        var tabs: EventTabs
        var eventId: String
        var deviceId: String
        var deviceName: String
        var gateId: String
    }

    package func devicePage(_ event: Event, values: [String: String], error: String?, done: String?) async throws -> WebPage {
        struct Row: Sendable {
            var id: String
            var name: String
            var gateId: String
            var lastSeen: TimeText
            var lastResult: Badge?
            var isRevoked: Bool
            /// A kiosk's lane: what it reported, and the organizer's choice.
            var hasLane: Bool
            var lane: String
            var laneChoices: [LaneChoice]
        }
        struct LaneChoice: Sendable {
            var value: String
            var label: String
            var selected: Bool
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var revoked: Bool
            var laneSet: Bool
            var devices: [Row]
            var hasDevices: Bool
            var form: FormView
        }
        let devices = try await gatehouse.devices(eventId: event.id)
        let lanes = Dictionary(uniqueKeysWithValues: try await gatehouse.laneStates(eventId: event.id).map { ($0.deviceId, $0) })
        let model = Model(
            tabs: EventTabs(event, current: "devices"),
            eventId: event.id,
            revoked: done == "revoked",
            laneSet: done == "lane",
            devices: devices.map {
                let lane = lanes[$0.device.id]
                return Row(
                    id: $0.device.id,
                    name: $0.device.name,
                    gateId: $0.device.gateId,
                    lastSeen: clock.display($0.lastSeenAt),
                    lastResult: $0.lastResult.map(Badge.init),
                    isRevoked: $0.device.revoked,
                    hasLane: $0.device.kind == .kiosk && !$0.device.revoked,
                    lane: Self.laneText(lane),
                    laneChoices: [LaneChoice(value: "", label: "none (normal)", selected: lane?.requested == nil)]
                        + LaneMode.allCases.map { LaneChoice(value: $0.rawValue, label: $0.rawValue, selected: lane?.requested == $0) }
                )
            },
            hasDevices: !devices.isEmpty,
            form: FormView(
                error: error,
                fields: [
                    FormField("Gate", name: "gateId", values: values, required: true, maxLength: 128, placeholder: "north-1"),
                    FormField("Device name", name: "name", values: values, maxLength: 200, placeholder: "North door phone"),
                    FormField(
                        "Valid for (minutes)",
                        name: "minutes",
                        values: values.isEmpty ? ["minutes": "15"] : values,
                        type: "number",
                        required: true,
                        min: 5,
                        max: 1440
                    ),
                ]
            )
        )
        return WebPage(title: "Devices · \(event.name)", template: "devices", data: model, section: .events)
    }

    /// What the lane reported, and what was asked when the lane says otherwise (a key switch
    /// or the box outranks the organizer; a request not yet applied is said as such).
    static func laneText(_ lane: LaneState?) -> String {
        guard let lane else { return "normal (no report yet)" }
        if let alarm = lane.alarm { return "FIRE ALARM: held open (\(alarm))" }
        var text =
            lane.reported.map { mode in
                "\(mode.rawValue)"
                    + (lane.reportedSource.map { " (set by \($0 == .keySwitch ? "the key switch" : $0 == .box ? "the box" : "you"))" } ?? "")
            } ?? "no report yet"
        if let asked = lane.requested, asked != lane.reported {
            let heardSince = lane.reportedAt.flatMap { reported in lane.requestedAt.map { reported >= $0 } } ?? false
            text += "; asked: \(asked.rawValue)" + (heardSince ? "" : " (not applied yet)")
        }
        return text
    }

    package func pairingPage(_ event: Event, _ pairing: CodeVault.Pairing, base: String) throws -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var gateId: String
            var deviceName: String?
            var code: String
            var expiresAt: TimeText
            var image: String
            var base: String
        }
        // The QR holds the scanner's address with the code after '#': a phone's camera opens the
        // scanner ready to pair, and the fragment never reaches a server log.
        let svg = try QRMatrix(encoding: "\(base)/scanner#pair=\(pairing.code)").svg(moduleSize: 6)
        let model = Model(
            tabs: EventTabs(event, current: "devices"),
            eventId: event.id,
            gateId: pairing.gateId,
            deviceName: pairing.name,
            code: pairing.code,
            expiresAt: clock.display(pairing.expiresAt),
            image: "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString(),
            base: base
        )
        return WebPage(title: "Pairing code", template: "pairing", data: model, section: .events)
    }
}

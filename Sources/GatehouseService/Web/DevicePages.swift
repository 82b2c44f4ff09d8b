import Foundation
import GatehouseCore
import GatehouseStore
import HTTPTypes
import Hummingbird
import QRRendering

/// Devices of one event: gate, last seen, last result, revoke; and pairing codes for new kiosks
/// and phones, shown as text and as a QR code (a phone's camera opens the staff scanner with it).
extension OrganizerSite {
    func addDevicePages(to router: Router<GatehouseRequestContext>) {
        router.get("admin/events/:id/devices") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(try await devicePage(event, values: [:], error: nil, done: Self.query(request, "done")))
            }
        }
        router.post("admin/events/:id/pairings") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                isForm: true,
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
        router.get("admin/events/:id/pairings/:handle") { request, context in
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
        router.get("admin/devices/:id/revoke") { request, context in
            await handle(request, context) {
                let id = try context.parameters.require("id")
                guard let eventId = Self.query(request, "event") else { throw InvalidInputError("event is missing") }
                let event = try await gatehouse.event(id: eventId)
                guard let device = try await gatehouse.devices(eventId: event.id).first(where: { $0.device.id == id })?.device else {
                    throw NotFoundError("device \(id)")
                }
                let body = """
                    \(Self.eventTabs(event, current: "devices"))
                    <section class=panel><h2>Revoke \(HTML.escape(device.name)) at gate \(HTML.escape(device.gateId))?</h2>
                    <p>Its token stops working at once: a kiosk shuts its gate, a phone is signed out. To use it again, pair it anew.</p>
                    <form method=post action="/admin/devices/\(HTML.escape(device.id))/revoke?event=\(HTML.escape(event.id))">
                    <button class=danger>Revoke device</button> <a class="button secondary" href="/admin/events/\(HTML.escape(event.id))/devices">Cancel</a></form></section>
                    """
                return .page(WebPage(title: "Revoke a device", body: body, section: .events))
            }
        }
        router.post("admin/devices/:id/revoke") { request, context in
            await handle(request, context, isForm: true) {
                let device = try await gatehouse.revokeDevice(id: try context.parameters.require("id"))
                return .redirect("/admin/events/\(device.eventId)/devices?done=revoked")
            }
        }
    }

    func devicePage(_ event: Event, values: [String: String], error: String?, done: String?) async throws -> WebPage {
        let devices = try await gatehouse.devices(eventId: event.id)
        let rows = devices.map { activity in
            let device = activity.device
            let action =
                device.revoked
                ? "<span class=\"badge bad\">revoked</span>"
                : "<a class=\"button secondary\" href=\"/admin/devices/\(HTML.escape(device.id))/revoke?event=\(HTML.escape(event.id))\">Revoke…</a>"
            return """
                <tr><td data-label="Device">\(HTML.escape(device.name))<br><code>\(HTML.escape(device.id))</code></td>\
                <td data-label="Gate">\(HTML.escape(device.gateId))</td><td data-label="Last seen">\(clock.display(activity.lastSeenAt))</td>\
                <td data-label="Last result">\(activity.lastResult.map(Self.resultBadge) ?? "—")</td><td>\(action)</td></tr>
                """
        }
        let notice = done == "revoked" ? "<p class=notice role=status>Device revoked.</p>" : ""
        let form = """
            <section class=panel><h2>Pair a kiosk or a phone</h2>\(HTML.errorBox(error))
            <p class=muted>A one-time code for one device at one gate. On a kiosk: <code>gate-kiosk enroll --code …</code>; on a phone: scan the code's QR, or open the staff scanner and type it.</p>
            <form class=stack method=post action="/admin/events/\(HTML.escape(event.id))/pairings">
            \(HTML.field("Gate", name: "gateId", values: values, attributes: "required maxlength=128 placeholder=north-1"))
            \(HTML.field("Device name", name: "name", values: values, attributes: "maxlength=200 placeholder=\"North door phone\""))
            \(HTML.field("Valid for (minutes)", name: "minutes", values: values.isEmpty ? ["minutes": "15"] : values, type: "number", attributes: "min=5 max=1440 required"))
            <button>Make pairing code</button></form></section>
            """
        let list =
            devices.isEmpty
            ? "<p class=muted>No devices yet.</p>"
            : "<table class=cards><thead><tr><th>Device</th><th>Gate</th><th>Last seen</th><th>Last result</th><th></th></tr></thead><tbody>\(rows.joined())</tbody></table>"
        return WebPage(title: "Devices · \(event.name)", body: Self.eventTabs(event, current: "devices") + notice + list + form, section: .events)
    }

    func pairingPage(_ event: Event, _ pairing: CodeVault.Pairing, base: String) throws -> WebPage {
        // The QR holds the scanner's address with the code after '#': a phone's camera opens the
        // scanner ready to pair, and the fragment never reaches a server log.
        let link = "\(base)/scanner#pair=\(pairing.code)"
        let svg = try QRMatrix(encoding: link).svg(moduleSize: 6)
        let image = "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString()
        let body = """
            \(Self.eventTabs(event, current: "devices"))
            <section class=panel><p>Pairing code for gate <b>\(HTML.escape(pairing.gateId))</b>\(pairing.name.map { " (\(HTML.escape($0)))" } ?? ""):</p>
            <p class=code id=pairing-code>\(HTML.escape(pairing.code))</p>
            <p>Works once, until \(clock.display(pairing.expiresAt)).</p>
            <p><img class=pairing-qr alt="QR code: the staff scanner with this pairing code" src="\(image)" width=240 height=240></p>
            <p class=muted>Kiosk: <code>sudo gate-kiosk enroll --server \(HTML.escape(base)) --code \(HTML.escape(pairing.code))</code></p>
            <p><a class="button secondary" href="/admin/events/\(HTML.escape(event.id))/devices">Back to devices</a></p></section>
            """
        return WebPage(title: "Pairing code", body: body, section: .events)
    }
}

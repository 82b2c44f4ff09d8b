import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Admin API: events, tickets, devices and the check-in log. Every route needs a credential whose
/// role and events allow it (`AccessRules.api`).
package struct AdminRoutes {
    package let gatehouse: Gatehouse
    package let accounts: AccountBook

    package struct CreateEventBody: Decodable {
        var name: String
        var startsAt: Date?
        /// Sign the event's codes (see `SignedTicketCode`), so gates can admit tickets they have not synced.
        var signedCodes: Bool?
        var endsAt: Date?
        var place: String?
        var registration: RegistrationSettings?
    }

    package struct MailList: Encodable, Sendable {
        var mails: [MailDelivery]
    }

    package struct MailTicketsBody: Decodable {
        var ticketIds: [String]
    }

    package struct IssueTicketsBody: Decodable {
        var quantity: Int?
        var holderName: String?
        var email: String?
        var ticketType: String?
        var userId: String?
        var expiresAt: Date?
    }

    package struct IssuedTickets: Encodable, Sendable {
        var tickets: [IssuedTicket]
    }

    package struct HandCheckinBody: Decodable, Sendable {
        var scanId: String?
    }

    package struct AddDeviceBody: Decodable {
        var name: String
        var gateId: String
        var eventId: String
        /// `kiosk` (the default) or `scanner` (a staff phone: online only).
        var kind: DeviceKind?
    }

    package struct AddedDevice: Encodable, Sendable {
        var deviceId: String
        var token: String
        var device: Device
    }

    package struct EventList: Encodable, Sendable {
        var events: [Event]
    }

    package struct CheckinList: Encodable, Sendable {
        var checkins: [CheckinLogEntry]
    }

    package func add(to group: RouterGroup<GatehouseRequestContext>) {
        group.post("events") { request, context in
            let body = try await request.decodeJSON(as: CreateEventBody.self, context: context)
            var event = try await gatehouse.createEvent(
                name: body.name,
                startsAt: body.startsAt,
                endsAt: body.endsAt,
                place: body.place,
                registration: body.registration ?? RegistrationSettings()
            )
            if body.signedCodes == true {
                _ = try await gatehouse.addSigningKey(eventId: event.id)
                event.signedCodes = true
            }
            return JSONAnswer(event, status: .created)
        }
        group.get("events") { _, context in
            let principal = context.principal
            return JSONAnswer(EventList(events: try await gatehouse.events().filter { principal?.covers(eventId: $0.id) == true }))
        }
        group.get("events/:id") { _, context in
            JSONAnswer(try await gatehouse.event(id: try context.parameters.require("id")))
        }
        group.post("events/:id/tickets") { request, context in
            let body = try await request.decodeJSON(as: IssueTicketsBody.self, context: context)
            let quantity = body.quantity ?? 1
            guard (1...Gatehouse.maximumTicketsPerRequest).contains(quantity) else {
                throw InvalidInputError("quantity must be between 1 and \(Gatehouse.maximumTicketsPerRequest)")
            }
            let one = Gatehouse.TicketRequest(
                holderName: body.holderName,
                email: body.email,
                ticketType: body.ticketType,
                userId: body.userId,
                expiresAt: body.expiresAt
            )
            let tickets = try await gatehouse.issueTickets(
                eventId: try context.parameters.require("id"),
                Array(repeating: one, count: quantity)
            )
            return JSONAnswer(IssuedTickets(tickets: tickets), status: .created)
        }
        group.put("events/:id/registration") { request, context in
            let settings = try await request.decodeJSON(as: RegistrationSettings.self, context: context)
            let event = try await gatehouse.setRegistration(eventId: try context.parameters.require("id"), settings)
            return JSONAnswer(["registration": event.registration])
        }
        // What became of the event's ticket mails: sent, waiting (with the server's last words)
        // or failed for good.
        group.get("events/:id/mails") { request, context in
            let ticketId = request.uri.queryParameters["ticket"].map(String.init)
            return JSONAnswer(MailList(mails: try await gatehouse.mailDeliveries(eventId: try context.parameters.require("id"), ticketId: ticketId)))
        }
        // "Send again": each ticket gets a new code (the old one stops working) and a mail with it.
        group.post("events/:id/mails") { request, context in
            let body = try await request.decodeJSON(as: MailTicketsBody.self, context: context)
            let eventId = try context.parameters.require("id")
            for id in body.ticketIds where try await gatehouse.ticket(id: id).eventId != eventId {
                throw InvalidInputError("ticket \(id) belongs to another event")
            }
            let tickets = try await gatehouse.mailTickets(ids: body.ticketIds)
            return JSONAnswer(["tickets": tickets], status: .accepted)
        }
        group.get("events/:id/checkins") { request, context in
            let filter = try Self.checkinFilter(request.uri.queryParameters)
            return JSONAnswer(CheckinList(checkins: try await gatehouse.checkins(eventId: try context.parameters.require("id"), filter: filter)))
        }
        // Turns on signed codes for new tickets, or rotates the key (earlier codes keep working).
        group.post("events/:id/signing-keys") { _, context in
            JSONAnswer(["keyId": try await gatehouse.addSigningKey(eventId: try context.parameters.require("id"))], status: .created)
        }
        // Check-in lists: the rules of a set of gates.
        group.post("events/:id/lists") { request, context in
            let settings = try await request.decodeJSON(as: Gatehouse.ListSettings.self, context: context)
            return JSONAnswer(try await gatehouse.createList(eventId: try context.parameters.require("id"), settings), status: .created)
        }
        group.get("events/:id/lists") { _, context in
            JSONAnswer(["lists": try await gatehouse.lists(eventId: try context.parameters.require("id"))])
        }
        group.get("lists/:id") { _, context in
            JSONAnswer(try await gatehouse.list(id: try context.parameters.require("id")))
        }
        group.put("lists/:id") { request, context in
            let settings = try await request.decodeJSON(as: Gatehouse.ListSettings.self, context: context)
            return JSONAnswer(try await gatehouse.replaceList(id: try context.parameters.require("id"), settings))
        }
        group.delete("lists/:id") { _, context -> Response in
            try await gatehouse.deleteList(id: try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        group.get("events/:id/presence") { _, context in
            JSONAnswer(try await gatehouse.presence(eventId: try context.parameters.require("id")))
        }
        group.get("events/:id/conflicts") { _, context in
            JSONAnswer(ConflictList(conflicts: try await gatehouse.conflicts(eventId: try context.parameters.require("id"))))
        }
        group.get("tickets/:id") { _, context in
            JSONAnswer(try await gatehouse.ticket(id: try context.parameters.require("id")))
        }
        group.post("tickets/:id/revoke") { _, context in
            JSONAnswer(try await gatehouse.revokeTicket(id: try context.parameters.require("id")))
        }
        // By hand, at the box office (someone whose code is lost): decided as a scan is. A
        // script that names its request (`scanId`) can send it again after a lost answer and
        // gets the first decision.
        group.post("tickets/:id/checkin") { request, context in
            guard let principal = context.principal else { throw Problem.unauthorized("a credential is required") }
            let body =
                request.headers[.contentType] == nil ? nil : try await request.decodeJSON(as: HandCheckinBody.self, context: context, limit: 4096)
            return JSONAnswer(
                try await gatehouse.checkInByHand(
                    ticketId: try context.parameters.require("id"),
                    scanId: body?.scanId,
                    by: principal,
                    logger: context.logger
                )
            )
        }
        group.post("tickets/:id/reissue") { _, context in
            JSONAnswer(try await gatehouse.reissueTicket(id: try context.parameters.require("id")))
        }
        group.post("devices") { request, context in
            let body = try await request.decodeJSON(as: AddDeviceBody.self, context: context)
            let (device, token) = try await gatehouse.addDevice(
                name: body.name,
                gateId: body.gateId,
                eventId: body.eventId,
                kind: body.kind ?? .kiosk
            )
            return JSONAnswer(AddedDevice(deviceId: device.id, token: token, device: device), status: .created)
        }
        group.post("devices/:id/revoke") { _, context in
            JSONAnswer(try await gatehouse.revokeDevice(id: try context.parameters.require("id")))
        }
        // Lane modes: the organizer's request per kiosk, and what each lane reported.
        group.put("devices/:id/lane-mode") { request, context in
            let body = try await request.decodeJSON(as: LaneModeBody.self, context: context)
            return JSONAnswer(
                try await gatehouse.setLaneMode(deviceId: try context.parameters.require("id"), mode: body.mode, logger: context.logger)
            )
        }
        group.get("events/:id/lanes") { _, context in
            JSONAnswer(["lanes": try await gatehouse.laneStates(eventId: try context.parameters.require("id"))])
        }
        // Check-ins, conflicts and device states as they happen (Server-Sent Events).
        group.get("events/:id/stream") { request, context in
            let eventId = try context.parameters.require("id")
            let cursor = try EventStream.resumePoint(request)
            _ = try await gatehouse.event(id: eventId)
            return EventStream(gatehouse: gatehouse, eventId: eventId, cursor: cursor).response()
        }
        // Webhooks: where the event's check-ins, conflicts and device states are posted.
        group.post("events/:id/webhooks") { request, context in
            let body = try await request.decodeJSON(as: AddWebhookBody.self, context: context)
            let added = try await gatehouse.addWebhook(eventId: try context.parameters.require("id"), url: body.url, secret: body.secret)
            return JSONAnswer(added, status: .created)
        }
        group.get("events/:id/webhooks") { _, context in
            JSONAnswer(["webhooks": try await gatehouse.webhooks(eventId: try context.parameters.require("id"))])
        }
        group.delete("webhooks/:id") { _, context in
            try await gatehouse.deleteWebhook(id: try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        // The audit trail, newest first: one event's, or (owners) everything.
        group.get("events/:id/audit") { request, context in
            let eventId = try context.parameters.require("id")
            _ = try await gatehouse.event(id: eventId)
            return JSONAnswer(AuditList(entries: try await accounts.audit(eventId: eventId, before: try Self.before(request), limit: 500)))
        }
        group.get("audit") { request, _ in
            JSONAnswer(AuditList(entries: try await accounts.audit(eventId: nil, before: try Self.before(request), limit: 500)))
        }
        // The fleet: each device's state from its latest heartbeat.
        group.get("events/:id/devices") { _, context in
            JSONAnswer(["devices": try await gatehouse.fleet(eventId: try context.parameters.require("id"))])
        }
    }

    package struct AuditList: Encodable, Sendable {
        var entries: [AuditEntry]
    }

    /// `?before=ID`: the page of entries older than that one.
    static func before(_ request: Request) throws -> Int64? {
        guard let text = request.uri.queryParameters["before"] else { return nil }
        guard let id = Int64(text), id > 0 else { throw InvalidInputError("before must be an audit entry's id") }
        return id
    }

    /// `{url, secret?}`: without a secret the service makes one.
    struct AddWebhookBody: Decodable {
        var url: String
        var secret: String?
    }

    /// `{mode}`: a lane mode, or null for none (the lane is normal unless the box says otherwise).
    struct LaneModeBody: Decodable {
        var mode: LaneMode?
    }

    package static func checkinFilter(_ query: Parameters) throws -> CheckinFilter {
        func date(_ name: String) throws -> Date? {
            guard let text = query[name.utf8Substring()] else { return nil }
            guard let date = APIJSON.parseDate(String(text)) else { throw InvalidInputError("\(name) must be an ISO 8601 time") }
            return date
        }
        var filter = CheckinFilter()
        filter.gateId = query["gate"].map(String.init)
        filter.since = try date("since")
        filter.until = try date("until")
        if let limit = query["limit"] {
            guard let value = Int(limit), (1...10_000).contains(value) else { throw InvalidInputError("limit must be between 1 and 10000") }
            filter.limit = value
        }
        if let after = query["after"] {
            guard let value = Int64(after), value >= 0 else { throw InvalidInputError("after must be a check-in id") }
            filter.afterId = value
        }
        return filter
    }
}

extension String {
    fileprivate func utf8Substring() -> Substring { Substring(self) }
}

/// `GET /api/events/:id/conflicts`.
package struct ConflictList: Encodable, Sendable {
    package var conflicts: [Conflict]
}

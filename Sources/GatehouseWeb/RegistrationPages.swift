import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// An event's registration page for the organizer: open or close the public page, its
/// capacity, closing time, ticket type and one-per-address rule, and what became of every
/// ticket mail (the failures with the server's words).
extension OrganizerSite {
    func addRegistrationPages(to router: RouterGroup<GatehouseRequestContext>) {
        addMailRetry(to: router)
        router.get("events/:id/registration") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(
                    try await registrationPage(
                        event,
                        values: Self.values(of: event.registration.settings, clock),
                        error: nil,
                        done: Self.query(request, "done")
                    )
                )
            }
        }
        router.post("events/:id/registration") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                refused: { try await registrationPage(try await gatehouse.event(id: id), values: values, error: $0, done: nil) }
            ) {
                values = try await WebForm.fields(request)
                let capacity = OrganizerSite.optional(values["capacity"])
                guard capacity.map({ Int($0) != nil }) ?? true else { throw InvalidInputError("Places must be a whole number") }
                let settings = RegistrationSettings(
                    open: values["open"] == "on",
                    capacity: capacity.flatMap { Int($0) },
                    closesAt: try clock.parse(values["closesAt"], field: "closesAt"),
                    ticketType: OrganizerSite.optional(values["ticketType"]),
                    onePerEmail: values["onePerEmail"] == "on"
                )
                _ = try await gatehouse.setRegistration(eventId: id, settings)
                return .redirect("/admin/events/\(id)/registration?done=saved")
            }
        }
    }

    /// "Send again" for every ticket whose latest mail failed for good: new codes, new mails.
    func addMailRetry(to router: RouterGroup<GatehouseRequestContext>) {
        router.post("events/:id/mails/retry") { request, context in
            await handle(request, context) {
                let id = try context.parameters.require("id")
                let failed = Self.failedTickets(try await gatehouse.mailDeliveries(eventId: id))
                if !failed.isEmpty { _ = try await gatehouse.mailTickets(ids: failed) }
                return .redirect("/admin/events/\(id)/registration?done=retried")
            }
        }
    }

    /// Tickets whose newest mail failed for good (mails come newest first).
    static func failedTickets(_ mails: [MailDelivery]) -> [String] {
        var seen = Set<String>()
        var failed: [String] = []
        for mail in mails where seen.insert(mail.ticketId).inserted && mail.state == .failed { failed.append(mail.ticketId) }
        return failed
    }

    static func values(of settings: RegistrationSettings, _ clock: OrganizerClock) -> [String: String] {
        var values: [String: String] = [:]
        if settings.open { values["open"] = "on" }
        if settings.onePerEmail { values["onePerEmail"] = "on" }
        values["capacity"] = settings.capacity.map(String.init)
        values["closesAt"] = clock.fieldValue(settings.closesAt)
        values["ticketType"] = settings.ticketType
        return values
    }

    func registrationPage(_ event: Event, values: [String: String], error: String?, done: String?) async throws -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var saved: Bool
            var retried: Bool
            var canRetry: Bool
            var registered: Int
            var capacity: Int?
            var state: String
            var publicPath: String
            var mailConfigured: Bool
            var error: String?
            var open: Bool
            var onePerEmail: Bool
            var fields: [FormField]
            var mails: [MailRow]
            var hasMails: Bool
            var failedMails: Int
            var waitingMails: Int
        }
        let mails = try await gatehouse.mailDeliveries(eventId: event.id)
        let registration = event.registration
        let state: String
        switch registration.settings.refusal(registered: registration.registered, addressTaken: false, at: gatehouse.now()) {
        case nil: state = "Open: people can register on the public page."
        case .full: state = "Full: the public page says every place is taken."
        case .closed, .alreadyRegistered: state = "Closed: the public page says registration is closed."
        }
        let zone = "In \(clock.timeZone.identifier) time"
        let model = Model(
            tabs: EventTabs(event, current: "registration"),
            eventId: event.id,
            saved: done == "saved",
            retried: done == "retried",
            canRetry: !Self.failedTickets(mails).isEmpty,
            registered: registration.registered,
            capacity: registration.settings.capacity,
            state: state,
            publicPath: "/register/\(event.id)",
            mailConfigured: mailConfigured,
            error: error,
            open: values["open"] == "on",
            onePerEmail: values["onePerEmail"] == "on",
            fields: [
                FormField(
                    "Places",
                    name: "capacity",
                    values: values,
                    type: "number",
                    min: 0,
                    max: Gatehouse.maximumCapacity,
                    hint: "Empty: no limit"
                ),
                FormField("Closes", name: "closesAt", values: values, type: "datetime-local", hint: zone + "; empty: when you close it"),
                FormField("Ticket type", name: "ticketType", values: values, maxLength: 200, hint: "What a registration gives"),
            ],
            mails: mails.prefix(200).map { MailRow($0, clock) },
            hasMails: !mails.isEmpty,
            failedMails: mails.filter { $0.state == .failed }.count,
            waitingMails: mails.filter { $0.state == .pending }.count
        )
        return WebPage(title: "Registration · \(event.name)", template: "registration", data: model, section: .events)
    }
}

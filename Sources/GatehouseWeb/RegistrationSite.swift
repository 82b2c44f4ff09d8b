import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseMail
import GatehouseStorage
import HTTPTypes
import Hummingbird

/// The public registration page of an event, `/register/{eventId}`: no credential, no script,
/// phone-first. The form answers with post/redirect/get: a page that says the ticket is on its
/// way (it shows no code — only the mail does, so registering proves the address is theirs), or
/// the form again with the refusal in plain words.
///
/// Against abuse: a form from our own page only; at most `limit` registrations per client address
/// in ten minutes (the refusal names the wait); a field people never see and bots fill (such a
/// form is answered as if it worked, and nothing is stored); addresses checked for shape.
package struct RegistrationSite: Sendable {
    package let gatehouse: Gatehouse
    package let form: WebForm
    package let clientAddress: ClientAddress
    package let clock: OrganizerClock
    package let limiter: RateLimiter

    package static let window: Double = 600

    package init(gatehouse: Gatehouse, form: WebForm, clientAddress: ClientAddress, clock: OrganizerClock, limit: Int) {
        self.gatehouse = gatehouse
        self.form = form
        self.clientAddress = clientAddress
        self.clock = clock
        limiter = RateLimiter(capacity: Double(limit), perSecond: Double(limit) / Self.window, now: gatehouse.now)
    }

    package func add(to router: Router<GatehouseRequestContext>) {
        router.get("register/:event") { request, context in
            await answer {
                let event = try await publicEvent(context)
                return registrationPage(event, form: FormView(error: nil, fields: fields([:])))
            }
        }
        router.post("register/:event") { request, context in
            await answer { try await register(request, context) }
        }
        router.get("register/:event/sent") { _, context in
            await answer {
                let event = try await publicEvent(context)
                return WebPage(
                    title: event.name,
                    template: "message",
                    data: WebPage.Message(
                        paragraphs: [
                            "Thank you. Your ticket is on its way to your e-mail address: it usually arrives within a minute.",
                            "If it has not come in ten minutes, look in the spam folder.",
                        ]
                    ),
                    organizerMenu: false
                ).response
            }
        }
    }

    /// The form's fields, showing what was typed.
    func fields(_ values: [String: String]) -> [FormField] {
        [
            FormField("Your name", name: "name", values: values, required: true, maxLength: 200),
            FormField("Your e-mail address", name: "email", values: values, type: "email", required: true, maxLength: 254),
        ]
    }

    struct Model: Sendable {
        var when: String?
        var place: String?
        var placesLeft: String?
        var closedReason: String?
        var form: Form?

        struct Form: Sendable {
            var action: String
            var error: String?
            var fields: [FormField]
        }
    }

    func registrationPage(_ event: Event, form: FormView?, status: HTTPResponse.Status = .ok) -> Response {
        let registration = event.registration
        let refusal = registration.settings.refusal(registered: registration.registered, addressTaken: false, at: gatehouse.now())
        var model = Model(
            when: event.startsAt.map(clock.writtenForPeople),
            place: event.place,
            closedReason: refusal.map(Self.words)
        )
        if let capacity = registration.settings.capacity, refusal == nil {
            let left = max(0, capacity - registration.registered)
            model.placesLeft = left == 1 ? "1 place left" : "\(left) places left"
        }
        if refusal == nil, let form {
            model.form = Model.Form(action: "/register/\(event.id)", error: form.error, fields: form.fields)
        }
        return WebPage(title: event.name, template: "register", data: model, status: status, organizerMenu: false).response
    }

    static func words(_ refusal: RegistrationRefusal) -> String {
        switch refusal {
        case .closed: "Registration for this event is closed."
        case .full: "Sorry: every place is taken, so registration is closed."
        case .alreadyRegistered:
            "A ticket for this event was already sent to this e-mail address. Look for it in your inbox (and the spam folder)."
        }
    }

    /// The event is read only for a page that shows it: a registration itself is one transaction
    /// (reading the event's counts for every form would cost more than the registration).
    func register(_ request: Request, _ context: GatehouseRequestContext) async throws -> Response {
        let eventId = try Self.eventId(context)
        guard form.isSameOrigin(request, peer: context.remoteHost) else {
            return WebPage.message(
                title: "Registration",
                ["This form was not sent from this page, so nothing was done. Open the registration page and send it from there."],
                status: .forbidden,
                organizerMenu: false
            ).response
        }
        let client = clientAddress.of(request, peer: context.remoteHost)
        if let wait = limiter.take(1, for: client) {
            let page = WebPage.message(
                title: "Registration",
                ["Too many registrations came from your network just now. Please try again in \(Self.wait(wait))."],
                status: .tooManyRequests,
                organizerMenu: false
            ).html
            return WebPage.response(
                status: .tooManyRequests,
                contentType: "text/html; charset=utf-8",
                body: page,
                headers: [.retryAfter: "\(wait)"]
            )
        }
        let values: [String: String]
        do {
            values = try await WebForm.fields(request)
        } catch {
            return registrationPage(
                try await publicEvent(context),
                form: FormView(error: "The form could not be read. Please send it again.", fields: fields([:])),
                status: .badRequest
            )
        }
        // A bot filled the field people never see: answered as if it worked, nothing stored.
        if let trap = values["website"], !trap.isEmpty { return WebPage.redirect(to: "/register/\(eventId)/sent") }
        let registrant: Gatehouse.Registrant
        do {
            registrant = try Gatehouse.Registrant(name: values["name"] ?? "", email: values["email"] ?? "")
        } catch {
            let message = (error as? InvalidInputError)?.description ?? "\(error)"
            return registrationPage(
                try await publicEvent(context),
                form: FormView(error: Self.sentence(message), fields: fields(values)),
                status: .unprocessableContent
            )
        }
        switch try await gatehouse.register(eventId: eventId, registrant) {
        case .registered:
            return WebPage.redirect(to: "/register/\(eventId)/sent")
        case .refused(let refusal):
            let event = try await publicEvent(context)
            if refusal == .alreadyRegistered {
                return registrationPage(event, form: FormView(error: Self.words(refusal), fields: fields(values)), status: .conflict)
            }
            // Closed or full since the page was shown: the page now says so.
            return registrationPage(event, form: nil, status: .conflict)
        }
    }

    /// "name must not be empty" → "Your name must not be empty."
    static func sentence(_ message: String) -> String {
        var text = message
        for (field, words) in [("name", "Your name"), ("not an e-mail address", "That is not an e-mail address")] where text.hasPrefix(field) {
            text = words + text.dropFirst(field.count)
        }
        if let first = text.first { text = first.uppercased() + text.dropFirst() }
        return text.hasSuffix(".") ? text : text + "."
    }

    static func wait(_ seconds: Int) -> String {
        seconds < 90 ? "\(seconds) seconds" : "\(Int((Double(seconds) / 60).rounded(.up))) minutes"
    }

    /// The event of the path, or a page that says there is no registration here.
    func publicEvent(_ context: GatehouseRequestContext) async throws -> Event {
        guard let event = try await gatehouse.store.event(id: try Self.eventId(context)) else { throw NotFoundError("registration") }
        return event
    }

    /// The path's event id, when it can be one.
    static func eventId(_ context: GatehouseRequestContext) throws -> String {
        let id = try context.parameters.require("event")
        guard (1...64).contains(id.utf8.count) else { throw NotFoundError("registration") }
        return id
    }

    /// Errors as pages a person can read: no event here, or the service cannot answer now.
    func answer(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch is NotFoundError {
            return WebPage.message(
                title: "Not found",
                ["There is no registration at this address. Please check the link you were given."],
                status: .notFound,
                organizerMenu: false
            ).response
        } catch {
            return WebPage.message(
                title: "Please try again",
                ["Registration cannot be taken just now. Nothing was stored: please try again in a minute."],
                status: .serviceUnavailable,
                organizerMenu: false
            ).response
        }
    }
}

import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Who may call an organizer route, decided once for every route of a group: finds the principal
/// (`Authenticator`), looks the route up in its rules (`AccessRules`), finds the event the request
/// is about, and lets it through only when the principal's role and events allow it. A change that
/// went through, or was refused, goes into the audit trail.
package struct AccessGate: RouterMiddleware {
    package typealias Context = GatehouseRequestContext

    /// What to answer a request without a credential, or with one that may not.
    package struct Refusals: Sendable {
        package var unauthenticated: @Sendable (Request) -> Response
        package var forbidden: @Sendable (Request, String) -> Response

        package init(
            unauthenticated: @escaping @Sendable (Request) -> Response,
            forbidden: @escaping @Sendable (Request, String) -> Response
        ) {
            self.unauthenticated = unauthenticated
            self.forbidden = forbidden
        }
    }

    /// The largest body whose `eventId` the gate reads: a device or a pairing is a few hundred bytes.
    static let scopedBodyLimit = 16 * 1024

    let authenticator: Authenticator
    let rules: [String: AccessRule]
    let gatehouse: Gatehouse
    let clientAddress: ClientAddress
    let refusals: Refusals?

    /// `refusals` nil: the API's problem answers (401 with `WWW-Authenticate: Bearer`, 403).
    package init(
        authenticator: Authenticator,
        rules: [String: AccessRule],
        gatehouse: Gatehouse,
        clientAddress: ClientAddress,
        refusals: Refusals? = nil
    ) {
        self.authenticator = authenticator
        self.rules = rules
        self.gatehouse = gatehouse
        self.clientAddress = clientAddress
        self.refusals = refusals
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let secure = clientAddress.overTLS(request, peer: context.remoteHost)
        guard let principal = try await authenticator.principal(request, cookies: refusals != nil, secure: secure) else {
            if let refusals { return refusals.unauthenticated(request) }
            throw Problem.unauthorized(request.bearerToken == nil ? "a credential is required (Authorization: Bearer …)" : "unknown or revoked token")
        }
        let route = "\(request.method) \(context.endpointPath ?? request.uri.path)"
        guard let rule = rules[route] else {
            // Fail closed: a route someone forgot to give a rule is no one's.
            context.logger.error("An organizer route has no access rule; refused", metadata: ["route": "\(route)"])
            return try refuse(request, context, "this page has no access rule")
        }
        var request = request
        let eventId = try await event(of: rule.scope, request: &request, context: context)
        var context = context
        context.principal = principal
        let subject = Self.subject(of: rule.scope, context: context)
        let address = clientAddress.of(request, peer: context.remoteHost)
        let allowed =
            switch rule.scope {
            case .everyEvent: principal.role.may(rule.permission) && principal.coversEveryEvent
            default: principal.may(rule.permission, eventId: eventId)
            }
        guard allowed else {
            if let action = rule.action {
                try? await record(
                    principal,
                    action: action,
                    eventId: eventId,
                    subject: subject,
                    address: address,
                    detail: "refused: not allowed for the \(principal.role.title) role"
                )
            }
            let words =
                principal.role.may(rule.permission)
                ? "your account does not have this event"
                : "the \(principal.role.title) role may not do this"
            return try refuse(request, context, words)
        }
        let response = try await next(request, context)
        if let action = rule.action, response.status.code < 400 {
            // The change is made: an answer that said otherwise would be a lie, so a trail that
            // cannot be written is logged (loudly), not answered as a failure.
            do {
                try await record(principal, action: action, eventId: eventId, subject: subject, address: address, detail: nil)
            } catch {
                context.logger.error(
                    "A change was made but the audit trail could not record it",
                    metadata: ["route": "\(route)", "audit.action": "\(action)", "error": "\(error)"]
                )
            }
        }
        return response
    }

    private func refuse(_ request: Request, _ context: Context, _ words: String) throws -> Response {
        if let refusals { return refusals.forbidden(request, words) }
        return try Problem(.forbidden, words).response(from: request, context: context)
    }

    private func record(_ principal: Principal, action: String, eventId: String?, subject: String?, address: String, detail: String?) async throws {
        try await authenticator.accounts.record(
            AuditEntry(
                at: gatehouse.now(),
                accountId: principal.accountId,
                actor: principal.actor,
                address: address,
                action: action,
                eventId: eventId,
                subject: subject,
                detail: detail
            )
        )
    }

    /// The id the route acts on, for the audit trail (an event's own routes name no other).
    static func subject(of scope: EventScope, context: Context) -> String? {
        switch scope {
        case .ticket(let name), .device(let name), .list(let name), .webhook(let name): context.parameters.get(name)
        // A route of no one event names its subject by `id` (an account); an event's own routes
        // use `id` for the event, and name a device, if any, by `device`.
        case .none, .everyEvent: context.parameters.get("id")
        case .event, .bodyEventId: context.parameters.get("device")
        }
    }

    /// The event the request is about; nil when it names none, or names something that does not
    /// exist (the route then answers 404 as it would for anyone).
    private func event(of scope: EventScope, request: inout Request, context: Context) async throws -> String? {
        func found<T>(_ lookup: () async throws -> T?) async throws -> T? {
            do { return try await lookup() } catch is NotFoundError { return nil }
        }
        switch scope {
        case .none, .everyEvent: return nil
        case .event(let name): return context.parameters.get(name)
        case .ticket(let name):
            guard let id = context.parameters.get(name) else { return nil }
            return try await found { try await gatehouse.ticket(id: id) }?.eventId
        case .device(let name):
            guard let id = context.parameters.get(name) else { return nil }
            return try await gatehouse.store.device(id: id)?.eventId
        case .list(let name):
            guard let id = context.parameters.get(name) else { return nil }
            return try await found { try await gatehouse.list(id: id) }?.eventId
        case .webhook(let name):
            guard let id = context.parameters.get(name) else { return nil }
            return try await gatehouse.store.webhook(id: id)?.eventId
        case .bodyEventId:
            // Read here (within the process's body budget, as every route reads), and handed on
            // whole to the route, which reads it again.
            let bytes = try await BodyBudget.shared.withReservation(Self.scopedBodyLimit) {
                var body = try await request.body.collect(upTo: Self.scopedBodyLimit)
                return body.readBytes(length: body.readableBytes) ?? []
            }
            struct Named: Decodable { var eventId: String? }
            request.body = RequestBody(buffer: ByteBuffer(bytes: bytes))
            return (try? APIJSON.decoder.decode(Named.self, from: Data(bytes)))?.eventId
        }
    }
}

/// Finds who a request comes from: a personal API token or the admin token (`Authorization:
/// Bearer`), on the organizer's pages also the admin token in HTTP Basic (any user name) and the
/// session cookie. The API takes no cookie: a browser sends cookies with requests other sites make
/// it send, and the API's routes have no same-origin check of their own.
package struct Authenticator: Sendable {
    /// The session cookie's name: over TLS with the `__Host-` prefix, which browsers accept only
    /// from this very host, `Secure`, for the whole path — a sibling subdomain cannot toss in a
    /// cookie of that name. Over plain http (a laptop at the venue) the plain name.
    package static func sessionCookie(secure: Bool) -> String { secure ? "__Host-gatehouse_session" : "gatehouse_session" }

    /// The session id a request brings, under the name its scheme allows (over TLS the plain name
    /// is ignored: anyone on a sibling host could have set it).
    package static func session(_ request: Request, secure: Bool) -> String? {
        request.cookies[sessionCookie(secure: secure)]?.value
    }

    /// The session cookie for `value` (an empty value with `maxAge` 0 removes it).
    package static func sessionCookie(_ value: String, secure: Bool, maxAge: Int? = nil) -> Cookie {
        Cookie(name: sessionCookie(secure: secure), value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }
    package static let browserCookie = "gatehouse_browser"

    package let adminAuth: AdminAuthMiddleware
    package let accounts: AccountBook

    package init(adminAuth: AdminAuthMiddleware, accounts: AccountBook) {
        self.adminAuth = adminAuth
        self.accounts = accounts
    }

    package func principal(_ request: Request, cookies: Bool, secure: Bool) async throws -> Principal? {
        if let token = request.bearerToken ?? (cookies ? Self.basicPassword(request) : nil) {
            if adminAuth.admits(token) { return .adminToken }
            return try await accounts.principal(personalToken: token)
        }
        guard cookies, let session = Self.session(request, secure: secure) else { return nil }
        return try await accounts.principal(session: session)
    }

    /// The password of `Authorization: Basic base64(user:password)`.
    package static func basicPassword(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.count > 6, value.prefix(6).lowercased() == "basic " else { return nil }
        guard let decoded = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return String(text[text.index(after: colon)...])
    }
}

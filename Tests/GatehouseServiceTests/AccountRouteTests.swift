import Foundation
import GatehouseCore
import GatehouseHarness
import GatehouseStorage
import Hummingbird
import Logging
import Synchronization
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseSQLite
@testable import GatehouseService

/// One person of the role tests: their account, a personal API token, a signed-in session.
struct Staff: Sendable {
    var email: String
    var accountId: String
    var role: Role
    var eventIds: [String]
    var token: String
    var session: String

    var principal: Principal {
        Principal(
            account: Account(id: accountId, email: email, role: role, eventIds: eventIds, createdAt: Date()),
            credential: .personalToken(id: "")
        )
    }
}

extension RouteClient {
    static let password = "a long enough password"
    static let sameOrigin = ["Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"]

    /// An account made through the API (as an owner's script would), with a token and a session.
    func staff(_ email: String, role: Role, events: [String] = []) async throws -> Staff {
        let added = try await call(
            "POST",
            "/api/accounts",
            ["email": email, "role": role.rawValue, "eventIds": events, "password": Self.password],
            expect: 201
        )
        let account = try #require(added["account"] as? [String: Any])
        let id = try #require(account["id"] as? String)
        let token = try #require(try await call("POST", "/api/accounts/\(id)/tokens", ["name": "tests"], expect: 201)["token"] as? String)
        let session = try #require(try await signIn(email, Self.password).session)
        return Staff(email: email.lowercased(), accountId: id, role: role, eventIds: events, token: token, session: session)
    }

    /// Posts the sign-in form; the session cookie set, if any, and the answer.
    func signIn(
        _ email: String,
        _ password: String,
        cookies: [String: String] = [:],
        next: String? = nil
    ) async throws -> (
        session: String?, response: RouteResponse
    ) {
        var body =
            "email=\(email.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        if let next { body += "&next=\(next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
        var headers = Self.sameOrigin.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 }
        if !cookies.isEmpty { headers["Cookie"] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let response = try await request("POST", "/signin", body: Array(body.utf8), headers: headers)
        return (Self.cookie(Authenticator.sessionCookie(secure: false), in: response), response)
    }

    /// A cookie's value from the answer's Set-Cookie fields.
    static func cookie(_ name: String, in response: RouteResponse) -> String? {
        for line in (response.headers["set-cookie"] ?? "").split(separator: "\n") where line.hasPrefix(name + "=") {
            let value = line.dropFirst(name.count + 1).prefix { $0 != ";" }
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }

    func page(_ method: String, _ path: String, session: String, body: String = "", extra: [String: String] = [:]) async throws -> RouteResponse {
        var headers = ["Cookie": "\(Authenticator.sessionCookie(secure: false))=\(session)"]
        if method != "GET" {
            headers.merge(Self.sameOrigin) { $1 }
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        }
        headers.merge(extra) { $1 }
        return try await request(method, path, body: method == "GET" ? nil : Array(body.utf8), headers: headers)
    }
}

@Suite struct AccessRuleTests {
    /// Routes anyone may call, or a device with its own token: everything else under /api is the
    /// organizer's and needs a rule.
    static let notOrganizers: Set<String> = [
        "POST /api/checkin", "POST /api/enroll", "GET /api/sync/tickets", "POST /api/offline-checkins", "POST /api/devices/{id}/lane",
        "POST /api/devices/{id}/heartbeat", "POST /api/checkins/{scanId}/annul", "GET /api/openapi.yaml", "GET /api/scanner/session",
        "POST /api/scanner/signout", "GET /api/scanner/tickets/{id}", "POST /api/scanner/decode", "GET /api/scanner/account",
        "POST /api/scanner/pair",
    ]

    @Test func every_organizer_route_has_exactly_one_rule() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStore(path: folder.file("rules.sqlite"))
        let router = buildRouter(gatehouse: Gatehouse(store: store), adminTokenHash: TokenHash.of("unused-admin-token"))
        let routes = Set(router.routes.map(\.description))
        for route in routes.sorted() {
            if route.hasPrefix("GET /admin") || route.hasPrefix("POST /admin") || route.hasPrefix("HEAD /admin") {
                #expect(AccessRules.pages[route] != nil, "\(route) has no rule in AccessRules.pages")
            } else if route.contains(" /api/") {
                #expect(AccessRules.api[route] != nil || Self.notOrganizers.contains(route), "\(route) has no rule in AccessRules.api")
            }
        }
        // And no rule names a route that does not exist (a typo would leave the real one ruleless).
        for route in AccessRules.api.keys.sorted() + AccessRules.pages.keys.sorted() {
            #expect(routes.contains(route), "the rule \(route) names no route")
        }
    }
}

/// Every organizer route against every role, on every store: allowed (whatever the route then
/// answers) or 403 — through personal API tokens for /api and signed-in sessions for the pages.
@Suite struct RoleMatrixTests {
    struct World: Sendable {
        var event: String
        var ticket: String
        var device: String
        var list: String
        var webhook: String
        var spareAccount: String
    }

    static func path(_ route: String, _ world: World, scope: EventScope) -> String {
        var path = String(route.split(separator: " ", maxSplits: 1)[1])
        let id: String =
            switch scope {
            case .ticket: world.ticket
            case .device: world.device
            case .list: world.list
            case .webhook: world.webhook
            case .none, .everyEvent, .bodyEventId: world.spareAccount
            case .event: world.event
            }
        path = path.replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{device}", with: world.device)
        path = path.replacingOccurrences(of: "{batch}", with: "B1").replacingOccurrences(of: "{job}", with: "J1")
        path = path.replacingOccurrences(of: "{handle}", with: "H1").replacingOccurrences(of: "**", with: "nothing-here")
        return path
    }

    static func allowed(_ staff: Staff, _ rule: AccessRule, event: String) -> Bool {
        let principal = staff.principal
        switch rule.scope {
        case .none: return principal.role.may(rule.permission)
        case .everyEvent: return principal.role.may(rule.permission) && principal.coversEveryEvent
        default: return principal.may(rule.permission, eventId: event)
        }
    }

    func world(_ web: RouteClient) async throws -> (World, [Staff]) {
        let event = try await web.createEvent("Matrix")
        let other = try await web.createEvent("Elsewhere")
        let ticket = try await web.issue(event: event)[0].id
        let device = try await web.addDevice(event: event).id
        let list = try #require(
            try await web.call("POST", "/api/events/\(event)/lists", ["name": "Main", "gates": ["north-1"]], expect: 201)["id"] as? String
        )
        let webhook = try await web.call("POST", "/api/events/\(event)/webhooks", ["url": "https://signage.example.org/in"], expect: 201)
        let webhookId = try #require((webhook["webhook"] as? [String: Any])?["id"] as? String)
        let spare = try await web.call("POST", "/api/accounts", ["email": "spare-\(event)@example.org", "role": "steward"], expect: 201)
        let spareId = try #require((spare["account"] as? [String: Any])?["id"] as? String)
        // Those refused come first: nothing the allowed ones change (a revoked device, a removed
        // list) can turn a refusal into a 404.
        let people = [
            try await web.staff("steward-\(event)@example.org", role: .steward, events: [event]),
            try await web.staff("boxoffice-\(event)@example.org", role: .boxoffice, events: [event]),
            try await web.staff("elsewhere-\(event)@example.org", role: .organizer, events: [other]),
            try await web.staff("organizer-\(event)@example.org", role: .organizer, events: [event]),
            try await web.staff("everything-\(event)@example.org", role: .organizer),
            try await web.staff("owner-\(event)@example.org", role: .owner),
        ]
        return (World(event: event, ticket: ticket, device: device, list: list, webhook: webhookId, spareAccount: spareId), people)
    }

    @Test(arguments: StoreKind.available)
    func every_api_route_for_every_role(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let (world, people) = try await world(web)
            for person in people {
                for (route, rule) in AccessRules.api.sorted(by: { $0.key < $1.key }) {
                    let method = String(route.split(separator: " ")[0])
                    let allowed = Self.allowed(person, rule, event: world.event)
                    // The stream never ends by itself: only its refusal is asked for here.
                    if allowed && route.hasSuffix("/stream") { continue }
                    let body: Any? = method == "GET" || method == "DELETE" ? nil : ["eventId": world.event]
                    let answer = try await web.json(method, Self.path(route, world, scope: rule.scope), body, bearer: person.token)
                    if allowed {
                        #expect(answer.status != 403 && answer.status != 401, "\(person.email) \(route): \(answer.status) \(answer.text.prefix(200))")
                    } else {
                        #expect(answer.status == 403, "\(person.email) \(route): \(answer.status) \(answer.text.prefix(200))")
                    }
                }
            }
            // A list of events shows only the person's own.
            let elsewhere = people[2]
            let listed = try await web.json("GET", "/api/events", bearer: elsewhere.token).json()["events"] as? [[String: Any]]
            #expect(listed?.compactMap { $0["name"] as? String } == ["Elsewhere"])
        }
    }

    @Test(arguments: StoreKind.available)
    func every_page_for_every_role(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let (world, people) = try await world(web)
            for person in people {
                for (route, rule) in AccessRules.pages.sorted(by: { $0.key < $1.key }) {
                    let method = String(route.split(separator: " ")[0])
                    let allowed = Self.allowed(person, rule, event: world.event)
                    let path = Self.path(route, world, scope: rule.scope)
                    if method == "POST" {
                        // CSRF: the person's own cookie, on a form another site made the browser send.
                        let forged = try await web.page(
                            method,
                            path,
                            session: person.session,
                            extra: ["Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"]
                        )
                        #expect(forged.status == 403 && forged.text.contains("not sent from Gatehouse"), "\(person.email) \(route): \(forged.status)")
                    }
                    let answer = try await web.page(method, path, session: person.session)
                    if allowed {
                        #expect(answer.status != 403 && answer.status != 401, "\(person.email) \(route): \(answer.status)")
                    } else {
                        #expect(answer.status == 403, "\(person.email) \(route): \(answer.status)")
                        #expect(answer.text.contains("Not allowed"), "\(route): a page that says so")
                    }
                }
            }
        }
    }
}

@Suite struct SignInRouteTests {
    @Test(arguments: StoreKind.available)
    func a_sign_in_is_a_fresh_session_until_signing_out(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let alice = try await web.staff("alice-\(event)@example.org", role: .organizer)
            // The cookie: HttpOnly, SameSite=Lax, the whole site; not Secure over plain http.
            let (session, signedIn) = try await web.signIn(alice.email.uppercased(), RouteClient.password, next: "/admin/events/\(event)")
            #expect(signedIn.status == 303 && signedIn.headers["location"] == "/admin/events/\(event)")
            let line = try #require(signedIn.headers["set-cookie"]?.split(separator: "\n").first { $0.hasPrefix("gatehouse_session=") })
            #expect(line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/") && !line.contains("Secure"))
            #expect(try await web.page("GET", "/admin", session: try #require(session)).status == 200)

            // Fixation: a session id planted before sign-in is never the one used after it, and
            // a planted session of the attacker's own is ended by the victim's sign-in.
            let mallory = try await web.staff("mallory-\(event)@example.org", role: .steward, events: [event])
            let (fresh, _) = try await web.signIn(
                alice.email,
                RouteClient.password,
                cookies: [Authenticator.sessionCookie(secure: false): mallory.session]
            )
            #expect(fresh != nil && fresh != mallory.session)
            #expect(try await web.page("GET", "/scanner", session: mallory.session).status == 200)
            #expect(try await web.json("GET", "/api/scanner/account", bearer: nil).status == 401)
            let planted = try await web.request("GET", "/api/scanner/account", headers: ["Cookie": "gatehouse_session=\(mallory.session)"])
            #expect(planted.status == 401, "the planted session ended at the victim's sign-in")

            // Signing out ends it on the service: the same cookie replayed is nothing.
            let out = try await web.page("POST", "/signout", session: try #require(fresh))
            #expect(out.status == 303 && out.headers["location"] == "/signin")
            #expect(out.headers["set-cookie"]?.contains("Max-Age=0") == true)
            let replayed = try await web.page("GET", "/admin", session: try #require(fresh))
            #expect(replayed.status == 303 && replayed.headers["location"]?.hasPrefix("/signin?next=") == true)

            // Wrong passwords and unknown addresses read the same.
            let wrong = try await web.signIn(alice.email, "not the password at all")
            let unknown = try await web.signIn("nobody-\(event)@example.org", "not the password at all")
            #expect(wrong.session == nil && unknown.session == nil && wrong.response.status == 401 && unknown.response.status == 401)
            #expect(wrong.response.text.contains("is not right") && unknown.response.text.contains("is not right"))
            // Another site's form signs no one in or out, and a next= elsewhere is not followed.
            let foreign = try await web.request(
                "POST",
                "/signin",
                body: Array("email=\(alice.email)&password=\(RouteClient.password)".utf8),
                headers: ["Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"]
            )
            #expect(foreign.status == 403 && foreign.headers["set-cookie"] == nil)
            for next in ["//evil.example/admin", "https://evil.example", "/\\evil.example"] {
                let (_, away) = try await web.signIn(alice.email, RouteClient.password, next: next)
                #expect(away.headers["location"] == "/admin", "\(next)")
            }
            let signOutElsewhere = try await web.request(
                "POST",
                "/signout",
                headers: ["Cookie": "gatehouse_session=\(alice.session)", "Origin": "https://evil.example"]
            )
            #expect(signOutElsewhere.status == 403)
            #expect(try await web.page("GET", "/admin", session: alice.session).status == 200)
            // The session cookie is never a credential for the API (its routes have no origin check).
            let viaCookie = try await web.request("GET", "/api/events", headers: ["Cookie": "gatehouse_session=\(alice.session)"])
            #expect(viaCookie.status == 401)
        }
    }

    @Test(arguments: StoreKind.available)
    func sessions_end_when_idle_when_old_and_when_the_password_changes(_ kind: StoreKind) async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_900_000_000))
        let now: @Sendable () -> Date = { clock.withLock { $0 } }
        let advance: @Sendable (TimeInterval) -> Void = { seconds in clock.withLock { $0 += seconds } }
        // Alone: this service's clock runs days ahead, and its background work (lists counted out
        // at their time) would reach the rows of the tests beside it in a shared database.
        try await withService(kind, now: now, alone: true) { web in
            let event = try await web.createEvent()
            let bob = try await web.staff("bob-\(event)@example.org", role: .organizer)
            // Idle: two hours without a request.
            advance(2 * 3600 - 60)
            #expect(try await web.page("GET", "/admin", session: bob.session).status == 200)
            advance(2 * 3600 - 60)
            #expect(try await web.page("GET", "/admin", session: bob.session).status == 200, "each request keeps it going")
            advance(2 * 3600 + 1)
            #expect(try await web.page("GET", "/admin", session: bob.session).status == 303)
            // Absolute: twelve hours, however busy.
            let (busy, _) = try await web.signIn(bob.email, RouteClient.password)
            for _ in 0..<11 {
                advance(3600)
                #expect(try await web.page("GET", "/admin", session: try #require(busy)).status == 200)
            }
            advance(3600)
            #expect(try await web.page("GET", "/admin", session: try #require(busy)).status == 303)

            // A password set through a new link ends every session of the account.
            let (laptop, _) = try await web.signIn(bob.email, RouteClient.password)
            let (phone, _) = try await web.signIn(bob.email, RouteClient.password)
            let link = try #require(
                try await web.call("POST", "/api/accounts/\(bob.accountId)/password-link", [:], expect: 201)["passwordLinkToken"] as? String
            )
            #expect(try await web.request("GET", "/signin/password?token=\(link)").status == 200)
            let mismatch = try await web.request(
                "POST",
                "/signin/password",
                body: Array("token=\(link)&password=another+long+password&again=another+long+passwrod".utf8),
                headers: RouteClient.sameOrigin.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 }
            )
            #expect(mismatch.status == 422)
            let set = try await web.request(
                "POST",
                "/signin/password",
                body: Array("token=\(link)&password=another+long+password&again=another+long+password".utf8),
                headers: RouteClient.sameOrigin.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 }
            )
            #expect(set.status == 303 && set.headers["location"] == "/signin?done=password")
            for session in [laptop, phone] {
                #expect(try await web.page("GET", "/admin", session: try #require(session)).status == 303)
            }
            #expect(try await web.request("GET", "/signin/password?token=\(link)").status == 410, "a link works once")
            #expect(try await web.signIn(bob.email, RouteClient.password).session == nil)
            #expect(try await web.signIn(bob.email, "another long password").session != nil)
            // Changed on the page by the person: the current password first; their other
            // sign-ins end, this browser goes on with a new session.
            let (desk, _) = try await web.signIn(bob.email, "another long password")
            let (pocket, _) = try await web.signIn(bob.email, "another long password")
            let wrongCurrent = try await web.page(
                "POST",
                "/admin/account/password",
                session: try #require(desk),
                body: "current=not+it+at+all&password=a+third+long+password&again=a+third+long+password"
            )
            #expect(wrongCurrent.status == 422 && wrongCurrent.text.contains("current password is not right"))
            let changed = try await web.page(
                "POST",
                "/admin/account/password",
                session: try #require(desk),
                body: "current=another+long+password&password=a+third+long+password&again=a+third+long+password"
            )
            #expect(changed.status == 303)
            let renewed = try #require(RouteClient.cookie(Authenticator.sessionCookie(secure: false), in: changed))
            #expect(renewed != desk)
            #expect(try await web.page("GET", "/admin", session: renewed).status == 200, "this browser goes on")
            #expect(try await web.page("GET", "/admin", session: try #require(pocket)).status == 303, "the other sign-in ended")
            #expect(try await web.page("GET", "/admin", session: try #require(desk)).status == 303, "the old id of this one too")
            #expect(try await web.signIn(bob.email, "a third long password").session != nil)
            // The token of a disabled account stops at once, and its sessions with it.
            let (last, _) = try await web.signIn(bob.email, "a third long password")
            _ = try await web.call("POST", "/api/accounts/\(bob.accountId)/disable", [:], expect: 200)
            #expect(try await web.json("GET", "/api/events", bearer: bob.token).status == 401)
            #expect(try await web.page("GET", "/admin", session: try #require(last)).status == 303)
            #expect(try await web.signIn(bob.email, "a third long password").session == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func every_change_is_in_the_audit_trail_with_who_and_none_can_edit_it(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let carol = try await web.staff("carol-\(event)@example.org", role: .boxoffice, events: [event])
            let ticket = try await web.issue(event: event)[0].id
            #expect(try await web.json("POST", "/api/tickets/\(ticket)/reissue", [:], bearer: carol.token).status == 200)
            #expect(try await web.json("POST", "/api/tickets/\(ticket)/revoke", [:], bearer: carol.token).status == 403)
            let reissuedOnPage = try await web.page("POST", "/admin/tickets/\(ticket)/reissue", session: carol.session)
            #expect(reissuedOnPage.status == 303)
            _ = try await web.signIn(carol.email, "a wrong password")

            let entries = try #require(try await web.call("GET", "/api/events/\(event)/audit", expect: 200)["entries"] as? [[String: Any]])
            let lines = entries.map { "\($0["actor"] ?? "") | \($0["action"] ?? "") | \($0["subject"] ?? "") | \($0["detail"] ?? "")" }
            #expect(lines.contains("\(carol.email) | ticket re-issued | \(ticket) | "), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("\(carol.email) | ticket revoked | \(ticket) | refused") }, "\(lines)")
            #expect(lines.contains("admin token | tickets issued |  | "), "\(lines)")
            let everything = try #require(try await web.call("GET", "/api/audit", expect: 200)["entries"] as? [[String: Any]])
            #expect(everything.contains { $0["action"] as? String == "sign-in failed" && $0["subject"] as? String == carol.email })
            #expect(everything.contains { $0["action"] as? String == "account added" })
            // The event's organizer reads its trail; the box office does not, and nobody edits it.
            #expect(try await web.json("GET", "/api/events/\(event)/audit", bearer: carol.token).status == 403)
            for method in ["PUT", "DELETE", "PATCH", "POST"] {
                let status = try await web.json(method, "/api/events/\(event)/audit", [:]).status
                #expect([404, 405].contains(status), "\(method): \(status)")
            }
            let page = try await web.request("GET", "/admin/events/\(event)/audit", headers: ["Authorization": "Bearer \(web.adminToken)"])
            #expect(page.status == 200 && page.text.contains(carol.email) && page.text.contains("ticket re-issued"))
        }
    }

    @Test(arguments: StoreKind.available)
    func the_box_office_checks_a_ticket_in_by_hand_once(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let pat = try await web.staff("pat-\(event)@example.org", role: .boxoffice, events: [event])
            let steward = try await web.staff("sid-\(event)@example.org", role: .steward, events: [event])
            let tickets = try await web.issue(event: event, quantity: 2)
            // On the ticket's page: a button, then the answer in words.
            let page = try await web.page("GET", "/admin/tickets/\(tickets[0].id)", session: pat.session)
            #expect(page.text.contains("/admin/tickets/\(tickets[0].id)/checkin"))
            // The form carries its click's scanId: sent again (a reload after a lost answer, a
            // double click), it is the same check-in and gets the first answer.
            let scanId = try #require(page.text.firstMatch(of: /name=scanId value="(desk-[A-Z2-7]{16})"/)?.output.1)
            let first = try await web.page("POST", "/admin/tickets/\(tickets[0].id)/checkin", session: pat.session, body: "scanId=\(scanId)")
            #expect(first.status == 200 && first.text.contains("is checked in at the box office"))
            let resent = try await web.page("POST", "/admin/tickets/\(tickets[0].id)/checkin", session: pat.session, body: "scanId=\(scanId)")
            #expect(resent.status == 200 && resent.text.contains("is checked in at the box office"), "\(resent.text)")
            // A click on the page loaded again is a new scan: the holder is in already, and it says so.
            let again = try await web.page("POST", "/admin/tickets/\(tickets[0].id)/checkin", session: pat.session)
            #expect(again.status == 409 && again.text.contains("Already checked in") && again.text.contains("box-office"), "\(again.text)")
            let forged = try await web.page(
                "POST",
                "/admin/tickets/\(tickets[0].id)/checkin",
                session: pat.session,
                body: "scanId=" + String(repeating: "x", count: 300)
            )
            #expect(forged.status == 400)
            #expect(!(try await web.page("GET", "/admin/tickets/\(tickets[0].id)", session: pat.session).text.contains("/checkin\"")))
            // Through the API: the gate's answer, once.
            let api = try await web.json("POST", "/api/tickets/\(tickets[1].id)/checkin", [:], bearer: pat.token)
            let admitted = try api.json()["result"] as? String
            #expect(api.status == 200 && admitted == "valid")
            let twice = try await web.json("POST", "/api/tickets/\(tickets[1].id)/checkin", [:], bearer: pat.token)
            let refused = try twice.json()["result"] as? String
            #expect(refused == "already_used")
            #expect(try await web.json("POST", "/api/tickets/\(tickets[1].id)/checkin", [:], bearer: steward.token).status == 403)
            // The log says where and by whom: the box office's own device of this person.
            let log = try #require(try await web.call("GET", "/api/events/\(event)/checkins", expect: 200)["checkins"] as? [[String: Any]])
            #expect(log.filter { $0["gateId"] as? String == "box-office" }.count == 4, "the resent form wrote no row of its own")
            let devices = try #require(try await web.call("GET", "/api/events/\(event)/devices", expect: 200)["devices"] as? [[String: Any]])
            #expect(devices.filter { $0["gateId"] as? String == "box-office" }.count == 1, "one device per person and event, made once")
            let ticket = try await web.call("GET", "/api/tickets/\(tickets[0].id)", expect: 200)
            #expect(ticket["status"] as? String == "used" && ticket["usedGate"] as? String == "box-office")
        }
    }

    @Test(arguments: StoreKind.available)
    func a_signed_in_steward_pairs_a_phone_without_a_code(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent("Concert")
            let other = try await web.createEvent("Other")
            let dora = try await web.staff("dora-\(event)@example.org", role: .steward, events: [event])
            let cookie = ["Cookie": "gatehouse_session=\(dora.session)"]
            let account = try await web.request("GET", "/api/scanner/account", headers: cookie).json()
            #expect(account["email"] as? String == dora.email)
            #expect((account["events"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [event])
            // A steward opens no organizer page.
            #expect(try await web.page("GET", "/admin/events/\(event)", session: dora.session).status == 403)
            let attempt = "attempt-\(event)"
            func pair(_ eventId: String, gate: String = "door-1", headers: [String: String]) async throws -> RouteResponse {
                try await web.request(
                    "POST",
                    "/api/scanner/pair",
                    body: Array(#"{"eventId":"\#(eventId)","gateId":"\#(gate)","attempt":"\#(attempt)"}"#.utf8),
                    headers: headers.merging(["Content-Type": "application/json"]) { $1 }
                )
            }
            #expect(try await pair(other, headers: cookie.merging(RouteClient.sameOrigin) { $1 }).status == 403)
            #expect(try await pair(event, headers: cookie.merging(["Origin": "https://evil.example"]) { $1 }).status == 403)
            #expect(try await pair(event, headers: RouteClient.sameOrigin).status == 401)
            let paired = try await pair(event, headers: cookie.merging(RouteClient.sameOrigin) { $1 })
            #expect(paired.status == 201)
            let token = try #require(try paired.json()["token"] as? String)
            // The phone says who is scanning, and checks tickets in with its own token.
            let session = try await web.json("GET", "/api/scanner/session", bearer: token).json()
            #expect(session["deviceName"] as? String == dora.email && session["gateId"] as? String == "door-1")
            let ticket = try await web.issue(event: event)[0]
            let deviceId = try #require(try paired.json()["deviceId"] as? String)
            let answer = try await web.json(
                "POST",
                "/api/checkin",
                ["qrData": ticket.qrData, "deviceId": deviceId, "gateId": "door-1"],
                bearer: token
            )
            let result = try answer.json()["result"] as? String
            #expect(answer.status == 200 && result == "valid")
            let trail = try #require(try await web.call("GET", "/api/events/\(event)/audit", expect: 200)["entries"] as? [[String: Any]])
            #expect(trail.filter { $0["actor"] as? String == dora.email && $0["action"] as? String == AuditAction.scannerPaired }.count == 1)
            // The same attempt asked again (its answer was lost): the same device and token, no
            // second device; the attempt for another gate, or once its phone signed out, is refused.
            let sameOrigin = cookie.merging(RouteClient.sameOrigin) { $1 }
            let again = try await pair(event, headers: sameOrigin)
            #expect(again.status == 200)
            #expect(try again.json()["token"] as? String == token && (try again.json()["deviceId"] as? String) == deviceId)
            #expect(try await pair(event, gate: "door-2", headers: sameOrigin).status == 409)
            let devices = try #require(try await web.call("GET", "/api/events/\(event)/devices", expect: 200)["devices"] as? [[String: Any]])
            #expect(devices.filter { $0["gateId"] as? String == "door-1" }.count == 1)
            let afterAgain = try #require(try await web.call("GET", "/api/events/\(event)/audit", expect: 200)["entries"] as? [[String: Any]])
            #expect(afterAgain.filter { $0["action"] as? String == AuditAction.scannerPaired }.count == 1, "paired once, audited once")
            #expect(try await web.json("POST", "/api/scanner/signout", [:], bearer: token).status == 204)
            let ended = try await pair(event, headers: sameOrigin)
            #expect(ended.status == 409 && ended.text.contains("ended"))
        }
    }
}

/// The sign-in throttle against the store itself, with addresses (the in-process routes have none).
@Suite struct SignInThrottleTests {
    @Test(arguments: StoreKind.available)
    func stuffing_from_many_addresses_stops_without_locking_the_real_person_out(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let accounts = f.gatehouse.accountBook()
        let email = "erin-\(f.event.id.lowercased())@example.org"
        _ = try await accounts.addAccount(email: email, role: .organizer, password: "erin's real password")
        guard
            case .signedIn(_, _, let mark) = try await accounts.signIn(
                email: email,
                password: "erin's real password",
                address: "198.51.100.7",
                browserMark: nil,
                previousSession: nil
            )
        else {
            Issue.record("no sign-in")
            return
        }
        // Forty guesses from forty addresses: ten are checked, then the account takes only known browsers.
        var outcomes: [AccountBook.SignIn] = []
        for n in 0..<40 {
            outcomes.append(
                try await accounts.signIn(
                    email: email,
                    password: "guess \(n) of many",
                    address: "203.0.113.\(n)",
                    browserMark: nil,
                    previousSession: nil
                )
            )
        }
        #expect(outcomes.prefix(10).allSatisfy { $0 == .refused })
        #expect(outcomes.dropFirst(10).allSatisfy { if case .throttled = $0 { true } else { false } })
        // Even the right password from an unknown browser waits; the real person's browser does not.
        if case .signedIn = try await accounts.signIn(
            email: email,
            password: "erin's real password",
            address: "203.0.113.99",
            browserMark: nil,
            previousSession: nil
        ) {
            Issue.record("an unknown browser signed in to an account under attack")
        }
        let real = try await accounts.signIn(
            email: email,
            password: "erin's real password",
            address: "198.51.100.7",
            browserMark: mark,
            previousSession: nil
        )
        guard case .signedIn = real else {
            Issue.record("the real person was locked out: \(real)")
            return
        }
        // One address guessing across accounts is stopped at twenty, whatever account it tries.
        let other = "frank-\(f.event.id.lowercased())@example.org"
        _ = try await accounts.addAccount(email: other, role: .steward, password: "frank's real password")
        for n in 0..<20 {
            _ = try await accounts.signIn(
                email: "someone\(n)-\(f.event.id.lowercased())@example.org",
                password: "x",
                address: "192.0.2.66",
                browserMark: nil,
                previousSession: nil
            )
        }
        let fromThere = try await accounts.signIn(
            email: other,
            password: "frank's real password",
            address: "192.0.2.66",
            browserMark: nil,
            previousSession: nil
        )
        #expect({ if case .throttled = fromThere { true } else { false } }())
        if case .signedIn = try await accounts.signIn(
            email: other,
            password: "frank's real password",
            address: "192.0.2.67",
            browserMark: nil,
            previousSession: nil
        ) {
        } else {
            Issue.record("a neighbouring address was throttled too")
        }
        await f.stop()
    }

    /// An unknown address costs the same password hash as a wrong password: the medians of both,
    /// interleaved, are within a factor of two of each other (the hash is ~95% of either).
    @Test func unknown_and_wrong_take_as_long() async throws {
        let f = try await Fixture(.sqlite)
        let accounts = f.gatehouse.accountBook(
            throttle: {
                var lenient = SignInThrottle()
                lenient.perAddress = 1000
                lenient.perAccount = 1000
                return lenient
            }()
        )
        _ = try await accounts.addAccount(email: "gina@example.org", role: .steward, password: "gina's real password")
        var wrong: [Double] = []
        var unknown: [Double] = []
        for n in 0..<15 {
            for (email, into) in [("gina@example.org", 0), ("nobody\(n)@example.org", 1)] {
                let start = ContinuousClock.now
                _ = try await accounts.signIn(email: email, password: "wrong \(n)", address: nil, browserMark: nil, previousSession: nil)
                let seconds =
                    Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
                if into == 0 { wrong.append(seconds) } else { unknown.append(seconds) }
            }
        }
        let medianWrong = wrong.sorted()[7]
        let medianUnknown = unknown.sorted()[7]
        print(
            String(
                format: "sign-in timing: wrong password %.1f ms, unknown address %.1f ms (medians of 15)",
                medianWrong * 1000,
                medianUnknown * 1000
            )
        )
        #expect(medianUnknown > medianWrong / 2 && medianUnknown < medianWrong * 2, "wrong \(medianWrong) s, unknown \(medianUnknown) s")
        await f.stop()
    }
}

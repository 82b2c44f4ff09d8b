import Foundation
import GatehouseTestSupport
import Testing

/// Accounts across real `gatehouse serve` processes: a session made at one process works at
/// another on the same database, and ends at both when the person signs out at one; sign-in
/// throttling sees the client's address through the operator's proxy.
@Suite(.serialized)
struct AccountProcessTests {
    static let password = "a long enough password"

    static func form(_ fields: [String: String]) -> [UInt8] {
        Array(fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&").utf8)
    }

    static func signIn(
        _ service: ServiceProcess,
        _ email: String,
        _ password: String,
        from address: String? = nil
    ) throws -> (status: Int, session: String?) {
        var headers = ["Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1"]
        if let address { headers["X-Forwarded-For"] = address }
        let response = try service.connection().request("POST", "/signin", body: form(["email": email, "password": password]), headers: headers)
        let session = response.headers
            .filter { $0.key.lowercased() == "set-cookie" }
            .flatMap { $0.value.split(separator: "\n") }
            .first { $0.hasPrefix("gatehouse_session=") }
            .map { String($0.dropFirst("gatehouse_session=".count).prefix { $0 != ";" }) }
        return (response.status, session)
    }

    static func admin(_ service: ServiceProcess, session: String) throws -> Int {
        try service.connection().request("GET", "/admin", headers: ["Cookie": "gatehouse_session=\(session)"]).status
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES"] != nil, "no PostgreSQL"))
    func a_session_is_known_to_every_process_and_signing_out_ends_it_at_all() throws {
        let url = ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES"]!
        let folder = try TemporaryDirectory()
        let first = try ServiceProcess(databasePath: url, extraEnvironment: ["GATEHOUSE_DATA_DIR": folder.path + "/one"])
        let second = try ServiceProcess(databasePath: url, extraEnvironment: ["GATEHOUSE_DATA_DIR": folder.path + "/two"])
        defer {
            first.stop()
            second.stop()
        }
        let email = "hana-\(UUID().uuidString.prefix(8).lowercased())@example.org"
        let added = try first.connection().json(
            "POST",
            "/api/accounts",
            ["email": email, "role": "organizer", "password": Self.password],
            bearer: first.adminToken
        )
        #expect(added.status == 201)
        let signedIn = try Self.signIn(first, email, Self.password)
        let session = try #require(signedIn.session)
        #expect(try Self.admin(first, session: session) == 200)
        #expect(try Self.admin(second, session: session) == 200, "the other process knows the session")
        let out = try second.connection().request(
            "POST",
            "/signout",
            headers: ["Cookie": "gatehouse_session=\(session)", "Origin": "http://127.0.0.1"]
        )
        #expect(out.status == 303)
        #expect(try Self.admin(first, session: session) == 303, "signed out at one, signed out at all")
    }

    @Test func stuffing_through_the_proxy_stops_at_the_account_and_the_address() throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.path + "/g.sqlite", extraArguments: ["--trusted-proxy", "127.0.0.1"])
        defer { service.stop() }
        let email = "ivan@example.org"
        #expect(
            try service.connection().json(
                "POST",
                "/api/accounts",
                ["email": email, "role": "steward", "password": Self.password],
                bearer: service.adminToken
            )
            .status == 201
        )
        // Many addresses, one account: ten are checked, then 429 (and the password is not looked at).
        var statuses: [Int] = []
        for n in 0..<15 { statuses.append(try Self.signIn(service, email, "guess number \(n)", from: "203.0.113.\(n)").status) }
        #expect(statuses.prefix(10).allSatisfy { $0 == 401 } && statuses.dropFirst(10).allSatisfy { $0 == 429 }, "\(statuses)")
        // One address, many accounts: twenty, then that address waits for anyone.
        for n in 0..<20 { _ = try Self.signIn(service, "nobody\(n)@example.org", "guess", from: "198.51.100.9") }
        #expect(try Self.signIn(service, "someone@example.org", "guess", from: "198.51.100.9").status == 429)
        #expect(try Self.signIn(service, "someone@example.org", "guess", from: "198.51.100.10").status == 401)
        // Behind the operator's TLS proxy the session cookie is Secure.
        let tls = try service.connection().json(
            "POST",
            "/api/accounts",
            ["email": "tls@example.org", "role": "organizer", "password": Self.password],
            bearer: service.adminToken
        )
        #expect(tls.status == 201)
        let viaTLS = try service.connection().request(
            "POST",
            "/signin",
            body: Self.form(["email": "tls@example.org", "password": Self.password]),
            headers: [
                "Content-Type": "application/x-www-form-urlencoded", "Origin": "https://127.0.0.1", "X-Forwarded-Proto": "https",
                "X-Forwarded-For": "192.0.2.200",
            ]
        )
        // …and named with the __Host- prefix, which browsers take only from this very host.
        let cookie = (viaTLS.headers["set-cookie"] ?? "").split(separator: "\n").first { $0.hasPrefix("__Host-gatehouse_session=") } ?? ""
        #expect(
            viaTLS.status == 303 && cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"),
            "\(viaTLS.status) \(cookie)"
        )
        let session = String(cookie.dropFirst("__Host-gatehouse_session=".count).prefix { $0 != ";" })
        let tlsHeaders = ["X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.200"]
        #expect(
            try service.connection().request("GET", "/admin", headers: tlsHeaders.merging(["Cookie": "__Host-gatehouse_session=\(session)"]) { $1 })
                .status == 200
        )
        // Over TLS a cookie without the prefix (which a sibling host could have set) is nothing.
        #expect(
            try service.connection().request("GET", "/admin", headers: tlsHeaders.merging(["Cookie": "gatehouse_session=\(session)"]) { $1 }).status
                == 303
        )
        // Every attempt is in the audit trail with the client's address, not the proxy's.
        let trail = try service.connection().json("GET", "/api/audit", bearer: service.adminToken).json()["entries"] as? [[String: Any]] ?? []
        #expect(trail.contains { $0["address"] as? String == "203.0.113.3" && $0["action"] as? String == "sign-in failed" })
        #expect(!service.log.contains("guess number"), "no password in the log")
    }

    @Test func people_are_managed_from_the_command_line_and_every_change_is_audited() throws {
        let folder = try TemporaryDirectory()
        let database = folder.path + "/cli.sqlite"
        func gatehouse(_ arguments: String..., input: String? = nil) throws -> CommandRun {
            try CommandRun.run(ServiceProcess.binary, arguments + ["--db", database], directory: folder.path, input: input)
        }
        let created = try gatehouse("event", "create", "--name", "CLI gala")
        let event = try #require((try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any])?["id"] as? String)
        let ana = try gatehouse("user", "add", "--email", "Ana@Example.org", "--role", "organizer", "--public-url", "https://tickets.example.org")
        #expect(ana.status == 0 && ana.output.contains("https://tickets.example.org/signin/password?token="), "\(ana.output)\(ana.errors)")
        let bo = try gatehouse(
            "user",
            "add",
            "--email",
            "bo@example.org",
            "--role",
            "box office",
            "--event",
            event,
            "--password-stdin",
            input: "bo's long password\n"
        )
        #expect(bo.status == 0 && !bo.output.contains("token="), "\(bo.output)\(bo.errors)")
        for (arguments, words) in [
            (["--email", "not an address", "--role", "organizer"], "email"),
            (["--email", "ana@example.org", "--role", "steward"], "already an account"),
            (["--email", "c@example.org", "--role", "king"], "--role must be"),
            (["--email", "c@example.org", "--role", "owner", "--event", event], "every event"),
            (["--email", "c@example.org", "--role", "steward", "--event", "ENOSUCH1"], "ENOSUCH1"),
        ] {
            let refused = try CommandRun.run(ServiceProcess.binary, ["user", "add"] + arguments + ["--db", database], directory: folder.path)
            #expect(refused.status != 0 && refused.errors.contains(words), "\(arguments): \(refused.errors)")
        }
        let short = try gatehouse("user", "add", "--email", "d@example.org", "--role", "steward", "--password-stdin", input: "short\n")
        #expect(short.status != 0 && short.errors.contains("at least 10 characters"))
        let list = try gatehouse("user", "list").output
        #expect(list.contains("ana@example.org\torganizer\tevery event\tno password yet"), "\(list)")
        #expect(list.contains("bo@example.org\tbox office\t\(event)\tactive"), "\(list)")

        let issued = try gatehouse("token", "create", "--email", "bo@example.org", "--name", "door screen")
        let token = issued.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("ghp_") && issued.errors.contains("shown this once"))
        let service = try ServiceProcess(databasePath: database)
        defer { service.stop() }
        #expect(try service.connection().json("GET", "/api/events/\(event)", bearer: token).status == 200)
        #expect(try service.connection().json("POST", "/api/events/\(event)/tickets", ["quantity": 1], bearer: token).status == 403)
        #expect(try gatehouse("user", "disable", "--email", "bo@example.org").status == 0)
        #expect(try service.connection().json("GET", "/api/events/\(event)", bearer: token).status == 401, "a disabled account's token stops")
        let reset = try gatehouse("user", "password", "--email", "ana@example.org", "--password-stdin", input: "ana's new long password\n")
        #expect(reset.status == 0)
        #expect(try gatehouse("tickets", "issue", "--event", event, "--count", "2", "--images", "none", "--out", folder.path + "/t").status == 0)

        let trail = try gatehouse("audit", "--event", event).output
        #expect(trail.contains("command line\tevent created\tevent \(event)"), "\(trail)")
        #expect(trail.contains("command line\ttickets issued\tevent \(event)\t(2 tickets)"), "\(trail)")
        // The box office's refused try is there too, with who and from where.
        #expect(
            trail.contains("bo@example.org\ttickets issued\tevent \(event)\tfrom 127.0.0.1\t(refused: not allowed for the box office role)"),
            "\(trail)"
        )
        let everything = try gatehouse("audit").output
        for words in [
            "account added\tbo@example.org", "API token created\tbo@example.org", "account disabled\tbo@example.org", "password set\tana@example.org",
        ] {
            #expect(everything.contains(words), "\(words): \(everything)")
        }
        #expect(!everything.contains(token) && !everything.contains("long password"), "no secret in the trail")
    }
}

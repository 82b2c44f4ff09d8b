import Foundation
import GatehouseTestSupport
import Testing

/// A person registers on the public page of the real service and receives the ticket from a real
/// SMTP server (aiosmtpd) the test starts: the mail's inline PNG, its PDF and the ticket page all
/// carry the one code, which checks in once. The outbox survives a server that is down and a
/// service that is killed; hostile forms are refused and change nothing.
@Suite(.serialized) struct RegistrationTests {
    let folder: TemporaryDirectory
    init() throws { folder = try TemporaryDirectory() }

    /// The service with ticket mail to `smtpPort`, links pointing at itself.
    func service(smtpPort: Int, port: Int = ServiceProcess.freePort(), extra: [String] = []) throws -> ServiceProcess {
        try ServiceProcess(
            databasePath: folder.file("g.sqlite"),
            port: port,
            extraArguments: [
                "--smtp-url", "smtp://127.0.0.1:\(smtpPort)?tls=none", "--mail-from", "Harbour Lights <tickets@example.org>",
                "--public-url", "http://127.0.0.1:\(port)",
            ] + extra
        )
    }

    func openEvent(_ admin: AdminClient, capacity: Int? = nil) throws -> String {
        var registration: [String: Any] = ["open": true, "ticketType": "guest"]
        if let capacity { registration["capacity"] = capacity }
        let event = try admin.call(
            "POST",
            "/api/events",
            ["name": "Harbour Lights", "startsAt": "2027-06-12T17:00:00Z", "place": "Pier 4, Hamburg", "registration": registration],
            expect: 201
        )
        return event["id"] as! String
    }

    /// Sends the public form as a browser on the page would.
    func register(_ service: ServiceProcess, event: String, fields: [String: String]) throws -> HTTPConnection.Response {
        let plain = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let body = fields.map { key, value in key + "=" + (value.addingPercentEncoding(withAllowedCharacters: plain) ?? "") }.joined(separator: "&")
        return try service.connection().request(
            "POST",
            "/register/\(event)",
            body: Array(body.utf8),
            headers: [
                // The harness's requests say `Host: 127.0.0.1`: the page's origin for them.
                "Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1",
                "Sec-Fetch-Site": "same-origin",
            ]
        )
    }

    func waitForMessages(_ server: SMTPServerProcess, count: Int, within seconds: Double) throws -> [Data] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let messages = try server.messages()
            if messages.count >= count { return messages }
            usleep(100_000)
        }
        return try server.messages()
    }

    /// The event's mails once there are `count`, each tried at least once and waiting.
    @discardableResult
    func waitUntilEveryMailWaits(_ admin: AdminClient, event: String, count: Int) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(20)
        var mails: [[String: Any]] = []
        while Date() < deadline {
            mails = try admin.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
            if mails.count == count && mails.allSatisfy({ ($0["attempts"] as? Int ?? 0) >= 1 && $0["state"] as? String == "pending" }) {
                return mails
            }
            usleep(200_000)
        }
        Issue.record("mails did not all wait: \(mails)")
        return mails
    }

    @Test func a_person_registers_and_the_png_the_pdf_and_the_page_carry_one_code_that_checks_in_once() throws {
        let smtp = try SMTPServerProcess(maildir: folder.file("maildir"))
        let service = try service(smtpPort: smtp.port)
        defer { service.stop() }
        let admin = try AdminClient(service)
        let event = try openEvent(admin, capacity: 100)
        let page = try service.connection().request("GET", "/register/\(event)")
        #expect(page.status == 200)
        #expect(page.text.contains("Harbour Lights") && page.text.contains("Pier 4, Hamburg") && page.text.contains("100 places left"))
        let answer = try register(service, event: event, fields: ["name": "Zoë Ødegård", "email": "Zoe@Example.org"])
        #expect(answer.status == 303 && answer.headers["location"] == "/register/\(event)/sent")
        let sent = try service.connection().request("GET", "/register/\(event)/sent")
        #expect(sent.text.contains("on its way") && !sent.text.contains("Zoe@"))

        let messages = try waitForMessages(smtp, count: 1, within: 20)
        try #require(messages.count == 1, "no mail arrived; the service's log: \(service.log)")
        let mail = try ReceivedMail(messages[0], folder: folder.file("mail"))
        #expect(mail.headers["To"] == "Zoe@example.org")
        #expect(mail.headers["Subject"] == "Your ticket for Harbour Lights")
        #expect(mail.headers["Message-ID"]?.hasPrefix("<M") == true)
        #expect(mail.text.contains("Hello Zoë Ødegård") && mail.text.contains("Pier 4, Hamburg") && mail.text.contains("(guest)"))
        #expect(mail.html.contains("cid:qr"))
        let code = try #require(try Zbar.decode(file: mail.png).first)
        #expect(code.hasPrefix("GH:\(event):"))
        #expect(try Zbar.decodePDF(mail.pdf) == [code])
        #expect(mail.text.contains(code))
        // The link in the mail opens the holder's page, which carries the same code.
        let link = try #require(mail.text.split(separator: "\n").first { $0.contains("/t/") }).trimmingCharacters(in: .whitespaces)
        #expect(link.hasPrefix("http://127.0.0.1:\(service.port)/t/"))
        let path = String(link.dropFirst("http://127.0.0.1:\(service.port)".count))
        let ticketPage = try service.connection().request("GET", path)
        #expect(ticketPage.status == 200)
        #expect(ticketPage.headers["cache-control"] == "private, no-store")
        #expect(ticketPage.headers["referrer-policy"] == "no-referrer")
        #expect(ticketPage.text.contains(code) && ticketPage.text.contains("data:image/svg+xml;base64,"))
        #expect(!ticketPage.text.contains("<script"))
        #expect(try service.connection().request("GET", "/t/GH:\(event):AAAAAAAAAAAAAAAAAAAAAAAAAA").status == 404)

        let device = try admin.addDevice(event: event)
        #expect(try service.connection().checkinResult(code, device: device, scanId: "door-1") == "valid")
        #expect(try service.connection().checkinResult(code, device: device, scanId: "door-2") == "already_used")
        let mails = try admin.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
        #expect(mails.count == 1 && mails[0]["state"] as? String == "sent")
        let shown = try admin.call("GET", "/api/events/\(event)", expect: 200)["registration"] as! [String: Any]
        #expect(shown["registered"] as? Int == 1 && shown["capacity"] as? Int == 100 && shown["onePerEmail"] as? Bool == true)

        // Neither the token nor the address reaches the log; the database holds no code.
        let token = String(code.split(separator: ":").last!)
        service.stop()
        #expect(!service.log.contains(token) && !service.log.lowercased().contains("zoe@example.org"))
        for file in ["g.sqlite", "g.sqlite-wal"] {
            let bytes = FileManager.default.contents(atPath: folder.file(file)) ?? Data()
            #expect(bytes.range(of: Data(token.utf8)) == nil, "\(file) holds the code")
        }
    }

    @Test func mail_waits_while_the_server_is_down_and_all_fifty_arrive_once_it_is_back() throws {
        let smtpPort = ServiceProcess.freePort()
        let service = try service(smtpPort: smtpPort, extra: ["--registration-limit", "1000"])
        defer { service.stop() }
        let admin = try AdminClient(service)
        let event = try openEvent(admin)
        for number in 0..<50 {
            #expect(try register(service, event: event, fields: ["name": "Guest \(number)", "email": "guest\(number)@example.org"]).status == 303)
        }
        // Every mail tried once and waiting, with the reason.
        let mails = try waitUntilEveryMailWaits(admin, event: event, count: 50)
        #expect(mails.allSatisfy { ($0["lastError"] as? String)?.contains("Couldn't connect") == true }, "\(mails.prefix(2))")
        let smtp = try SMTPServerProcess(maildir: folder.file("maildir"), port: smtpPort)
        let messages = try waitForMessages(smtp, count: 50, within: 90)
        #expect(messages.count == 50)
        sleep(2)
        let received = try smtp.messages().map { try ReceivedMail($0, folder: nil) }
        #expect(received.count == 50)
        #expect(Set(received.compactMap { $0.headers["To"] }).count == 50)
        #expect(Set(received.compactMap { $0.headers["Message-ID"] }).count == 50)
    }

    @Test func mail_pending_when_the_service_is_killed_goes_out_after_the_restart() throws {
        let smtpPort = ServiceProcess.freePort()
        let port = ServiceProcess.freePort()
        var service = try service(smtpPort: smtpPort, port: port)
        let admin = try AdminClient(service)
        let event = try openEvent(admin)
        for number in 0..<10 {
            #expect(try register(service, event: event, fields: ["name": "Guest \(number)", "email": "guest\(number)@example.org"]).status == 303)
        }
        // Killed once every mail has failed once and waits for its retry (a mail on the wire at
        // the kill would wait for its lease to run out, a minute, before the restarted service
        // sends it).
        try waitUntilEveryMailWaits(admin, event: event, count: 10)
        service.kill()
        let smtp = try SMTPServerProcess(maildir: folder.file("maildir"), port: smtpPort)
        service = try self.service(smtpPort: smtpPort, port: port)
        defer { service.stop() }
        let messages = try waitForMessages(smtp, count: 10, within: 90)
        #expect(messages.count == 10, "the service's log: \(service.log)")
        sleep(2)
        #expect(try smtp.messages().count == 10)
    }

    @Test func a_refusal_for_good_is_shown_per_ticket_and_kept_out_of_the_log() throws {
        let refusing = try SMTPServerProcess(behaviour: .refuse)
        let service = try service(smtpPort: refusing.port)
        defer { service.stop() }
        let admin = try AdminClient(service)
        let event = try openEvent(admin)
        #expect(try register(service, event: event, fields: ["name": "Zoë", "email": "zoe@example.org"]).status == 303)
        let deadline = Date().addingTimeInterval(20)
        var mails: [[String: Any]] = []
        while Date() < deadline {
            mails = try admin.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
            if mails.first?["state"] as? String == "failed" { break }
            usleep(200_000)
        }
        #expect(mails.count == 1 && mails[0]["state"] as? String == "failed" && mails[0]["ticketNumber"] as? Int == 1)
        #expect((mails[0]["lastError"] as? String)?.contains("550 5.1.1 <zoe@example.org>: Recipient address rejected") == true, "\(mails)")
        #expect(service.log.contains("Ticket mail failed for good"))
        #expect(!service.log.contains("zoe@example.org"), "the address reached the log")
    }

    @Test func a_mail_on_the_wire_at_a_crash_goes_out_once_at_the_restart() throws {
        // A server that never answers holds the sender mid-send while the service is killed.
        let port = ServiceProcess.freePort()
        let smtpPort = ServiceProcess.freePort()
        var silent: SMTPServerProcess? = try SMTPServerProcess(behaviour: .silent, port: smtpPort)
        var service = try service(smtpPort: smtpPort, port: port)
        let admin = try AdminClient(service)
        let event = try openEvent(admin)
        #expect(try register(service, event: event, fields: ["name": "Zoë", "email": "zoe@example.org"]).status == 303)
        usleep(1_500_000)
        let mails = try admin.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
        #expect(mails.count == 1 && mails[0]["attempts"] as? Int == 0, "still on the wire: \(mails)")
        service.kill()
        silent = nil
        _ = silent
        let smtp = try SMTPServerProcess(maildir: folder.file("maildir"), port: smtpPort)
        service = try self.service(smtpPort: smtpPort, port: port)
        defer { service.stop() }
        let messages = try waitForMessages(smtp, count: 1, within: 20)
        #expect(messages.count == 1, "the service's log: \(service.log)")
        sleep(2)
        #expect(try smtp.messages().count == 1)
        #expect(service.log.contains("claimed before a crash go out again"))
    }

    @Test func hostile_forms_are_refused_in_plain_words_and_change_nothing() throws {
        let smtp = try SMTPServerProcess(maildir: folder.file("maildir"))
        let service = try service(smtpPort: smtp.port, extra: ["--registration-limit", "11"])
        defer { service.stop() }
        let admin = try AdminClient(service)
        let event = try openEvent(admin, capacity: 2)
        let refused: [([String: String], String)] = [
            (["name": "Eve", "email": "eve@example.org\r\nBcc: everyone@example.org"], "not an e-mail address"),
            (["name": "Eve\r\nBcc: everyone@example.org", "email": "eve@example.org"], "control characters"),
            (["name": String(repeating: "A", count: 10_000), "email": "eve@example.org"], "longer than 200"),
            (["name": "Eve \u{202E}gnp.exe", "email": "eve@example.org"], "text-direction"),
            (["name": "", "email": "eve@example.org"], "must not be empty"),
            (["name": "Eve", "email": "evе@example.org"], "not an e-mail address"),  // a Cyrillic е
        ]
        for (fields, words) in refused {
            let answer = try register(service, event: event, fields: fields)
            #expect(answer.status == 422, "\(fields)")
            #expect(answer.text.contains(words), "\(fields): \(answer.text)")
            #expect(answer.headers["bcc"] == nil)
        }
        // A bot fills the field people never see: told it worked, nothing stored.
        #expect(try register(service, event: event, fields: ["name": "Bot", "email": "bot@example.org", "website": "http://spam"]).status == 303)
        #expect(try register(service, event: event, fields: ["name": "Ann", "email": "ann@example.org"]).status == 303)
        let again = try register(service, event: event, fields: ["name": "Ann B.", "email": "ANN@example.org"])
        #expect(again.status == 409 && again.text.contains("already sent to this e-mail address"))
        #expect(try register(service, event: event, fields: ["name": "Bo", "email": "bo@example.org"]).status == 303)
        let full = try register(service, event: event, fields: ["name": "Cy", "email": "cy@example.org"])
        #expect(full.status == 409 && full.text.contains("every place is taken"))
        #expect(try service.connection().request("GET", "/register/\(event)").text.contains("every place is taken"))
        // Eleven attempts from this address were allowed: the twelfth waits.
        let limited = try register(service, event: event, fields: ["name": "Di", "email": "di@example.org"])
        #expect(limited.status == 429 && limited.headers["retry-after"] != nil && limited.text.contains("try again in"))
        let unknown = try service.connection().request("GET", "/register/ENOSUCH1")
        #expect(unknown.status == 404 && unknown.text.contains("There is no registration at this address"))
        let crossSite = try service.connection().request(
            "POST",
            "/register/\(event)",
            body: Array("name=Mallory&email=m%40example.org".utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"]
        )
        #expect(crossSite.status == 403)
        let shown = try admin.call("GET", "/api/events/\(event)", expect: 200)
        #expect((shown["registration"] as? [String: Any])?["registered"] as? Int == 2 && shown["issued"] as? Int == 2)
        let messages = try waitForMessages(smtp, count: 2, within: 20)
        #expect(messages.count == 2)
        #expect(!messages.contains { String(decoding: $0, as: UTF8.self).contains("everyone@example.org") })
    }
}

/// A message as received, taken apart by Python's e-mail parser: headers, the text and HTML
/// parts, and the inline PNG and the PDF written to files.
struct ReceivedMail {
    var headers: [String: String]
    var text: String
    var html: String
    var png: String
    var pdf: String

    init(_ message: Data, folder: String?) throws {
        let directory = folder ?? (NSTemporaryDirectory() + "/mail-" + UUID().uuidString)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/message.eml"
        try message.write(to: URL(fileURLWithPath: source))
        let script = """
            import email, email.policy, json, sys
            message = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
            out = {'headers': {k: str(v) for k, v in message.items()}, 'text': '', 'html': ''}
            for part in message.walk():
                kind = part.get_content_type()
                if kind == 'text/plain': out['text'] = part.get_content()
                elif kind == 'text/html': out['html'] = part.get_content()
                elif kind == 'image/png': open(sys.argv[2] + '/qr.png', 'wb').write(part.get_content())
                elif kind == 'application/pdf': open(sys.argv[2] + '/ticket.pdf', 'wb').write(part.get_content())
            print(json.dumps(out))
            """
        let run = try CommandRun.run(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script, source, directory])
        guard run.status == 0, let parsed = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any] else {
            throw HTTPClientError("cannot parse the message: \(run.errors)")
        }
        headers = parsed["headers"] as? [String: String] ?? [:]
        text = parsed["text"] as? String ?? ""
        html = parsed["html"] as? String ?? ""
        png = directory + "/qr.png"
        pdf = directory + "/ticket.pdf"
    }
}

/// zbar's own command-line reader on files.
enum Zbar {
    static func decode(file: String) throws -> [String] {
        let run = try CommandRun.run(URL(fileURLWithPath: "/usr/bin/zbarimg"), ["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file])
        return run.output.split(separator: "\n").map(String.init)
    }

    /// The PDF's first page at 150 dpi, read by zbar.
    static func decodePDF(_ pdf: String) throws -> [String] {
        let base = pdf + "-page"
        let run = try CommandRun.run(URL(fileURLWithPath: "/usr/bin/pdftoppm"), ["-r", "150", "-png", "-singlefile", pdf, base])
        guard run.status == 0 else { throw HTTPClientError("pdftoppm: \(run.errors)") }
        return try decode(file: base + ".png")
    }
}

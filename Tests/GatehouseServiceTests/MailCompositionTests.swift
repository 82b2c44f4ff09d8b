import Foundation
import Testing

@testable import GatehouseMail

/// Addresses, SMTP URLs and messages: what reaches a header or an SMTP command is checked, and a
/// message reads back, part by part, through Python's `email` package (a parser we did not write).
@Suite struct MailCompositionTests {
    @Test func addresses_are_checked_for_shape() throws {
        let plain = try MailAddress(parsing: "  ada@Example.ORG ")
        #expect(plain.address == "ada@example.org" && plain.displayName == nil)
        let named = try MailAddress(parsing: "\"Lovelace, Ada\" <Ada.L+tickets@example.org>")
        #expect(named.address == "Ada.L+tickets@example.org" && named.displayName == "Lovelace, Ada")
        #expect(named.comparisonKey == "ada.l+tickets@example.org")
        for bad in [
            "", "ada", "ada@", "@example.org", "ada@localhost", "a b@example.org", "ada@exa mple.org", "zoë@example.org", "ada@exämple.org",
            "a..b@example.org", ".a@example.org", "ada@-example.org", "ada@example.org\r\nBcc: victim@example.org",
            "ada@example.org>\r\nBcc: <victim@example.org", "\"x\"@example.org", String(repeating: "a", count: 65) + "@example.org",
            "a@" + String(repeating: "b", count: 250) + ".org",
        ] {
            #expect(throws: MailAddress.Problem.self, "\(bad.debugDescription)") { try MailAddress(parsing: bad) }
        }
    }

    @Test func display_names_lose_their_line_breaks() throws {
        let address = try MailAddress(address: "eve@example.org", displayName: "Eve\r\nBcc: victim@example.org\u{0}")
        #expect(address.displayName == "Eve Bcc: victim@example.org")
        #expect(try MailAddress(address: "eve@example.org", displayName: " \r\n ").displayName == nil)
    }

    @Test func smtp_urls_require_tls_except_on_this_machine() throws {
        let submission = try SMTPSettings(url: "smtp://tickets%40example.org:p%3Ass@Mail.Example.org")
        #expect(
            submission == SMTPSettings(host: "mail.example.org", port: 587, username: "tickets@example.org", password: "p:ss", security: .startTLS)
        )
        #expect(submission.description == "smtp://tickets@example.org@mail.example.org:587" && !submission.description.contains("p:ss"))
        #expect(try SMTPSettings(url: "smtps://u:p@mail.example.org").port == 465)
        #expect(try SMTPSettings(url: "smtps://mail.example.org:2465").security == .implicitTLS)
        let local = try SMTPSettings(url: "smtp://127.0.0.1:2525?tls=none")
        #expect(local.security == .none && local.curlURL == "smtp://127.0.0.1:2525")
        #expect(try SMTPSettings(url: "smtp://[::1]:25?tls=none").curlURL == "smtp://[::1]:25")
        let refusals: [(String, String)] = [
            ("mail.example.org", "not a bare host"), ("http://mail.example.org", "smtp or smtps"),
            ("smtp://mail.example.org?tls=none", "only for a server on this machine"), ("smtp://mail.example.org:0", "port"),
            ("smtp://mail.example.org:99999", "port"), ("smtp://mail.example.org/path", "path"), ("smtp://:25", "no host"),
            ("smtps://127.0.0.1?tls=none", "goes with smtp://"), ("smtp://mail.example.org?verify=no", "unknown setting"),
            ("smtp://u:%zz@mail.example.org", "percent-encoding"), ("smtp://mail.example.org\r\n", "control characters"),
        ]
        for (url, why) in refusals {
            do {
                let settings = try SMTPSettings(url: url)
                Issue.record("\(url.debugDescription) was taken as \(settings)")
            } catch {
                #expect("\(error)".contains(why), "\(url.debugDescription): \(error)")
            }
        }
    }

    @Test func quoted_printable_keeps_lines_short_and_no_line_starts_with_a_dot() {
        let text = "Hello Zoë,\n.\n" + String(repeating: "é=", count: 60) + " \nlast line with trailing space \r\nend"
        let encoded = String(decoding: MIMEEncoding.quotedPrintable(text), as: UTF8.self)
        let lines = encoded.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.utf8.count <= 76 }, "\(lines.map(\.utf8.count).max() ?? 0)")
        #expect(!lines.contains { $0.hasPrefix(".") })
        #expect(!lines.contains { $0.hasSuffix(" ") })
        #expect(!encoded.contains("\n") || encoded.replacing("\r\n", with: "").allSatisfy { $0 != "\n" && $0 != "\r" })
    }

    @Test func header_text_is_encoded_words_of_whole_characters() {
        #expect(MIMEEncoding.headerText("Your ticket") == "Your ticket")
        let encoded = MIMEEncoding.headerText("Dein Ticket für das Hafenfest — 🎟️ " + String(repeating: "ü", count: 40))
        #expect(encoded.components(separatedBy: "\r\n ").allSatisfy { $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") && $0.count <= 75 })
        #expect(MIMEEncoding.headerText("looks like =?UTF-8?B?x?= a word").hasPrefix("=?UTF-8?B?"))
    }

    static func message(subject: String = "Your ticket for Harbour Lights 🎟️", name: String = "Zoë Ødegård") throws -> MailMessage {
        MailMessage(
            from: try MailAddress(parsing: "Harbour Lights <tickets@example.org>"),
            to: try MailAddress(address: "zoe@example.org", displayName: name),
            subject: subject,
            text: "Hello Zoë,\n\nyour ticket is attached.\n.\nSee you there.",
            html: "<p>Hello Zoë,</p><img src=\"cid:qr@gatehouse\">",
            inlineImages: [.init(contentID: "qr@gatehouse", mediaType: "image/png", bytes: Array(0...255))],
            attachments: [.init(filename: "ticket-000001.pdf", mediaType: "application/pdf", bytes: Array("%PDF-1.5 fake".utf8))],
            date: 1_796_342_400
        )
    }

    /// The message parsed by Python's `email` package: headers decoded, and each part's type,
    /// disposition, content id, file name and decoded body.
    static func parsed(_ message: MailMessage) throws -> [String: Any] {
        let script = """
            import email, email.policy, json, sys
            m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
            parts = []
            for p in m.walk():
                if p.is_multipart():
                    parts.append({"type": p.get_content_type()})
                    continue
                body = p.get_payload(decode=True)
                parts.append({"type": p.get_content_type(), "disposition": p.get_content_disposition(), "cid": p.get("Content-ID"),
                    "filename": p.get_filename(), "text": body.decode("utf-8").replace("\\r\\n", "\\n") if p.get_content_maintype() == "text" else None,
                    "bytes": list(body) if p.get_content_maintype() != "text" else None})
            print(json.dumps({"headers": {k: str(v) for k, v in m.items()}, "defects": [str(d) for d in m.defects], "parts": parts}))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(message.rendered()))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    @Test func a_message_reads_back_part_by_part() throws {
        let message = try Self.message()
        let rendered = message.rendered()
        let long = String(decoding: rendered, as: UTF8.self).components(separatedBy: "\r\n").filter { $0.utf8.count > 78 }
        #expect(long.isEmpty, "lines over 78 characters: \(long)")
        #expect(rendered.allSatisfy { $0 < 128 }, "7-bit clean: every server takes it")
        let parsed = try Self.parsed(message)
        let headers = parsed["headers"] as! [String: String]
        #expect(headers["Subject"] == "Your ticket for Harbour Lights 🎟️")
        #expect(headers["To"] == "Zoë Ødegård <zoe@example.org>")
        #expect(headers["From"] == "Harbour Lights <tickets@example.org>")
        #expect(headers["Date"] == "Fri, 04 Dec 2026 00:00:00 +0000")
        #expect((parsed["defects"] as! [String]).isEmpty)
        let parts = parsed["parts"] as! [[String: Any]]
        #expect(
            parts.map { $0["type"] as! String } == [
                "multipart/mixed", "multipart/related", "multipart/alternative", "text/plain", "text/html", "image/png", "application/pdf",
            ]
        )
        // The CRLF before a boundary belongs to the boundary: the text comes back exactly.
        #expect(parts[3]["text"] as? String == "Hello Zoë,\n\nyour ticket is attached.\n.\nSee you there.")
        #expect((parts[4]["text"] as? String)?.contains("cid:qr@gatehouse") == true)
        #expect(parts[5]["cid"] as? String == "<qr@gatehouse>" && parts[5]["disposition"] as? String == "inline")
        #expect(parts[5]["bytes"] as? [Int] == Array(0...255))
        #expect(parts[6]["filename"] as? String == "ticket-000001.pdf" && parts[6]["disposition"] as? String == "attachment")
    }

    @Test func no_outside_value_can_add_a_header() throws {
        let message = try Self.message(subject: "Hi\r\nBcc: victim@example.org\r\n\r\nforged body", name: "Eve\r\nBcc: victim@example.org")
        let text = String(decoding: message.rendered(), as: UTF8.self)
        let headerBlock = text.components(separatedBy: "\r\n\r\n")[0]
        #expect(!headerBlock.components(separatedBy: "\r\n").contains { $0.lowercased().hasPrefix("bcc") })
        let headers = try Self.parsed(message)["headers"] as! [String: String]
        #expect(headers["Bcc"] == nil)
        #expect(headers["Subject"] == "Hi Bcc: victim@example.org forged body")
    }
}

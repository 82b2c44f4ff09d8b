import Foundation
import GatehouseMail
import GatehouseTestSupport
import Testing

/// Mail over SMTP against real servers on loopback: aiosmtpd, which stores what it accepts, and
/// servers that misbehave. Every failure says whether waiting helps, in the server's own words.
@Suite struct MailDeliveryTests {
    let folder: TemporaryDirectory
    init() throws { folder = try TemporaryDirectory() }

    func gatehouse(_ arguments: String...) throws -> CommandRun {
        try CommandRun.run(ServiceProcess.binary, arguments, directory: folder.path)
    }

    @Test func mail_test_sends_through_a_real_server_and_prints_its_answer() throws {
        let server = try SMTPServerProcess(maildir: folder.file("maildir"))
        let run = try gatehouse(
            "mail",
            "test",
            "--smtp-url",
            "smtp://127.0.0.1:\(server.port)?tls=none",
            "--mail-from",
            "Harbour Lights <tickets@example.org>",
            "--to",
            "Zoë <zoe@example.org>"
        )
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("Sent to zoe@example.org through smtp://127.0.0.1:\(server.port)?tls=none: 250"))
        let messages = try server.messages()
        #expect(messages.count == 1)
        let text = String(decoding: messages.first ?? Data(), as: UTF8.self)
        #expect(text.contains("Subject: Gatehouse test message") && text.contains("To: =?UTF-8?B?") && text.contains("<zoe@example.org>"))
        #expect(text.contains("From: \"Harbour Lights\" <tickets@example.org>"))
    }

    @Test func starttls_is_required_unless_waived_for_this_machine() throws {
        let server = try SMTPServerProcess(maildir: folder.file("maildir"))
        let plain = try gatehouse(
            "mail",
            "test",
            "--smtp-url",
            "smtp://127.0.0.1:\(server.port)",
            "--mail-from",
            "tickets@example.org",
            "--to",
            "zoe@example.org"
        )
        #expect(plain.status == 1 && plain.errors.contains("does not offer STARTTLS, which is required"), "\(plain.errors)")
        #expect(try server.messages().isEmpty)
        let remote = try gatehouse(
            "mail",
            "test",
            "--smtp-url",
            "smtp://mail.example.org?tls=none",
            "--mail-from",
            "tickets@example.org",
            "--to",
            "zoe@example.org"
        )
        #expect(remote.status == 64 && remote.errors.contains("only for a server on this machine"), "\(remote.errors)")
    }

    @Test func settings_that_cannot_work_are_named_before_anything_is_sent() throws {
        let cases: [([String], String)] = [
            (["--to", "zoe@example.org"], "no SMTP server"),
            (["--to", "zoe@example.org", "--smtp-url", "smtp://127.0.0.1:1?tls=none"], "no sender"),
            (
                ["--to", "zoe@example.org\r\nBcc: victim@example.org", "--smtp-url", "smtp://127.0.0.1:1?tls=none", "--mail-from", "a@example.org"],
                "--to: not an e-mail address"
            ),
            (
                ["--to", "zoe@example.org", "--smtp-url", "smtp://127.0.0.1:1?tls=none", "--mail-from", "Box Office"],
                "--mail-from: not an e-mail address"
            ),
        ]
        for (arguments, said) in cases {
            let run = try CommandRun.run(
                ServiceProcess.binary,
                ["mail", "test"] + arguments,
                directory: folder.path,
                environment: ["GATEHOUSE_SMTP_URL": "", "GATEHOUSE_MAIL_FROM": ""]
            )
            #expect(run.status == 64 && run.errors.contains(said), "\(arguments): \(run.errors)")
        }
    }

    @Test func a_server_that_is_not_there_is_a_temporary_failure() throws {
        let run = try gatehouse(
            "mail",
            "test",
            "--smtp-url",
            "smtp://127.0.0.1:\(ServiceProcess.freePort())?tls=none",
            "--mail-from",
            "tickets@example.org",
            "--to",
            "zoe@example.org"
        )
        #expect(run.status == 1 && run.errors.contains("Not sent to zoe@example.org") && run.errors.contains("connect"), "\(run.errors)")
    }

    static func message() throws -> MailMessage {
        MailMessage(
            from: try MailAddress(parsing: "tickets@example.org"),
            to: try MailAddress(parsing: "zoe@example.org"),
            subject: "Your ticket",
            text: "Hello.\n" + String(repeating: "A line of the body.\n", count: 2_000)
        )
    }

    /// Each bad server ends in an answer within the client's limit: whether to try again, and why.
    @Test(arguments: [
        (SMTPServerProcess.Behaviour.silent, true, "Timeout"), (.busy, true, "421 4.3.2"), (.garbage, true, "hello, this is not SMTP"),
        (.refuse, false, "550 5.1.1"), (.drop, true, ""),
    ])
    func a_misbehaving_server_gets_a_clear_answer(behaviour: SMTPServerProcess.Behaviour, temporary: Bool, said: String) throws {
        let server = try SMTPServerProcess(behaviour: behaviour)
        let client = SMTPClient(
            settings: SMTPSettings(host: "127.0.0.1", port: server.port, security: .none),
            connectTimeoutMilliseconds: 2_000,
            timeoutMilliseconds: 3_000
        )
        let message = try Self.message()
        let started = Date()
        do {
            let reply = try client.send(message)
            Issue.record("\(behaviour): sent, with \(reply)")
        } catch {
            #expect(error.temporary == temporary, "\(behaviour): \(error)")
            #expect(said.isEmpty || error.description.contains(said), "\(behaviour): \(error)")
        }
        #expect(Date().timeIntervalSince(started) < 10, "\(behaviour) held the sender past its limit")
    }
}

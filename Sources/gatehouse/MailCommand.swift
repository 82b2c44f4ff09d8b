import ArgumentParser
import Foundation
import GatehouseMail

/// `--smtp-url` and `--mail-from`, with their environment defaults: where mail goes and whom it
/// is from.
struct MailOptions: ParsableArguments {
    @Option(
        help:
            "The SMTP server: smtp://user:password@host:587 (STARTTLS required), smtps://…:465, or smtp://127.0.0.1:PORT?tls=none for one on this machine (default: $GATEHOUSE_SMTP_URL)."
    )
    var smtpUrl: String?
    @Option(help: "The sender: an address or \"Name <address>\" (default: $GATEHOUSE_MAIL_FROM).")
    var mailFrom: String?

    /// Both, or neither (nil) when no server is named anywhere: `serve` then keeps mail in the
    /// outbox.
    func optionalSetup() throws -> (server: SMTPSettings, sender: MailAddress)? {
        let url = smtpUrl ?? ProcessInfo.processInfo.environment["GATEHOUSE_SMTP_URL"] ?? ""
        if url.isEmpty { return nil }
        return (try settings(), try sender())
    }

    func settings() throws -> SMTPSettings {
        guard let url = smtpUrl ?? ProcessInfo.processInfo.environment["GATEHOUSE_SMTP_URL"], !url.isEmpty else {
            throw ValidationError("no SMTP server: give --smtp-url or set GATEHOUSE_SMTP_URL")
        }
        do { return try SMTPSettings(url: url) } catch { throw ValidationError("\(error)") }
    }

    func sender() throws -> MailAddress {
        guard let from = mailFrom ?? ProcessInfo.processInfo.environment["GATEHOUSE_MAIL_FROM"], !from.isEmpty else {
            throw ValidationError("no sender: give --mail-from or set GATEHOUSE_MAIL_FROM")
        }
        do { return try MailAddress(parsing: from) } catch { throw ValidationError("--mail-from: \(error)") }
    }
}

struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Check the mail set-up.",
        subcommands: [Test.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test message and print the server's answer.",
            discussion: "Exits 0 when the server accepted the message, 1 when it did not (with its words), 64 for settings that cannot work."
        )
        @OptionGroup var mail: MailOptions
        @Option(help: "The address to send the test message to.") var to: String

        func run() async throws {
            let settings = try mail.settings()
            let sender = try mail.sender()
            let recipient: MailAddress
            do { recipient = try MailAddress(parsing: to) } catch { throw ValidationError("--to: \(error)") }
            let message = MailMessage(
                from: sender,
                to: recipient,
                subject: "Gatehouse test message",
                text: "This message was sent by `gatehouse mail test` through \(settings).\nTicket mails will arrive the same way.\n",
                html: "<p>This message was sent by <code>gatehouse mail test</code>.</p><p>Ticket mails will arrive the same way.</p>"
            )
            let client = SMTPClient(settings: settings)
            // libcurl blocks: off the cooperative pool.
            let outcome = await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: Result { try client.send(message) }) }
            }
            switch outcome {
            case .success(let reply):
                print("Sent to \(recipient.address) through \(settings): \(reply.text)")
            case .failure(let failure):
                FileHandle.standardError.write(Data("Not sent to \(recipient.address) through \(settings): \(failure)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}

import Foundation
import GatehouseDomain
import GatehouseMail
import GatehouseStorage
import Logging
import ServiceLifecycle

/// Sends the ticket mails waiting in the outbox. Each round claims the mails that are due (a
/// lease, so another service process on the same database never sends the same one), opens
/// each one's sealed code, writes the message and hands it to the SMTP server, then records the
/// outcome: sent (the code erased), or failed with the server's words and a time to try again.
///
/// Retries: after 5, 10, 20, 40, then every 60 seconds, for 24 hours; a mail the server refused
/// for good (5xx) is not retried — the organizer sees why and may send it again.
///
/// A crash while a message is on the wire: a server keeps a message only once it has answered
/// the end of its data, so a message cut short is sent again whole — at the restart (SQLite,
/// one process: its claims are freed then), or when its lease ends (another process on a shared
/// database). SMTP has no way to ask whether a message arrived: the one case that can deliver
/// twice is a crash in the milliseconds between the server's "250" and our commit of it, and
/// then both copies carry the same Message-ID, by which mail clients drop the second.
public struct MailOutbox: Service {
    let gatehouse: Gatehouse
    let composer: TicketMailComposer
    let client: SMTPClient
    let logger: Logger
    /// Messages on the wire at once (each is one SMTP connection on a thread of its own).
    let concurrency: Int

    public static let pollInterval: Duration = .seconds(1)
    /// Longer than the SMTP client's worst case (`smtpTimeout` twice: the exchange, then the
    /// goodbye), so a lease never runs out under a message still being sent; and short, as a
    /// process killed mid-round leaves its claimed mails waiting this long.
    public static let lease: TimeInterval = 60
    public static let smtpTimeoutMilliseconds = 25_000
    public static let retryFor: TimeInterval = 24 * 3600

    public init(
        gatehouse: Gatehouse,
        composer: TicketMailComposer,
        client: SMTPClient,
        concurrency: Int = 4,
        logger: Logger
    ) {
        self.gatehouse = gatehouse
        self.composer = composer
        self.client = client
        self.concurrency = concurrency
        self.logger = logger
    }

    /// When to try a mail again after its `failures`-th failed attempt, or nil once it has been
    /// tried for `retryFor`.
    public static func retryAt(failures: Int, createdAt: Date, now: Date) -> Date? {
        let delay = min(60, 5 * pow(2, Double(max(0, failures - 1))))
        let next = now.addingTimeInterval(delay)
        return next.timeIntervalSince(createdAt) > retryFor ? nil : next
    }

    public func run() async throws {
        do {
            let freed = try await gatehouse.store.releaseAbandonedMailClaims()
            if freed > 0 { logger.notice("Ticket mails claimed before a crash go out again now", metadata: ["mails": "\(freed)"]) }
        } catch {
            logger.warning("Cannot free the mail claims of an earlier run; they go out when their lease ends", metadata: ["error": "\(error)"])
        }
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let claimed = await round()
                // A full round may have left more due: go again at once.
                if claimed < concurrency { await gatehouse.outboxBell.wait(upTo: Self.pollInterval) }
            }
        } onGracefulShutdown: {
            gatehouse.outboxBell.ring()
        }
    }

    /// One claim and its sends; returns how many mails it claimed. A round claims only as many
    /// as it sends at once: every claimed mail is on the wire at once, so no lease runs out
    /// while its mail still waits its turn here (and another process sends it meanwhile).
    func round() async -> Int {
        let now = gatehouse.now()
        let claimed: [QueuedMail]
        do {
            claimed = try await gatehouse.store.claimMail(due: now, leaseUntil: now.addingTimeInterval(Self.lease), limit: concurrency)
        } catch {
            logger.warning("Cannot read the mail outbox", metadata: ["error": "\(error)"])
            return 0
        }
        // Each event once a round, not once a mail: reading one counts its tickets.
        var events: [String: Event] = [:]
        for eventId in Set(claimed.map(\.eventId)) { events[eventId] = try? await gatehouse.event(id: eventId) }
        await withTaskGroup(of: Void.self) { group in
            for mail in claimed { group.addTask { [events] in await deliver(mail, event: events[mail.eventId]) } }
        }
        return claimed.count
    }

    /// Sends one claimed mail; `event` is its event as the round read it (nil: it could not).
    func deliver(_ mail: QueuedMail, event: Event?) async {
        var metadata: Logger.Metadata = ["mail": "\(mail.id)", "ticket": "\(mail.ticketId)"]
        let outcome: Result<SMTPClient.Reply, SMTPClient.Failure>
        do {
            let code = try gatehouse.codeSeal.open(mail.sealedCode, mailId: mail.id)
            let ticket = try await gatehouse.ticket(id: mail.ticketId)
            guard let event else { throw NotFoundError("event \(mail.eventId)") }
            let message = try composer.message(
                ticket: ticket,
                event: event,
                code: code,
                recipient: try MailAddress(address: mail.recipient),
                mailId: mail.id
            )
            let client = client
            // libcurl blocks: off the cooperative pool.
            outcome = await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: Result { () throws(SMTPClient.Failure) in try client.send(message) }) }
            }
        } catch {
            // Nothing went to the server: a key that does not open the code, a ticket gone.
            outcome = .failure(SMTPClient.Failure(temporary: true, description: "\(error)"))
        }
        let now = gatehouse.now()
        do {
            switch outcome {
            case .success(let reply):
                try await gatehouse.store.mailSent(id: mail.id, at: now)
                metadata["smtp.reply"] = "\(reply.text)"
                logger.info("Ticket mail sent", metadata: metadata)
            case .failure(let failure):
                let failures = mail.attempts + 1
                let retry = failure.temporary ? Self.retryAt(failures: failures, createdAt: mail.createdAt, now: now) : nil
                try await gatehouse.store.mailFailed(id: mail.id, MailFailure(reason: failure.description, retryAt: retry), at: now)
                // The server's words often quote the address: kept for the organizer, not the log.
                metadata["error"] = "\(failure.description.replacingOccurrences(of: mail.recipient, with: "(recipient)", options: .caseInsensitive))"
                metadata["attempt"] = "\(failures)"
                if let retry {
                    metadata["retry_in_s"] = "\(Int(retry.timeIntervalSince(now).rounded()))"
                    logger.notice("Ticket mail not sent yet", metadata: metadata)
                } else {
                    logger.error("Ticket mail failed for good", metadata: metadata)
                }
            }
        } catch {
            // The lease runs out and another round tries again.
            metadata["error"] = "\(error)"
            logger.warning("Cannot record a ticket mail's outcome", metadata: metadata)
        }
    }
}

import Foundation
import GatehouseCore
import GatehouseStorage
import Testing

@testable import GatehouseDomain
@testable import GatehouseSQLite

/// Registration and the mail outbox, in every store. One test at a time: a claim takes every due
/// mail of the database, and the server stores' tests share one.
@Suite(.serialized) struct RegistrationConformanceTests {
    func registrant(_ number: Int, domain: String = "example.org") throws -> Gatehouse.Registrant {
        try Gatehouse.Registrant(name: "Guest \(number)", email: "guest\(number)@\(domain)")
    }

    @Test(arguments: StoreKind.available)
    func hundred_people_at_once_get_exactly_the_ten_places_left(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let event = try await f.gatehouse.createEvent(
            name: "Small hall",
            startsAt: nil,
            endsAt: nil,
            place: "Room 2",
            registration: RegistrationSettings(open: true, capacity: 15, ticketType: "guest")
        )
        for number in 0..<5 { _ = try await f.gatehouse.register(eventId: event.id, try registrant(number)) }
        let answers = try await withThrowingTaskGroup(of: Gatehouse.RegistrationAnswer.self) { group in
            for number in 100..<200 {
                group.addTask { try await f.gatehouse.register(eventId: event.id, try registrant(number)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let tickets = answers.compactMap { answer -> Ticket? in
            if case .registered(let ticket) = answer { return ticket }
            return nil
        }
        #expect(tickets.count == 10)
        #expect(answers.filter { $0 == .refused(.full) }.count == 90)
        #expect(Set(tickets.map(\.number)).count == 10)
        #expect(tickets.allSatisfy { $0.ticketType == "guest" && $0.holderName?.hasPrefix("Guest ") == true })
        let after = try await f.gatehouse.event(id: event.id)
        #expect(after.registration.registered == 15)
        #expect(after.issued == 15)
        #expect(after.place == "Room 2")
        let mails = try await f.gatehouse.mailDeliveries(eventId: event.id)
        #expect(mails.count == 15 && mails.allSatisfy { $0.state == .pending })
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func one_address_registers_once_whatever_its_case(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let event = try await f.gatehouse.createEvent(
            name: "Talk",
            startsAt: nil,
            endsAt: nil,
            place: nil,
            registration: RegistrationSettings(open: true)
        )
        let first = try await f.gatehouse.register(eventId: event.id, try Gatehouse.Registrant(name: "Zoë", email: "Zoe.Doe@Example.org"))
        guard case .registered(let ticket) = first else {
            Issue.record("not registered: \(first)")
            return
        }
        #expect(ticket.email == "Zoe.Doe@example.org")
        let again = try await f.gatehouse.register(eventId: event.id, try Gatehouse.Registrant(name: "Zoe", email: "zoe.doe@EXAMPLE.ORG"))
        #expect(again == .refused(.alreadyRegistered))
        // Several per address when the organizer allows it.
        _ = try await f.gatehouse.setRegistration(eventId: event.id, RegistrationSettings(open: true, onePerEmail: false))
        let family = try await f.gatehouse.register(eventId: event.id, try Gatehouse.Registrant(name: "Zoë's son", email: "zoe.doe@example.org"))
        guard case .registered = family else {
            Issue.record("not registered: \(family)")
            return
        }
        #expect(try await f.gatehouse.event(id: event.id).registration.registered == 2)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func a_closed_or_past_registration_takes_nobody(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        var event = try await f.gatehouse.createEvent(name: "Gig", startsAt: nil, endsAt: nil, place: nil, registration: RegistrationSettings())
        #expect(try await f.gatehouse.register(eventId: event.id, try registrant(1)) == .refused(.closed))
        event = try await f.gatehouse.setRegistration(
            eventId: event.id,
            RegistrationSettings(open: true, closesAt: f.clock.now.addingTimeInterval(60))
        )
        #expect(event.registration.settings.open)
        guard case .registered = try await f.gatehouse.register(eventId: event.id, try registrant(2)) else {
            Issue.record("not registered before the closing time")
            return
        }
        f.clock.advance(61)
        #expect(try await f.gatehouse.register(eventId: event.id, try registrant(3)) == .refused(.closed))
        await #expect(throws: NotFoundError.self) { try await f.gatehouse.register(eventId: "ENOSUCH1", try registrant(4)) }
        await #expect(throws: InvalidInputError.self) {
            try await f.gatehouse.setRegistration(eventId: event.id, RegistrationSettings(open: true, capacity: -1))
        }
        #expect(try await f.gatehouse.event(id: event.id).registration.registered == 1)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func the_outbox_hands_each_mail_to_one_sender_and_retries_until_sent(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let event = try await f.gatehouse.createEvent(
            name: "Outbox",
            startsAt: nil,
            endsAt: nil,
            place: nil,
            registration: RegistrationSettings(open: true)
        )
        for number in 0..<3 { _ = try await f.gatehouse.register(eventId: event.id, try registrant(number)) }
        let now = f.clock.now
        // Other tests' mails share a server database: only this event's count here.
        let claimed = try await f.store.claimMail(due: now, leaseUntil: now + 180, limit: 1000).filter { $0.eventId == event.id }
        #expect(claimed.count == 3)
        #expect(try await f.store.claimMail(due: now, leaseUntil: now + 180, limit: 1000).filter { $0.eventId == event.id }.isEmpty)
        // Each sealed code opens to the code of its ticket, and only with its own mail's id.
        for mail in claimed {
            let code = try f.gatehouse.codeSeal.open(mail.sealedCode, mailId: mail.id)
            let found = try await f.gatehouse.ticketForHolder(code: code)
            #expect(found?.ticket.id == mail.ticketId)
            #expect(throws: CodeSeal.OpenError.self) { try f.gatehouse.codeSeal.open(mail.sealedCode, mailId: "M" + mail.id) }
        }
        let (first, second, third) = (claimed[0], claimed[1], claimed[2])
        try await f.store.mailSent(id: first.id, at: now)
        try await f.store.mailFailed(id: second.id, MailFailure(reason: "421 busy", retryAt: now + 5), at: now)
        try await f.store.mailFailed(id: third.id, MailFailure(reason: "550 no such user", retryAt: nil), at: now)
        // A lost answer recorded twice changes nothing.
        try await f.store.mailSent(id: first.id, at: now + 1)
        #expect(try await f.store.claimMail(due: now + 4, leaseUntil: now + 200, limit: 1000).filter { $0.eventId == event.id }.isEmpty)
        let retried = try await f.store.claimMail(due: now + 5, leaseUntil: now + 200, limit: 1000).filter { $0.eventId == event.id }
        #expect(retried.map(\.id) == [second.id])
        #expect(retried.first?.attempts == 1)
        let deliveries = Dictionary(uniqueKeysWithValues: try await f.gatehouse.mailDeliveries(eventId: event.id).map { ($0.id, $0) })
        #expect(deliveries[first.id]?.state == .sent && deliveries[first.id]?.sentAt != nil)
        #expect(deliveries[second.id]?.state == .pending && deliveries[second.id]?.lastError == "421 busy")
        #expect(deliveries[third.id]?.state == .failed && deliveries[third.id]?.lastError == "550 no such user")
        #expect(deliveries[third.id]?.nextAttemptAt == nil)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func send_again_gives_a_new_code_and_drops_the_mail_with_the_old_one(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        // The fixture's event, whose gate checks the new code in.
        let event = try await f.gatehouse.setRegistration(eventId: f.event.id, RegistrationSettings(open: true))
        guard case .registered(let ticket) = try await f.gatehouse.register(eventId: event.id, try registrant(7)) else {
            Issue.record("not registered")
            return
        }
        let before = try await f.store.mailDeliveries(eventId: event.id, ticketId: ticket.id)
        _ = try await f.gatehouse.mailTickets(ids: [ticket.id])
        let after = try await f.store.mailDeliveries(eventId: event.id, ticketId: ticket.id)
        #expect(after.count == 2)
        #expect(after.first { $0.id == before[0].id }?.state == .superseded)
        let now = f.clock.now
        let claimed = try await f.store.claimMail(due: now, leaseUntil: now + 180, limit: 1000).filter { $0.eventId == event.id }
        try #require(claimed.count == 1)
        let code = try f.gatehouse.codeSeal.open(claimed[0].sealedCode, mailId: claimed[0].id)
        #expect(try await f.checkin(code, scanId: "s1").result == .valid)
        // A ticket without an address is refused before anything changes.
        let plain = try await f.issue()
        await #expect(throws: InvalidInputError.self) { try await f.gatehouse.mailTickets(ids: [plain.ticket.id]) }
        #expect(try await f.checkin(plain.qrData, scanId: "s2").result == .valid)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func claims_of_a_crashed_sender_are_freed_only_where_one_process_sends(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let event = try await f.gatehouse.setRegistration(eventId: f.event.id, RegistrationSettings(open: true))
        _ = try await f.gatehouse.register(eventId: event.id, try registrant(1))
        let now = f.clock.now
        #expect(try await f.store.claimMail(due: now, leaseUntil: now + 60, limit: 1000).filter { $0.eventId == event.id }.count == 1)
        let freed = try await f.store.releaseAbandonedMailClaims()
        let again = try await f.store.claimMail(due: now, leaseUntil: now + 60, limit: 1000).filter { $0.eventId == event.id }
        if kind == .sqlite {
            #expect(freed == 1 && again.count == 1)
        } else {
            // Another process on the shared database may be sending it: its lease stands.
            #expect(freed == 0 && again.isEmpty)
        }
        await f.stop()
    }

    @Test func no_plain_code_reaches_the_database_file() async throws {
        let f = try await Fixture(.sqlite)
        let event = try await f.gatehouse.createEvent(
            name: "Secrets",
            startsAt: nil,
            endsAt: nil,
            place: nil,
            registration: RegistrationSettings(open: true)
        )
        _ = try await f.gatehouse.register(eventId: event.id, try registrant(1))
        let now = f.clock.now
        let mail = try await f.store.claimMail(due: now, leaseUntil: now + 180, limit: 10)[0]
        let code = try f.gatehouse.codeSeal.open(mail.sealedCode, mailId: mail.id)
        let token = String(code.split(separator: ":").last!)
        await f.stop()
        var bytes: [UInt8] = []
        for file in ["store.sqlite", "store.sqlite-wal"] {
            bytes += (FileManager.default.contents(atPath: f.folder.file(file)).map(Array.init)) ?? []
        }
        #expect(!bytes.isEmpty)
        #expect(!contains(bytes, Array(token.utf8)))
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return true }
        }
        return false
    }
}

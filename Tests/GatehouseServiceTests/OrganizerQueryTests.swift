import Foundation
import GatehouseCore
import GatehouseStorage
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

/// What the organizer's pages read, on every store: ticket search, device activity, a ticket's
/// history, the log filtered by result, per-gate and per-minute numbers, an event edited.
@Suite struct OrganizerQueryTests {
    @Test(arguments: StoreKind.available)
    func ticket_search_by_number_name_and_email(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let issued = try await f.gatehouse.issueTickets(
            eventId: f.event.id,
            [
                .init(holderName: "Ada Lovelace", email: "ada@example.org"),
                .init(holderName: "Grace Hopper", email: "grace@navy.example"),
                .init(holderName: "100% Brown", email: "brown@example.org"),
                .init(),
                .init(holderName: "Zoë Ångström", email: "ZOE@EXAMPLE.NET"),
            ]
        )
        func numbers(_ search: String?, limit: Int = 100, offset: Int = 0) async throws -> [Int] {
            try await f.gatehouse.tickets(eventId: f.event.id, query: TicketQuery(search: search, limit: limit, offset: offset)).map(\.number)
        }
        #expect(try await numbers(nil) == [1, 2, 3, 4, 5])
        #expect(try await numbers("2") == [2], "a number finds that ticket")
        #expect(try await numbers("#2") == [2], "as the pages write it, too")
        #expect(try await numbers("Ada Lovelace") == [1], "a space is part of the text")
        #expect(try await numbers("ZOË") == [5], "case folded beyond ASCII")
        #expect(try await numbers("ångström") == [5])
        #expect(try await numbers("zoe@example.net") == [5], "e-mail in any case")
        #expect(try await f.gatehouse.ticketCount(eventId: f.event.id, search: "example") == 4)
        #expect(try await f.gatehouse.ticketCount(eventId: f.event.id, search: nil) == 5)
        #expect(try await numbers("lovelace") == [1], "any case")
        #expect(try await numbers("EXAMPLE.ORG") == [1, 3], "e-mail")
        #expect(try await numbers("100%") == [3], "% is a character, not a wildcard")
        #expect(try await numbers("_") == [], "_ too")
        #expect(try await numbers("   ") == [1, 2, 3, 4, 5], "blank is no filter")
        #expect(try await numbers(nil, limit: 2, offset: 2) == [3, 4], "paged")
        #expect(issued.count == 5)
        await #expect(throws: NotFoundError.self) { try await f.gatehouse.tickets(eventId: "ENOSUCH1", query: TicketQuery()) }
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func devices_history_filters_and_counts(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let (south, southToken) = try await f.gatehouse.addDevice(name: "phone", gateId: "south", eventId: f.event.id)
        let (idle, _) = try await f.gatehouse.addDevice(name: "spare", gateId: "west", eventId: f.event.id)
        let a = try await f.issue(.init(holderName: "A"))
        let b = try await f.issue(.init(holderName: "B"))
        _ = try await f.checkin(a.qrData, mode: .validate)  // staff looking first: counted as neither
        _ = try await f.checkin(a.qrData)
        f.clock.advance(61)
        _ = try await f.checkin(a.qrData)  // already used
        _ = try await f.checkin(b.qrData, device: south, token: southToken)
        _ = try await f.checkin("not a ticket", device: south, token: southToken)

        let devices = try await f.gatehouse.devices(eventId: f.event.id)
        #expect(devices.map(\.device.gateId) == ["north-1", "south", "west"])
        #expect(devices[0].lastResult == .alreadyUsed && devices[0].lastSeenAt == f.clock.now.truncatedToMillis)
        #expect(devices[1].lastResult == .invalid)
        #expect(devices[2].device.id == idle.id && devices[2].lastSeenAt == nil && devices[2].lastResult == nil)

        let history = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(ticketId: a.ticket.id))
        #expect(history.map(\.result) == [.alreadyUsed, .valid, .valid], "newest first, the validation included")
        #expect(history.map(\.mode) == [.commit, .commit, .validate])
        let refusals = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(result: .invalid))
        #expect(refusals.count == 1 && refusals[0].gateId == "south")

        var counts = try await f.gatehouse.checkinCounts(eventId: f.event.id, minutes: 60)
        #expect(counts.gates == [.init(gateId: "north-1", admitted: 1, refused: 1), .init(gateId: "south", admitted: 1, refused: 1)])
        // The staff scanner looks first: a refusal it sees counts, whatever the mode.
        _ = try await f.checkin(b.qrData, mode: .validate, device: south, token: southToken)
        _ = try await f.checkin("GH:EABCDEFG:AAAAAAAAAAAAAAAAAAAAAAAAAA", mode: .validate, device: south, token: southToken)
        counts = try await f.gatehouse.checkinCounts(eventId: f.event.id, minutes: 60)
        #expect(counts.gates.last == .init(gateId: "south", admitted: 1, refused: 3))
        #expect(counts.minutes.map(\.admitted) == [1, 1], "one admission in each of two minutes")
        #expect(counts.minutes.allSatisfy { $0.start.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0 })
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func an_event_is_edited(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let start = Date(timeIntervalSince1970: 1_900_000_000)
        let edited = try await f.gatehouse.updateEvent(id: f.event.id, name: "Gala night", startsAt: start, endsAt: start + 3600, place: nil)
        #expect(edited.name == "Gala night" && edited.startsAt == start && edited.endsAt == start + 3600 && edited.id == f.event.id)
        #expect(try await f.gatehouse.event(id: f.event.id) == edited)
        await #expect(throws: InvalidInputError.self) {
            try await f.gatehouse.updateEvent(id: f.event.id, name: " ", startsAt: nil, endsAt: nil, place: nil)
        }
        await #expect(throws: InvalidInputError.self) {
            try await f.gatehouse.updateEvent(id: f.event.id, name: "x", startsAt: start, endsAt: start - 1, place: nil)
        }
        await #expect(throws: NotFoundError.self) {
            try await f.gatehouse.updateEvent(id: "ENOSUCH1", name: "x", startsAt: nil, endsAt: nil, place: nil)
        }
        await f.stop()
    }
}

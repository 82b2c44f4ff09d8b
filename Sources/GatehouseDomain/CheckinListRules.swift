import Foundation
import GatehouseCore
import GatehouseStorage
import Logging

/// Check-in lists as organizers set them: validated before they are stored.
extension Gatehouse {
    /// A list's settings as an organizer sends them (`POST /api/events/{id}/lists`, `PUT
    /// /api/lists/{id}`: the whole list).
    public struct ListSettings: Sendable, Decodable {
        public var name: String
        public var ticketTypes: [String]?
        public var gates: [String]?
        public var entry: EntryPolicy?
        public var capacity: Int?
        public var opensAt: Date?
        public var closesAt: Date?
        /// When everyone inside is counted out, then every 24 hours after.
        public var exitAllAt: Date?
        /// Ticket types staff must look at before their holder goes in.
        public var attention: [String]?

        public init(
            name: String,
            ticketTypes: [String]? = nil,
            gates: [String]? = nil,
            entry: EntryPolicy? = nil,
            capacity: Int? = nil,
            opensAt: Date? = nil,
            closesAt: Date? = nil,
            exitAllAt: Date? = nil,
            attention: [String]? = nil
        ) {
            self.attention = attention
            self.exitAllAt = exitAllAt
            self.name = name
            self.ticketTypes = ticketTypes
            self.gates = gates
            self.entry = entry
            self.capacity = capacity
            self.opensAt = opensAt
            self.closesAt = closesAt
        }
    }

    /// Lists per event, gates and ticket types per list: far more than any venue has, few enough
    /// that one request cannot make a list every scan must wade through.
    package static let maximumListsPerEvent = 100
    package static let maximumGatesPerList = 500
    package static let maximumTicketTypesPerList = 200
    /// People inside one list at most: a stadium's crowd, many times over.
    package static let maximumListCapacity = 10_000_000

    public func createList(eventId: String, _ settings: ListSettings) async throws -> CheckinList {
        _ = try await event(id: eventId)
        guard try await store.lists(eventId: eventId).count < Self.maximumListsPerEvent else {
            throw InvalidInputError("an event has at most \(Self.maximumListsPerEvent) check-in lists")
        }
        let list = try Self.checked(settings, id: Identifier.newListID(), eventId: eventId, createdAt: now())
        defer { attention.forget(eventId: eventId) }
        return try await store.createList(list)
    }

    public func lists(eventId: String) async throws -> [CheckinList] {
        _ = try await event(id: eventId)
        return try await store.lists(eventId: eventId)
    }

    public func list(id: String) async throws -> CheckinList {
        guard let list = try await store.list(id: id) else { throw NotFoundError("check-in list \(id)") }
        return list
    }

    /// Replaces the whole list; who is inside and who has passed stay as they are.
    public func replaceList(id: String, _ settings: ListSettings) async throws -> CheckinList {
        let current = try await list(id: id)
        let list = try Self.checked(settings, id: id, eventId: current.eventId, createdAt: current.createdAt)
        defer { attention.forget(eventId: current.eventId) }
        guard let replaced = try await store.replaceList(list) else { throw NotFoundError("check-in list \(id)") }
        return replaced
    }

    public func deleteList(id: String) async throws {
        let current = try await list(id: id)
        defer { attention.forget(eventId: current.eventId) }
        guard try await store.deleteList(id: id) else { throw NotFoundError("check-in list \(id)") }
    }

    /// People inside now, in all and per list.
    public func presence(eventId: String) async throws -> Presence {
        _ = try await event(id: eventId)
        let lists = try await store.lists(eventId: eventId)
        return Presence(
            inside: try await store.peopleInside(eventId: eventId),
            lists: lists.map { Presence.List(id: $0.id, name: $0.name, inside: $0.inside, capacity: $0.capacity) }
        )
    }

    static func checked(_ settings: ListSettings, id: String, eventId: String, createdAt: Date) throws -> CheckinList {
        let name = try requiredText(settings.name, field: "name")
        let types = try checkedTypes(settings.ticketTypes, field: "ticketTypes")
        let attention = try checkedTypes(settings.attention, field: "attention")
        let gates = settings.gates ?? []
        guard gates.count <= maximumGatesPerList else { throw InvalidInputError("gates holds at most \(maximumGatesPerList) gates") }
        for gate in gates { try checkIdentifier(gate, field: "gates") }
        guard Set(gates).count == gates.count else { throw InvalidInputError("gates names a gate twice") }
        if let capacity = settings.capacity, !(0...maximumListCapacity).contains(capacity) {
            throw InvalidInputError("capacity must be between 0 and \(maximumListCapacity)")
        }
        if let opens = settings.opensAt, let closes = settings.closesAt, closes <= opens {
            throw InvalidInputError("closesAt must be after opensAt")
        }
        return CheckinList(
            id: id,
            eventId: eventId,
            name: name,
            ticketTypes: types,
            gates: gates,
            entry: settings.entry ?? .once,
            capacity: settings.capacity,
            opensAt: settings.opensAt,
            closesAt: settings.closesAt,
            createdAt: createdAt,
            exitAllAt: settings.exitAllAt,
            attention: attention?.isEmpty == true ? nil : attention
        )
    }

    /// Ticket types as a list names them: matched exactly as tickets carry them (trimmed, as
    /// tickets are stored), each once.
    private static func checkedTypes(_ given: [String]?, field: String) throws -> [String]? {
        guard let given else { return nil }
        guard given.count <= maximumTicketTypesPerList else {
            throw InvalidInputError("\(field) holds at most \(maximumTicketTypesPerList) types")
        }
        var seen = Set<String>()
        return try given.map { try requiredText($0, field: field) }.filter { seen.insert($0).inserted }
    }

    /// Counts everyone out of each list whose `exitAllAt` has come, in batches (each one
    /// transaction, scans between them), then moves its `exitAllAt` on by whole days past now.
    /// Returns how many were counted out.
    @discardableResult
    public func countEveryoneOutDue(logger: Logger) async throws -> Int {
        let now = now()
        var total = 0
        for list in try await store.listsDueToEmpty(now: now) {
            var next = list.exitAllAt
            while next <= now { next = next.addingTimeInterval(86_400) }
            var counted = 0
            while true {
                let out = try await store.countEveryoneOut(listId: list.id, due: list.exitAllAt, next: next, at: now, limit: 500)
                if out == 0 { break }
                counted += out
                await Task.yield()
            }
            total += counted
            logger.notice(
                "Everyone inside counted out",
                metadata: ["list.id": "\(list.id)", "list.counted_out": "\(counted)", "list.next_exit_all_at": "\(next.iso8601Millis)"]
            )
        }
        return total
    }

    /// Days since 1970 in `timeZone` (what a `daily` list compares).
    static func day(of date: Date, in timeZone: TimeZone) -> Int {
        // CalendarDay: a gate counts days from the offsets its snapshot carries, the same way.
        CalendarDay.number(at: date.millis, utcOffsetSeconds: timeZone.secondsFromGMT(for: date))
    }
}

import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// The check-in log of one event: filters by gate and result (refusals included), per-gate
/// numbers, admissions per minute over the last hour, and a live view that adds new rows
/// without a reload (checkins.js polls the JSON form of the same page).
extension OrganizerSite {
    package func addCheckinPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("events/:id/checkins") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                let filter = try Self.logFilter(request, limit: 100)
                let entries = try await gatehouse.checkins(eventId: event.id, filter: filter)
                let counts = try await gatehouse.checkinCounts(eventId: event.id)
                return .page(checkinPage(event, entries, counts, filter: filter))
            }
        }
        // The live view's feed: rows after `after`, oldest first, plus the numbers, as JSON.
        router.get("events/:id/checkins/live") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                var filter = try Self.logFilter(request, limit: 200)
                guard let after = Self.query(request, "after").flatMap({ Int64($0) }) else { throw InvalidInputError("after must be a check-in id") }
                filter.afterId = after
                let entries = try await gatehouse.checkins(eventId: event.id, filter: filter)
                let counts = try await gatehouse.checkinCounts(eventId: event.id)
                return .response(try WebPage.json(liveUpdate(entries, counts)))
            }
        }
    }

    package static func logFilter(_ request: Request, limit: Int) throws -> CheckinFilter {
        var filter = CheckinFilter(limit: limit)
        filter.gateId = query(request, "gate")
        if let result = query(request, "result") {
            guard let value = CheckinResult(rawValue: result) else { throw InvalidInputError("result \(result) is not a check-in result") }
            filter.result = value
        }
        return filter
    }

    /// One row of the log: on the page, and in the live feed for checkins.js to draw alike.
    package struct LogRow: Sendable, Encodable {
        var id: Int64
        var at: TimeText
        var gateId: String
        /// "In" or "Out": an exit is recorded as the result `exit`, every other scan but an annul is an entry's.
        var direction: String
        var result: Badge
        var notes: String?
        /// Another event's ticket is not this event's to show (its number would read as one of ours).
        var foreign: Bool
        var ticketId: String?
        var ticketNumber: Int?
    }

    package func row(_ entry: CheckinLogEntry) -> LogRow {
        let foreign = entry.result == .wrongEvent
        return LogRow(
            id: entry.id,
            at: clock.display(entry.at),
            gateId: entry.gateId,
            direction: entry.result == .exit ? "Out" : entry.result == .annulled ? "—" : "In",
            result: Badge(entry.result),
            notes: Self.notes(entry),
            foreign: foreign,
            ticketId: foreign ? nil : entry.ticketId,
            ticketNumber: foreign ? nil : entry.ticketId.map { _ in entry.ticketNumber ?? 0 }
        )
    }

    /// The log's numbers: per gate, and admissions per minute over the last hour.
    package struct LogCounts: Sendable, Encodable {
        package struct Bar: Sendable, Encodable {
            /// Height in tenths of the busiest minute, as a class (h0–h10): the pages' CSP
            /// allows no inline style.
            var level: Int
            var count: Int
        }

        var gateTable: GateTable
        var thisMinute: Int
        var lastHour: Int
        var busiest: Int
        /// Oldest first, one per minute.
        var bars: [Bar]
    }

    package func logCounts(_ counts: CheckinCounts) -> LogCounts {
        let byMinute = Dictionary(uniqueKeysWithValues: counts.minutes.map { (Int($0.start.timeIntervalSince1970 / 60), $0.admitted) })
        let last = Int(gatehouse.now().timeIntervalSince1970 / 60)
        let series = (0..<60).map { byMinute[last - 59 + $0] ?? 0 }
        let peak = max(series.max() ?? 0, 1)
        return LogCounts(
            gateTable: GateTable(counts),
            thisMinute: series.last ?? 0,
            lastHour: series.reduce(0, +),
            busiest: series.max() ?? 0,
            bars: series.map { LogCounts.Bar(level: ($0 * 10 + peak - 1) / peak, count: $0) }
        )
    }

    package func checkinPage(_ event: Event, _ entries: [CheckinLogEntry], _ counts: CheckinCounts, filter: CheckinFilter) -> WebPage {
        struct Option: Sendable {
            var value: String?
            var label: String
            var selected: Bool
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var counts: LogCounts
            var gateOptions: [Option]
            var resultOptions: [Option]
            var newest: Int64
            var rows: [LogRow]
        }
        let gates = Set(counts.gates.map(\.gateId)).union(filter.gateId.map { [$0] } ?? []).sorted()
        let model = Model(
            tabs: EventTabs(event, current: "checkins"),
            eventId: event.id,
            counts: logCounts(counts),
            gateOptions: [Option(value: "", label: "All gates", selected: false)]
                + gates.map { Option(value: nil, label: $0, selected: filter.gateId == $0) },
            resultOptions: [Option(value: "", label: "All results", selected: false)]
                + CheckinResult.allCases.map { Option(value: $0.rawValue, label: Badge.words($0), selected: filter.result == $0) },
            newest: entries.first?.id ?? 0,
            rows: entries.map(row)
        )
        return WebPage(title: "Check-ins · \(event.name)", template: "checkins", data: model, section: .events, scripts: ["checkins.js"])
    }

    /// What the live view adds: new rows (oldest first), the numbers, and when, on the organizer's
    /// clock (the browser's locale may differ).
    package struct LiveUpdate: Sendable, Encodable {
        var rows: [LogRow]
        var counts: LogCounts
        var updated: String
    }

    package func liveUpdate(_ entries: [CheckinLogEntry], _ counts: CheckinCounts) -> LiveUpdate {
        LiveUpdate(rows: entries.map(row), counts: logCounts(counts), updated: clock.timeOfDay(gatehouse.now()))
    }
}

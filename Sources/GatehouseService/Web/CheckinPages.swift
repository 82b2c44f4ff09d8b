import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird

/// The check-in log of one event: filters by gate and result (refusals included), per-gate
/// numbers, admissions per minute over the last hour, and a live view that adds new rows
/// without a reload (checkins.js polls the JSON form of the same page).
extension OrganizerSite {
    func addCheckinPages(to router: Router<GatehouseRequestContext>) {
        router.get("admin/events/:id/checkins") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                let filter = try Self.logFilter(request, limit: 100)
                let entries = try await gatehouse.checkins(eventId: event.id, filter: filter)
                let counts = try await gatehouse.checkinCounts(eventId: event.id)
                return .page(checkinPage(event, entries, counts, filter: filter))
            }
        }
        // The live view's feed: rows after `after`, oldest first, plus the numbers, as JSON.
        router.get("admin/events/:id/checkins/live") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                var filter = try Self.logFilter(request, limit: 200)
                guard let after = Self.query(request, "after").flatMap({ Int64($0) }) else { throw InvalidInputError("after must be a check-in id") }
                filter.afterId = after
                let entries = try await gatehouse.checkins(eventId: event.id, filter: filter)
                let counts = try await gatehouse.checkinCounts(eventId: event.id)
                return .response(WebPage.response(status: .ok, contentType: "application/json", body: liveJSON(entries, counts)))
            }
        }
    }

    static func logFilter(_ request: Request, limit: Int) throws -> CheckinFilter {
        var filter = CheckinFilter(limit: limit)
        filter.gateId = query(request, "gate")
        if let result = query(request, "result") {
            guard let value = CheckinResult(rawValue: result) else { throw InvalidInputError("result \(result) is not a check-in result") }
            filter.result = value
        }
        return filter
    }

    func row(_ entry: CheckinLogEntry) -> String {
        // Another event's ticket is not this event's to show (its number would read as one of ours).
        let ticket =
            entry.result == .wrongEvent
            ? "<span class=muted>another event's</span>"
            : entry.ticketId.map { "<a href=\"/admin/tickets/\(HTML.escape($0))\">#\(entry.ticketNumber ?? 0)</a>" } ?? "—"
        let notes = [entry.mode == .validate ? "looked up" : nil, entry.offline ? "offline" : nil].compactMap { $0 }.joined(separator: ", ")
        return """
            <tr data-id="\(entry.id)"><td data-label="Time">\(clock.display(entry.at))</td><td data-label="Gate">\(HTML.escape(entry.gateId))</td>\
            <td data-label="Result">\(Self.resultBadge(entry.result))\(notes.isEmpty ? "" : " <span class=muted>(\(notes))</span>")</td>\
            <td data-label="Ticket" class=n>\(ticket)</td></tr>
            """
    }

    /// Admitted and refused per gate.
    static func gateTable(_ counts: CheckinCounts) -> String {
        guard !counts.gates.isEmpty else { return "<p class=muted>No check-ins yet.</p>" }
        let rows = counts.gates.map {
            "<tr><td data-label=Gate>\(HTML.escape($0.gateId))</td><td data-label=Admitted class=n>\($0.admitted)</td><td data-label=Refused class=n>\($0.refused)</td></tr>"
        }
        return
            "<table class=cards><thead><tr><th>Gate</th><th class=n>Admitted</th><th class=n>Refused</th></tr></thead><tbody>\(rows.joined())</tbody></table>"
    }

    func countsHTML(_ counts: CheckinCounts) -> String {
        let gates = Self.gateTable(counts)
        // Admissions per minute over the last hour, oldest left; each bar's height is its share of the busiest minute.
        let byMinute = Dictionary(uniqueKeysWithValues: counts.minutes.map { (Int($0.start.timeIntervalSince1970 / 60), $0.admitted) })
        let last = Int(gatehouse.now().timeIntervalSince1970 / 60)
        let series = (0..<60).map { byMinute[last - 59 + $0] ?? 0 }
        let peak = max(series.max() ?? 0, 1)
        // Heights as classes (h0–h10), not style attributes: the pages' CSP allows no inline style.
        let bars = series.map { "<span class=h\(($0 * 10 + peak - 1) / peak) title=\"\($0) per minute\"></span>" }.joined()
        let thisMinute = series.last ?? 0
        return """
            <div id=counts>\(gates)
            <h2>Admissions per minute, last hour</h2><p class=stats><span><b>\(thisMinute)</b>this minute</span>\
            <span><b>\(series.reduce(0, +))</b>last hour</span><span><b>\(series.max() ?? 0)</b>busiest minute</span></p>
            <div class=bars aria-hidden=true>\(bars)</div></div>
            """
    }

    func checkinPage(_ event: Event, _ entries: [CheckinLogEntry], _ counts: CheckinCounts, filter: CheckinFilter) -> WebPage {
        let gates = Set(counts.gates.map(\.gateId)).union(filter.gateId.map { [$0] } ?? []).sorted()
        let gateOptions =
            (["<option value=\"\">All gates</option>"] + gates.map { "<option\(filter.gateId == $0 ? " selected" : "")>\(HTML.escape($0))</option>" })
            .joined()
        let resultOptions =
            (["<option value=\"\">All results</option>"]
            + CheckinResult.allCases.map {
                "<option value=\"\($0.rawValue)\"\(filter.result == $0 ? " selected" : "")>\(Self.resultWords($0))</option>"
            }).joined()
        let newest = entries.first?.id ?? 0
        let body = """
            \(Self.eventTabs(event, current: "checkins"))
            <section class=panel>\(countsHTML(counts))</section>
            <form class=inline method=get action="/admin/events/\(HTML.escape(event.id))/checkins">
            <label>Gate <select name=gate>\(gateOptions)</select></label><label>Result <select name=result>\(resultOptions)</select></label>
            <button>Show</button></form>
            <p class=muted id=live-state role=status>Newest first. New check-ins appear here by themselves.</p>
            <table class=cards id=log data-after="\(newest)"><thead><tr><th>Time</th><th>Gate</th><th>Result</th><th class=n>Ticket</th></tr></thead>
            <tbody>\(entries.map(row).joined())</tbody></table>
            \(entries.isEmpty ? "<p class=muted id=log-empty>No check-ins match.</p>" : "")
            """
        return WebPage(title: "Check-ins · \(event.name)", body: body, section: .events, scripts: ["checkins.js"])
    }

    func liveJSON(_ entries: [CheckinLogEntry], _ counts: CheckinCounts) -> String {
        let rows = entries.map { "{\"id\":\($0.id),\"html\":\"\(Self.jsonEscape(row($0)))\"}" }.joined(separator: ",")
        // The time of the update on the organizer's clock (the browser's locale may differ).
        let updated = clock.timeOfDay(gatehouse.now())
        return "{\"rows\":[\(rows)],\"counts\":\"\(Self.jsonEscape(countsHTML(counts)))\",\"updated\":\"\(Self.jsonEscape(updated))\"}"
    }

    static func resultWords(_ result: CheckinResult) -> String {
        switch result {
        case .valid: "valid"
        case .alreadyUsed: "already used"
        case .notFound: "unknown"
        case .wrongEvent: "wrong event"
        case .expired: "expired"
        case .revoked: "revoked"
        case .invalid: "not a ticket"
        }
    }
}

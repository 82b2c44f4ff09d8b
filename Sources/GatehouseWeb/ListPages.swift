import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Check-in lists of one event: which gates admit which ticket types, how often, from when to
/// when and how many at once; made, changed and removed here as with the API, with the count of
/// people inside each list kept current on the page (lists.js polls the live feed).
extension OrganizerSite {
    package func addListPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("events/:id/lists") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(try await listsPage(event, values: [:], error: nil, done: Self.query(request, "done")))
            }
        }
        router.get("events/:id/lists/live") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .response(try WebPage.json(LiveCounts(try await gatehouse.presence(eventId: event.id))))
            }
        }
        router.post("events/:id/lists") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                refused: { try await listsPage(try await gatehouse.event(id: id), values: values, error: $0, done: nil) }
            ) {
                let event = try await gatehouse.event(id: id)
                values = try await WebForm.fields(request)
                _ = try await gatehouse.createList(eventId: event.id, try settings(values))
                return .redirect("/admin/events/\(event.id)/lists?done=created")
            }
        }
        router.get("lists/:id/edit") { request, context in
            await handle(request, context) {
                let list = try await gatehouse.list(id: try context.parameters.require("id"))
                return .page(try await editPage(list, values: formValues(list), error: nil))
            }
        }
        router.post("lists/:id") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                refused: { try await editPage(try await gatehouse.list(id: id), values: values, error: $0) }
            ) {
                values = try await WebForm.fields(request)
                let list = try await gatehouse.replaceList(id: id, try settings(values))
                return .redirect("/admin/events/\(list.eventId)/lists?done=saved")
            }
        }
        router.post("lists/:id/delete") { request, context in
            await handle(request, context) {
                let list = try await gatehouse.list(id: try context.parameters.require("id"))
                try await gatehouse.deleteList(id: list.id)
                return .redirect("/admin/events/\(list.eventId)/lists?done=deleted")
            }
        }
    }

    /// The counts lists.js redraws: people inside the event and each list.
    struct LiveCounts: Sendable, Encodable {
        struct List: Sendable, Encodable {
            var id: String
            var inside: Int
            var capacity: Int?
            var full: Bool
        }
        var inside: Int
        var lists: [List]

        init(_ presence: Presence) {
            inside = presence.inside
            lists = presence.lists.map { list in
                List(id: list.id, inside: list.inside, capacity: list.capacity, full: list.capacity.map { list.inside >= $0 } ?? false)
            }
        }
    }

    /// A list's settings from the form: gates and types one per line or comma-separated.
    func settings(_ values: [String: String]) throws -> Gatehouse.ListSettings {
        func items(_ name: String) -> [String] {
            (values[name] ?? "").split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == "\r" })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let types = items("ticketTypes")
        let attention = items("attention")
        var capacity: Int?
        if let text = Self.optional(values["capacity"]) {
            guard let number = Int(text), number >= 0 else { throw InvalidInputError("Capacity must be a whole number of people") }
            capacity = number
        }
        var entry: EntryPolicy?
        if let text = Self.optional(values["entry"]) {
            guard let policy = EntryPolicy(rawValue: text) else { throw InvalidInputError("Entry \(text) is not once, reentry, unlimited or daily") }
            entry = policy
        }
        return Gatehouse.ListSettings(
            name: values["name"] ?? "",
            ticketTypes: types.isEmpty ? nil : types,
            gates: items("gates"),
            entry: entry,
            capacity: capacity,
            opensAt: try clock.parse(values["opensAt"], field: "Opens"),
            closesAt: try clock.parse(values["closesAt"], field: "Closes"),
            exitAllAt: try clock.parse(values["exitAllAt"], field: "Everyone out at"),
            attention: attention.isEmpty ? nil : attention
        )
    }

    func formValues(_ list: CheckinList) -> [String: String] {
        var values = ["name": list.name, "gates": list.gates.joined(separator: ", "), "entry": list.entry.rawValue]
        if let types = list.ticketTypes { values["ticketTypes"] = types.joined(separator: ", ") }
        if let types = list.attention { values["attention"] = types.joined(separator: ", ") }
        if let capacity = list.capacity { values["capacity"] = String(capacity) }
        values["opensAt"] = clock.fieldValue(list.opensAt)
        values["closesAt"] = clock.fieldValue(list.closesAt)
        values["exitAllAt"] = clock.fieldValue(list.exitAllAt)
        return values
    }

    /// The form's fields and the entry choice, showing `values`.
    struct ListForm: Sendable {
        struct Choice: Sendable {
            var value: String
            var label: String
            var selected: Bool
        }
        var form: FormView
        var entries: [Choice]
    }

    func listForm(_ values: [String: String], error: String?) -> ListForm {
        let zone = "In \(clock.timeZone.identifier)"
        let chosen = values["entry"] ?? EntryPolicy.once.rawValue
        return ListForm(
            form: FormView(
                error: error,
                fields: [
                    FormField("Name", name: "name", values: values, required: true, maxLength: 200, placeholder: "Main hall"),
                    FormField(
                        "Gates",
                        name: "gates",
                        values: values,
                        placeholder: "hall-a, hall-b",
                        hint: "The gate ids its devices are paired for, comma-separated. A gate belongs to one list."
                    ),
                    FormField(
                        "Ticket types",
                        name: "ticketTypes",
                        values: values,
                        placeholder: "VIP, Staff",
                        hint: "Comma-separated; empty admits every type."
                    ),
                    FormField(
                        "Staff look at",
                        name: "attention",
                        values: values,
                        placeholder: "Child, Student",
                        hint: "Ticket types staff check before the holder goes in (an ID, a child with an adult). Kiosks wait for the staff button."
                    ),
                    FormField(
                        "Capacity",
                        name: "capacity",
                        values: values,
                        type: "number",
                        min: 0,
                        hint: "People inside at most; empty for no limit."
                    ),
                    FormField("Opens", name: "opensAt", values: values, type: "datetime-local", hint: zone),
                    FormField("Closes", name: "closesAt", values: values, type: "datetime-local", hint: zone),
                    FormField(
                        "Everyone out at",
                        name: "exitAllAt",
                        values: values,
                        type: "datetime-local",
                        hint: "\(zone). Counts everyone inside out then, and every 24 hours after; empty for never."
                    ),
                ]
            ),
            entries: [
                ("once", "Once — one entry, ever"), ("reentry", "Re-entry — again after an exit"),
                ("unlimited", "Unlimited — any number, no exit needed"), ("daily", "Daily — once per day"),
            ].map { ListForm.Choice(value: $0.0, label: $0.1, selected: $0.0 == chosen) }
        )
    }

    struct ListRow: Sendable {
        var id: String
        var name: String
        var gates: String
        var ticketTypes: String
        /// Ticket types staff look at, or nil.
        var attention: String?
        var entry: String
        var window: String
        var inside: Int
        var capacity: Int?
        var full: Bool
    }

    func listRow(_ list: CheckinList) -> ListRow {
        let window: String
        switch (list.opensAt, list.closesAt) {
        case (nil, nil): window = "always"
        case (let opens?, nil): window = "from " + clock.display(opens).local
        case (nil, let closes?): window = "until " + clock.display(closes).local
        case (let opens?, let closes?): window = clock.display(opens).local + " – " + clock.display(closes).local
        }
        return ListRow(
            id: list.id,
            name: list.name,
            gates: list.gates.isEmpty ? "no gates yet" : list.gates.joined(separator: ", "),
            ticketTypes: list.ticketTypes?.joined(separator: ", ") ?? "every type",
            attention: list.attention?.joined(separator: ", "),
            entry: list.entry.rawValue,
            window: window,
            inside: list.inside,
            capacity: list.capacity,
            full: list.capacity.map { list.inside >= $0 } ?? false
        )
    }

    package func listsPage(_ event: Event, values: [String: String], error: String?, done: String?) async throws -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var done: String?
            var inside: Int
            var lists: [ListRow]
            var hasLists: Bool
            var editor: ListForm
        }
        let lists = try await gatehouse.lists(eventId: event.id)
        let presence = try await gatehouse.presence(eventId: event.id)
        let model = Model(
            tabs: EventTabs(event, current: "lists"),
            eventId: event.id,
            done: ["created": "List made.", "saved": "List saved.", "deleted": "List removed."][done ?? ""],
            inside: presence.inside,
            lists: lists.map(listRow),
            hasLists: !lists.isEmpty,
            editor: listForm(values, error: error)
        )
        return WebPage(title: "Check-in lists · \(event.name)", template: "lists", data: model, section: .events, scripts: ["live.js", "lists.js"])
    }

    func editPage(_ list: CheckinList, values: [String: String], error: String?) async throws -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var listId: String
            var name: String
            var editor: ListForm
        }
        let event = try await gatehouse.event(id: list.eventId)
        let model = Model(
            tabs: EventTabs(event, current: "lists"),
            eventId: event.id,
            listId: list.id,
            name: list.name,
            editor: listForm(values, error: error)
        )
        return WebPage(title: "\(list.name) · \(event.name)", template: "list-edit", data: model, section: .events)
    }
}

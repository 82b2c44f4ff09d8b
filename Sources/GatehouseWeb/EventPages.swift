import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseMail
import GatehouseStorage
import Hummingbird
import QRRendering

/// Events: the list, one event's overview, creating and editing, issuing tickets, the printable
/// sheet of codes just issued, and the CSV import.
extension OrganizerSite {
    package func addEventPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("") { request, context in
            await handle(request, context) { .page(try await eventList(values: [:], error: nil, principal: context.principal)) }
        }
        router.post("events") { request, context in
            var values: [String: String] = [:]
            return await handle(request, context, refused: { try await eventList(values: values, error: $0, principal: context.principal) }) {
                values = try await WebForm.fields(request)
                let event = try await gatehouse.createEvent(
                    name: values["name"] ?? "",
                    startsAt: try clock.parse(values["startsAt"], field: "startsAt"),
                    endsAt: try clock.parse(values["endsAt"], field: "endsAt"),
                    place: values["place"],
                    registration: RegistrationSettings()
                )
                return .redirect("/admin/events/\(event.id)")
            }
        }
        router.get("events/:id") { request, context in
            await handle(request, context) {
                .page(try await overview(try await gatehouse.event(id: try context.parameters.require("id")), values: [:], error: nil))
            }
        }
        router.get("events/:id/edit") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(editPage(event, values: Self.values(of: event, clock), error: nil))
            }
        }
        router.post("events/:id") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                refused: { editPage(try await gatehouse.event(id: id), values: values, error: $0) }
            ) {
                values = try await WebForm.fields(request)
                _ = try await gatehouse.updateEvent(
                    id: id,
                    name: values["name"] ?? "",
                    startsAt: try clock.parse(values["startsAt"], field: "startsAt"),
                    endsAt: try clock.parse(values["endsAt"], field: "endsAt"),
                    place: values["place"]
                )
                return .redirect("/admin/events/\(id)")
            }
        }
        router.post("events/:id/tickets") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                refused: { try await overview(try await gatehouse.event(id: id), values: values, error: $0) }
            ) {
                let event = try await gatehouse.event(id: id)
                values = try await WebForm.fields(request)
                guard let count = Int(values["count"] ?? ""), (1...Self.maximumPerForm).contains(count) else {
                    throw InvalidInputError("How many must be a whole number from 1 to \(Self.maximumPerForm)")
                }
                let mail = values["mail"] == "on"
                let email = Self.optional(values["email"])
                if mail {
                    guard let email else { throw InvalidInputError("E-mail is needed to mail the ticket") }
                    guard (try? MailAddress(address: email)) != nil else { throw InvalidInputError("E-mail '\(email)' is not an e-mail address") }
                }
                let one = Gatehouse.TicketRequest(
                    holderName: Self.optional(values["holderName"]),
                    email: email,
                    ticketType: Self.optional(values["ticketType"])
                )
                let issued = try await gatehouse.issueTickets(eventId: event.id, Array(repeating: one, count: count))
                if mail { _ = try await gatehouse.mailIssued(issued) }
                return .redirect("/admin/events/\(event.id)/sheets/\(vault.keep(issued, eventId: event.id))")
            }
        }
        router.get("events/:id/sheets/:batch") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let batch = vault.batch(try context.parameters.require("batch"), eventId: event.id) else {
                    return .page(
                        WebPage.message(
                            title: "Codes no longer shown",
                            [
                                "Codes are shown for 30 minutes after they are issued, then forgotten: Gatehouse keeps only a hash of each. "
                                    + "To print a ticket's code again, re-issue it from its page (its old code stops working)."
                            ],
                            tabs: EventTabs(event, current: ""),
                            status: .notFound
                        )
                    )
                }
                let page = max(1, Int(Self.query(request, "page") ?? "") ?? 1)
                return .page(try sheet(event, batch, page: page))
            }
        }
        router.post("events/:id/import") { request, context in
            let id = context.parameters.get("id") ?? ""
            var typed: [String: String] = [:]
            return await handle(
                request,
                context,
                refused: { try await overview(try await gatehouse.event(id: id), values: [:], error: nil, importValues: typed, importError: $0) }
            ) {
                let event = try await gatehouse.event(id: id)
                let parts = try await WebForm.multipart(request, limit: Self.maximumImportBytes + 64 * 1024)
                typed["ticketType"] = parts["ticketType"].map { String(decoding: $0, as: UTF8.self) }
                guard let file = parts["holders"], !file.isEmpty else { throw WebFormError("Choose a CSV file of holders first") }
                var reader = HolderCSV(maximumRows: 100_000)
                do {
                    try reader.feed(file)
                    try reader.finish()
                } catch {
                    throw WebFormError("The CSV file cannot be read: \(error)")
                }
                guard reader.rowErrors.isEmpty else {
                    return .page(importRefused(event, reader.rowErrors, good: reader.requests.count))
                }
                let type = Self.optional(parts["ticketType"].map { String(decoding: $0, as: UTF8.self) })
                let requests = reader.requests.map { request in
                    var request = request
                    request.ticketType = request.ticketType ?? type
                    return request
                }
                let mail = parts["mail"].map { String(decoding: $0, as: UTF8.self) } == "on"
                let job = imports.start(requests, eventId: event.id, mail: mail, gatehouse: gatehouse, vault: vault)
                return .redirect("/admin/events/\(event.id)/imports/\(job)")
            }
        }
        router.get("events/:id/imports/:job") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let progress = imports.progress(try context.parameters.require("job"), eventId: event.id) else {
                    throw NotFoundError("import (imports are kept for 30 minutes)")
                }
                return .page(importPage(event, progress))
            }
        }
        router.get("events/:id/imports/:job/progress") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let progress = imports.progress(try context.parameters.require("job"), eventId: event.id) else { throw NotFoundError("import") }
                let answer = ImportProgress(
                    total: progress.total,
                    issued: progress.issued,
                    done: progress.isDone,
                    sheet: progress.batch.map { "/admin/events/\(event.id)/sheets/\($0)" },
                    failure: progress.failure
                )
                return .response(try WebPage.json(answer))
            }
        }
    }

    // MARK: Pages

    /// The events `principal` may see (all, for the admin token and owners).
    package func eventList(values: [String: String], error: String?, principal: Principal?) async throws -> WebPage {
        struct Row: Sendable {
            var id: String
            var name: String
            var startsAt: TimeText
            var issued: Int
            var used: Int
        }
        struct Model: Sendable {
            var events: [Row]
            var hasEvents: Bool
            var form: FormView
        }
        let events = try await gatehouse.events().filter { principal?.covers(eventId: $0.id) ?? false }
        let model = Model(
            events: events.map { Row(id: $0.id, name: $0.name, startsAt: clock.display($0.startsAt), issued: $0.issued, used: $0.used) },
            hasEvents: !events.isEmpty,
            form: FormView(
                error: error,
                fields: eventFields(values)
            )
        )
        return WebPage(title: "Events", template: "events", data: model, section: .events)
    }

    /// The event form's fields (creating and editing), times in the organizer's zone.
    private func eventFields(_ values: [String: String]) -> [FormField] {
        let zone = "In \(clock.timeZone.identifier) time"
        return [
            FormField("Name", name: "name", values: values, required: true, maxLength: 200),
            FormField("Starts", name: "startsAt", values: values, type: "datetime-local", hint: zone),
            FormField("Ends", name: "endsAt", values: values, type: "datetime-local", hint: zone),
            FormField("Place", name: "place", values: values, maxLength: 200, hint: "Shown on the registration page, the mail and the PDF"),
        ]
    }

    /// The import form: in the overview, and again when a file was refused.
    struct ImportForm: Sendable {
        var error: String?
        var fields: [FormField]
    }

    /// The event's page. `error` belongs to the form the organizer sent: issuing (`values` hold
    /// what was typed), or the import (`importValues`), each shown in its own panel.
    package func overview(
        _ event: Event,
        values: [String: String],
        error: String?,
        importValues: [String: String] = [:],
        importError: String? = nil
    ) async throws -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var issued: Int
            var used: Int
            var notYetIn: Int
            var startsAt: TimeText
            var endsAt: TimeText
            var gateTable: GateTable
            var issue: FormView
            var importForm: ImportForm
            /// A refused import shows its panel at the top (the first screen on a phone), with
            /// what was typed: its message is where the organizer looks.
            var importFirst: Bool
        }
        let counts = try await gatehouse.checkinCounts(eventId: event.id)
        let model = Model(
            tabs: EventTabs(event, current: "overview"),
            eventId: event.id,
            issued: event.issued,
            used: event.used,
            notYetIn: event.issued - event.used,
            startsAt: clock.display(event.startsAt),
            endsAt: clock.display(event.endsAt),
            gateTable: GateTable(counts),
            issue: FormView(
                error: error,
                fields: [
                    FormField(
                        "How many",
                        name: "count",
                        values: values.isEmpty ? ["count": "1"] : values,
                        type: "number",
                        required: true,
                        min: 1,
                        max: Self.maximumPerForm
                    ),
                    FormField("Holder name", name: "holderName", values: values, maxLength: 200),
                    FormField("E-mail", name: "email", values: values, type: "email", maxLength: 254),
                    FormField("Ticket type", name: "ticketType", values: values, maxLength: 200),
                ]
            ),
            importForm: ImportForm(
                error: importError,
                fields: [FormField("Ticket type for rows without one", name: "ticketType", values: importValues, maxLength: 200)]
            ),
            importFirst: importError != nil
        )
        return WebPage(title: event.name, template: "event", data: model, section: .events)
    }

    package static func values(of event: Event, _ clock: OrganizerClock) -> [String: String] {
        var values = ["name": event.name]
        values["startsAt"] = clock.fieldValue(event.startsAt)
        values["endsAt"] = clock.fieldValue(event.endsAt)
        values["place"] = event.place
        return values
    }

    package func editPage(_ event: Event, values: [String: String], error: String?) -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var form: FormView
        }
        let model = Model(
            tabs: EventTabs(event, current: ""),
            eventId: event.id,
            form: FormView(
                error: error,
                fields: eventFields(values)
            )
        )
        return WebPage(title: "Edit \(event.name)", template: "event-edit", data: model, section: .events)
    }

    /// Codes up to this long print on one line of a card; signed codes (131 characters) wrap.
    package static let oneLineCode = 48

    /// Cards per printed sheet: three across, four down on A4.
    package static let cardsPerPage = 96

    package func sheet(_ event: Event, _ batch: CodeVault.Batch, page: Int) throws -> WebPage {
        struct Card: Sendable {
            var number: Int
            var ticketType: String?
            var holder: String
            var date: TimeText?
            /// The code drawn as SVG, inline as an image: our own drawing, and an <img> cannot
            /// run anything.
            var image: String
            var code: String
            var oneLine: Bool
        }
        struct PageLink: Sendable {
            var number: Int
            var current: Bool
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var eventName: String
            var codeCount: Int
            var cards: [Card]
            var hasPages: Bool
            var page: Int
            var pageCount: Int
            var pages: [PageLink]
        }
        let pages = max(1, (batch.tickets.count + Self.cardsPerPage - 1) / Self.cardsPerPage)
        let page = min(page, pages)
        let shown = batch.tickets.dropFirst((page - 1) * Self.cardsPerPage).prefix(Self.cardsPerPage)
        let cards = try shown.map { item in
            let svg = try QRMatrix(encoding: item.qrData).svg(moduleSize: 6)
            return Card(
                number: item.ticket.number,
                ticketType: item.ticket.ticketType,
                holder: item.ticket.holderName ?? "",
                date: event.startsAt.map { clock.display($0) },
                image: "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString(),
                code: item.qrData,
                oneLine: item.qrData.count <= Self.oneLineCode
            )
        }
        let model = Model(
            tabs: EventTabs(event, current: ""),
            eventId: event.id,
            eventName: event.name,
            codeCount: batch.tickets.count,
            cards: cards,
            hasPages: pages > 1,
            page: page,
            pageCount: pages,
            pages: (1...pages).map { PageLink(number: $0, current: $0 == page) }
        )
        return WebPage(title: "Tickets for \(event.name)", template: "sheet", data: model, section: .events, scripts: ["print.js"])
    }

    package func importRefused(_ event: Event, _ errors: [HolderCSV.RowError], good: Int) -> WebPage {
        struct Row: Sendable {
            var line: Int
            var message: String
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var summary: String
            var rows: [Row]
            var more: Int?
        }
        let summary =
            "\(errors.count) \(errors.count == 1 ? "row needs" : "rows need") fixing; nothing was issued "
            + "(\(good == 1 ? "1 row was" : "\(good) rows were") fine). Fix the file and import it again."
        let model = Model(
            tabs: EventTabs(event, current: ""),
            eventId: event.id,
            summary: summary,
            rows: errors.prefix(500).map { Row(line: $0.line, message: $0.message) },
            more: errors.count > 500 ? errors.count - 500 : nil
        )
        return WebPage(title: "Import refused", template: "import-refused", data: model, section: .events, status: .unprocessableContent)
    }

    /// How an import is getting on: the page, and the JSON import.js polls.
    package struct ImportProgress: Sendable, Encodable {
        var total: Int
        var issued: Int
        var done: Bool
        var sheet: String?
        var failure: String?
    }

    package func importPage(_ event: Event, _ progress: ImportJobs.Progress) -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var total: Int
            var issued: Int
            var done: Bool
            var failure: String?
            var sheet: String?
            var mail: Mail?

            struct Mail: Sendable {
                var mailed: Int
                var notMailed: String?
                var mailsPage: String
            }
        }
        let notMailed = progress.notMailed.prefix(50).map { "#\($0)" }.joined(separator: ", ") + (progress.notMailed.count > 50 ? " …" : "")
        let model = Model(
            tabs: EventTabs(event, current: ""),
            total: progress.total,
            issued: progress.issued,
            done: progress.isDone,
            failure: progress.failure,
            sheet: progress.batch.map { "/admin/events/\(event.id)/sheets/\($0)" },
            mail: progress.mail
                ? Model.Mail(
                    mailed: progress.mailed,
                    notMailed: progress.notMailed.isEmpty ? nil : "\(progress.notMailed.count) without an e-mail address, not mailed: \(notMailed)",
                    mailsPage: "/admin/events/\(event.id)/registration"
                ) : nil
        )
        return WebPage(title: "Importing holders", template: "import", data: model, section: .events, scripts: progress.isDone ? [] : ["import.js"])
    }
}

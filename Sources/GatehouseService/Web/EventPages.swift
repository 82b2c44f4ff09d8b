import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird
import QRRendering

/// Events: the list, one event's overview, creating and editing, issuing tickets, the printable
/// sheet of codes just issued, and the CSV import.
extension OrganizerSite {
    func addEventPages(to router: Router<GatehouseRequestContext>) {
        router.get("admin") { request, context in
            await handle(request, context) { .page(try await eventList(values: [:], error: nil)) }
        }
        router.post("admin/events") { request, context in
            var values: [String: String] = [:]
            return await handle(request, context, isForm: true, refused: { try await eventList(values: values, error: $0) }) {
                values = try await WebForm.fields(request)
                let event = try await gatehouse.createEvent(
                    name: values["name"] ?? "",
                    startsAt: try clock.parse(values["startsAt"], field: "startsAt"),
                    endsAt: try clock.parse(values["endsAt"], field: "endsAt")
                )
                return .redirect("/admin/events/\(event.id)")
            }
        }
        router.get("admin/events/:id") { request, context in
            await handle(request, context) {
                .page(try await overview(try await gatehouse.event(id: try context.parameters.require("id")), values: [:], error: nil))
            }
        }
        router.get("admin/events/:id/edit") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return .page(editPage(event, values: Self.values(of: event, clock), error: nil))
            }
        }
        router.post("admin/events/:id") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                isForm: true,
                refused: { editPage(try await gatehouse.event(id: id), values: values, error: $0) }
            ) {
                values = try await WebForm.fields(request)
                _ = try await gatehouse.updateEvent(
                    id: id,
                    name: values["name"] ?? "",
                    startsAt: try clock.parse(values["startsAt"], field: "startsAt"),
                    endsAt: try clock.parse(values["endsAt"], field: "endsAt")
                )
                return .redirect("/admin/events/\(id)")
            }
        }
        router.post("admin/events/:id/tickets") { request, context in
            var values: [String: String] = [:]
            let id = context.parameters.get("id") ?? ""
            return await handle(
                request,
                context,
                isForm: true,
                refused: { try await overview(try await gatehouse.event(id: id), values: values, error: $0) }
            ) {
                let event = try await gatehouse.event(id: id)
                values = try await WebForm.fields(request)
                guard let count = Int(values["count"] ?? ""), (1...Self.maximumPerForm).contains(count) else {
                    throw InvalidInputError("How many must be a whole number from 1 to \(Self.maximumPerForm)")
                }
                let one = Gatehouse.TicketRequest(holderName: Self.optional(values["holderName"]), ticketType: Self.optional(values["ticketType"]))
                let issued = try await gatehouse.issueTickets(eventId: event.id, Array(repeating: one, count: count))
                return .redirect("/admin/events/\(event.id)/sheets/\(vault.keep(issued, eventId: event.id))")
            }
        }
        router.get("admin/events/:id/sheets/:batch") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let batch = vault.batch(try context.parameters.require("batch"), eventId: event.id) else {
                    return .page(
                        WebPage(
                            title: "Codes no longer shown",
                            body: Self.eventTabs(event, current: "")
                                + "<p>Codes are shown for 30 minutes after they are issued, then forgotten: Gatehouse keeps only a hash of each. "
                                + "To print a ticket's code again, re-issue it from its page (its old code stops working).</p>",
                            status: .notFound
                        )
                    )
                }
                let page = max(1, Int(Self.query(request, "page") ?? "") ?? 1)
                return .page(try sheet(event, batch, page: page))
            }
        }
        router.post("admin/events/:id/import") { request, context in
            let id = context.parameters.get("id") ?? ""
            var typed: [String: String] = [:]
            return await handle(
                request,
                context,
                isForm: true,
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
                let job = imports.start(requests, eventId: event.id, gatehouse: gatehouse, vault: vault)
                return .redirect("/admin/events/\(event.id)/imports/\(job)")
            }
        }
        router.get("admin/events/:id/imports/:job") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let progress = imports.progress(try context.parameters.require("job"), eventId: event.id) else {
                    throw NotFoundError("import (imports are kept for 30 minutes)")
                }
                return .page(importPage(event, progress))
            }
        }
        router.get("admin/events/:id/imports/:job/progress") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                guard let progress = imports.progress(try context.parameters.require("job"), eventId: event.id) else { throw NotFoundError("import") }
                let sheet = progress.batch.map { "\"/admin/events/\(event.id)/sheets/\($0)\"" } ?? "null"
                let failure = progress.failure.map { "\"\(Self.jsonEscape($0))\"" } ?? "null"
                let json =
                    "{\"total\":\(progress.total),\"issued\":\(progress.issued),\"done\":\(progress.isDone),\"sheet\":\(sheet),\"failure\":\(failure)}"
                return .response(WebPage.response(status: .ok, contentType: "application/json", body: json))
            }
        }
    }

    // MARK: Pages

    func eventList(values: [String: String], error: String?) async throws -> WebPage {
        let events = try await gatehouse.events()
        let rows = events.map { event in
            """
            <tr><td data-label="Event"><a href="/admin/events/\(HTML.escape(event.id))">\(HTML.escape(event.name))</a></td>\
            <td data-label="Starts">\(clock.display(event.startsAt))</td>\
            <td data-label="Issued" class=n>\(event.issued)</td><td data-label="Used" class=n>\(event.used)</td>\
            <td data-label="Id"><code>\(HTML.escape(event.id))</code></td></tr>
            """
        }
        let list =
            events.isEmpty
            ? "<p class=muted>No events yet: create the first one below.</p>"
            : "<table class=cards><thead><tr><th>Event</th><th>Starts</th><th class=n>Issued</th><th class=n>Used</th><th>Id</th></tr></thead><tbody>\(rows.joined())</tbody></table>"
        let form = """
            <section class=panel><h2>New event</h2>\(HTML.errorBox(error))
            <form class=stack method=post action="/admin/events">
            \(HTML.field("Name", name: "name", values: values, attributes: "required maxlength=200"))
            \(HTML.field("Starts", name: "startsAt", values: values, type: "datetime-local", hint: "In \(clock.timeZone.identifier) time"))
            \(HTML.field("Ends", name: "endsAt", values: values, type: "datetime-local", hint: "In \(clock.timeZone.identifier) time"))
            <button>Create event</button></form></section>
            """
        return WebPage(title: "Events", body: list + form, section: .events)
    }

    /// The event's page. `error` belongs to the form the organizer sent: issuing (`values` hold
    /// what was typed), or the import (`importValues`), each shown in its own panel.
    func overview(
        _ event: Event,
        values: [String: String],
        error: String?,
        importValues: [String: String] = [:],
        importError: String? = nil
    ) async throws -> WebPage {
        let counts = try await gatehouse.checkinCounts(eventId: event.id)
        let id = HTML.escape(event.id)
        let gates = Self.gateTable(counts)
        // A refused import shows its panel at the top (the first screen on a phone), with what
        // was typed: its message is where the organizer looks.
        let importPanel = """
            <section class=panel id=import><h2>Import holders from CSV</h2>\(HTML.errorBox(importError))
            <p class=muted>A header row naming any of: Holder name, E-mail, Ticket type, User id (or holderName, email, ticketType, userId); then one row per ticket. Commas, semicolons (Excel in much of Europe) or tabs; UTF-8 or Windows-1252. Every row is checked before anything is issued.</p>
            <form class=stack method=post action="/admin/events/\(id)/import" enctype="multipart/form-data">
            <label>CSV file <input type=file name=holders accept=".csv,.txt,text/csv" required></label>
            \(HTML.field("Ticket type for rows without one", name: "ticketType", values: importValues, attributes: "maxlength=200"))
            <button>Import</button></form></section>
            """
        let body = """
            \(Self.eventTabs(event, current: "overview"))
            \(importError == nil ? "" : importPanel)
            <section class=panel>
            <div class=stats><span><b>\(event.issued)</b>issued</span><span><b>\(event.used)</b>used</span>\
            <span><b>\(event.issued - event.used)</b>not yet in</span></div>
            <p>Starts: \(clock.display(event.startsAt))<br>Ends: \(clock.display(event.endsAt))<br>Id <code>\(id)</code></p>
            <p><a class="button secondary" href="/admin/events/\(id)/edit">Edit event</a> <a class="button secondary" href="/scanner">Staff scanner</a></p>
            </section>
            <section class=panel><h2>By gate</h2>\(gates)</section>
            <div class=grid>
            <section class=panel><h2>Issue tickets</h2>\(HTML.errorBox(error))
            <p class=muted>The codes are shown on the next page for 30 minutes, to print or save as PDF. Gatehouse keeps only a hash of each code.</p>
            <form class=stack method=post action="/admin/events/\(id)/tickets">
            \(HTML.field("How many", name: "count", values: values.isEmpty ? ["count": "1"] : values, type: "number", attributes: "min=1 max=\(Self.maximumPerForm) required"))
            \(HTML.field("Holder name", name: "holderName", values: values, attributes: "maxlength=200"))
            \(HTML.field("Ticket type", name: "ticketType", values: values, attributes: "maxlength=200"))
            <button>Issue</button></form></section>
            \(importError == nil ? importPanel : "")
            </div>
            """
        return WebPage(title: event.name, body: body, section: .events)
    }

    static func values(of event: Event, _ clock: OrganizerClock) -> [String: String] {
        var values = ["name": event.name]
        values["startsAt"] = clock.fieldValue(event.startsAt)
        values["endsAt"] = clock.fieldValue(event.endsAt)
        return values
    }

    func editPage(_ event: Event, values: [String: String], error: String?) -> WebPage {
        let body = """
            \(Self.eventTabs(event, current: ""))
            <section class=panel>\(HTML.errorBox(error))
            <form class=stack method=post action="/admin/events/\(HTML.escape(event.id))">
            \(HTML.field("Name", name: "name", values: values, attributes: "required maxlength=200"))
            \(HTML.field("Starts", name: "startsAt", values: values, type: "datetime-local", hint: "In \(clock.timeZone.identifier) time"))
            \(HTML.field("Ends", name: "endsAt", values: values, type: "datetime-local", hint: "In \(clock.timeZone.identifier) time"))
            <button>Save</button> <a class="button secondary" href="/admin/events/\(HTML.escape(event.id))">Cancel</a></form></section>
            """
        return WebPage(title: "Edit \(event.name)", body: body, section: .events)
    }

    /// Codes up to this long print on one line of a card; signed codes (131 characters) wrap.
    static let oneLineCode = 48

    /// Cards per printed sheet: three across, four down on A4.
    static let cardsPerPage = 96

    func sheet(_ event: Event, _ batch: CodeVault.Batch, page: Int) throws -> WebPage {
        let pages = max(1, (batch.tickets.count + Self.cardsPerPage - 1) / Self.cardsPerPage)
        let page = min(page, pages)
        let shown = batch.tickets.dropFirst((page - 1) * Self.cardsPerPage).prefix(Self.cardsPerPage)
        var cards = ""
        let date = event.startsAt.map { clock.display($0) } ?? ""
        for item in shown {
            let svg = try QRMatrix(encoding: item.qrData).svg(moduleSize: 6)
            // Inline as an image: the SVG text is our own drawing, and an <img> cannot run anything.
            let image = "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString()
            let holder = item.ticket.holderName.map { HTML.escape($0) } ?? ""
            let type = item.ticket.ticketType.map { " · \(HTML.escape($0))" } ?? ""
            // Every part of a card has its place and a bound (names clamp to their lines): a long
            // event name or holder, or a date on two lines, never pushes the code out of the card.
            cards += """
                <div class=ticket-card><div class=event>\(HTML.escape(event.name))</div><div class=when>\(date)</div>\
                <img alt="QR code of ticket \(item.ticket.number)" src="\(image)"><div class=line><b>#\(item.ticket.number)</b>\(type)</div>\
                <div class=holder>\(holder)</div>\
                <span class="code\(item.qrData.count <= Self.oneLineCode ? " one-line" : "")">\(HTML.escape(item.qrData))</span></div>
                """
        }
        let id = HTML.escape(event.id)
        let pager =
            pages > 1
            ? "<p class=noprint>Sheet \(page) of \(pages): "
                + (1...pages).map { $0 == page ? "<b>\($0)</b>" : "<a href=\"?page=\($0)\">\($0)</a>" }.joined(separator: " ")
                + "</p>" : ""
        let body = """
            <div class=noprint>\(Self.eventTabs(event, current: ""))
            <p class=notice>\(batch.tickets.count) codes. They are shown here for 30 minutes after issuing, then forgotten: print them or save them as PDF now.</p>
            <p><button type=button id=print-sheet>Print</button> <a class="button secondary" href="/admin/events/\(id)">Back to the event</a></p>\(pager)</div>
            <div class=sheet>\(cards)</div>
            """
        return WebPage(title: "Tickets for \(event.name)", body: body, section: .events, scripts: ["print.js"])
    }

    func importRefused(_ event: Event, _ errors: [HolderCSV.RowError], good: Int) -> WebPage {
        let rows = errors.prefix(500).map {
            "<tr><td data-label=Line class=n>\($0.line)</td><td data-label=Problem>\(HTML.escape($0.message))</td></tr>"
        }
        let more = errors.count > 500 ? "<p>… and \(errors.count - 500) more.</p>" : ""
        let body = """
            \(Self.eventTabs(event, current: ""))
            <p class=error role=alert>\(errors.count) \(errors.count == 1 ? "row needs" : "rows need") fixing; nothing was issued (\(good == 1 ? "1 row was" : "\(good) rows were") fine). Fix the file and import it again.</p>
            <table class=cards><thead><tr><th class=n>Line</th><th>Problem</th></tr></thead><tbody>\(rows.joined())</tbody></table>\(more)
            <p><a class="button secondary" href="/admin/events/\(HTML.escape(event.id))">Back to the event</a></p>
            """
        return WebPage(title: "Import refused", body: body, section: .events, status: .unprocessableContent)
    }

    func importPage(_ event: Event, _ progress: ImportJobs.Progress) -> WebPage {
        let id = HTML.escape(event.id)
        let sheet = progress.batch.map { "<p><a class=button href=\"/admin/events/\(id)/sheets/\($0)\">Print the codes</a></p>" } ?? ""
        let failure = progress.failure.map { HTML.errorBox("The import stopped: \($0)") } ?? ""
        let body = """
            \(Self.eventTabs(event, current: ""))
            <section class=panel id=import>
            <p><progress id=import-bar max="\(progress.total)" value="\(progress.issued)">\(progress.issued)</progress>
            <span id=import-count>\(progress.issued) of \(progress.total) tickets issued</span></p>
            <p id=import-done \(progress.isDone ? "" : "hidden")>\(progress.isDone ? "Done." : "")</p>\(failure)\(sheet)
            <p class="muted noscript-hint">This page updates itself; reload it if it does not.</p>
            </section>
            """
        return WebPage(title: "Importing holders", body: body, section: .events, scripts: progress.isDone ? [] : ["import.js"])
    }

    static func jsonEscape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

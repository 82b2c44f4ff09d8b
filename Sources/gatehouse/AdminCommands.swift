import ArgumentParser
import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseService
import GatehouseStorage
import Logging

/// Opens the store for one admin command, runs its services around the command, and stops them
/// afterwards on every path: queued SQLite writes commit, PostgreSQL connections close.
func withGatehouse<T>(_ options: DatabaseOptions, _ body: (Gatehouse) async throws -> T) async throws -> T {
    let location = try databaseLocation(options)
    let logger = Logger(label: "gatehouse")
    let store = try await reportingOpenFailures(of: location) {
        try await StoreOpener.open(location, poolSize: 4, logger: logger)
    }
    do {
        return try await store.whileRunning(logger: logger) { try await body(Gatehouse(store: store)) }
    } catch let error as InvalidInputError {
        throw ValidationError(error.description)
    } catch let error as NotFoundError {
        throw ValidationError(error.description)
    }
}

/// Records a change made from the command line in the audit trail: the actor is "command line"
/// (whoever could open the database), as the pages' and the API's changes name their account.
func auditCommandLine(_ gatehouse: Gatehouse, _ action: String, eventId: String?, subject: String? = nil, detail: String? = nil) async throws {
    try await gatehouse.accountBook().record(
        AuditEntry(
            at: gatehouse.now(),
            accountId: nil,
            actor: "command line",
            address: nil,
            action: action,
            eventId: eventId,
            subject: subject,
            detail: detail
        )
    )
}

/// The database `--db` (or `$GATEHOUSE_DB`) names; a value naming none ends the command with
/// one line listing the accepted forms and exit status 64 (EX_USAGE), before anything is written.
func databaseLocation(_ options: DatabaseOptions) throws -> DatabaseLocation {
    do {
        return try StoreOpener.location(flag: options.db, environment: ProcessInfo.processInfo.environment)
    } catch {
        FileHandle.standardError.write(Data("gatehouse: \(error)\n".utf8))
        throw ExitCode(64)
    }
}

/// Runs `open` (the store, or the whole application around it) or ends with one line that says
/// which database and why (never its password): exit 64 for a value that can never work, else 1.
func reportingOpenFailures<T>(of location: DatabaseLocation, _ open: () async throws -> T) async throws -> T {
    do {
        return try await open()
    } catch let error as InvalidInputError {
        FileHandle.standardError.write(Data("gatehouse: \(error.description)\n".utf8))
        throw ExitCode(64)
    } catch {
        let why: String
        switch error {
        case StoreError.unavailable(let text): why = text
        default: why = "\(error)"
        }
        FileHandle.standardError.write(Data("gatehouse: cannot open the database \(StoreOpener.describe(location)): \(why)\n".utf8))
        throw ExitCode(1)
    }
}

/// Parses an ISO 8601 time given on the command line.
func parseTime(_ text: String?, option: String) throws -> Date? {
    guard let text else { return nil }
    if let date = ISO8601Time.parse(text) { return date }
    throw ValidationError("\(option) must be an ISO 8601 time such as 2026-12-31T20:00:00Z, not '\(text)'")
}

/// Writes a line to stdout at once (unbuffered), for output that is followed live.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // The API's own form (proleptic Gregorian, milliseconds), not Foundation's ISO 8601.
    encoder.dateEncodingStrategy = .custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(date.iso8601Millis)
    }
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct EventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event",
        abstract: "Create and list events; open registration.",
        subcommands: [Create.self, List.self, Registration.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an event and print it.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The event's name.") var name: String
        @Option(help: "Start time, ISO 8601.") var startsAt: String?
        @Option(help: "End time, ISO 8601.") var endsAt: String?
        @Option(help: "Where it takes place (shown on the registration page, the mail and the PDF).") var place: String?

        func run() async throws {
            let startsAt = try parseTime(self.startsAt, option: "--starts-at")
            let endsAt = try parseTime(self.endsAt, option: "--ends-at")
            let event = try await withGatehouse(database) { gatehouse in
                let event = try await gatehouse.createEvent(
                    name: name,
                    startsAt: startsAt,
                    endsAt: endsAt,
                    place: place,
                    registration: RegistrationSettings()
                )
                try await auditCommandLine(gatehouse, "event created", eventId: event.id)
                return event
            }
            try printJSON(event)
        }
    }

    struct Registration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open, close or change an event's public registration; prints the settings.",
            discussion: "Settings not named keep their value. People register at /register/EVENT-ID on the service."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The event's id.") var event: String
        @Flag(name: .customLong("open"), help: "Take registrations.") var open = false
        @Flag(name: .customLong("close"), help: "Take no more registrations.") var close = false
        @Option(help: "Registrations taken at most (0 or more); --no-capacity removes the limit.") var capacity: Int?
        @Flag(help: "No limit on registrations.") var noCapacity = false
        @Option(help: "Refuse registrations from this time on, ISO 8601.") var closesAt: String?
        @Option(help: "The ticket type a registration gives.") var ticketType: String?
        @Option(help: "Whether one e-mail address may register once (true) or more often (false).") var onePerEmail: Bool?

        func validate() throws {
            if open && close { throw ValidationError("give --open or --close, not both") }
            if capacity != nil && noCapacity { throw ValidationError("give --capacity or --no-capacity, not both") }
        }

        func run() async throws {
            let closesAt = try parseTime(self.closesAt, option: "--closes-at")
            let updated = try await withGatehouse(database) { gatehouse in
                var settings = try await gatehouse.event(id: event).registration.settings
                if open { settings.open = true }
                if close { settings.open = false }
                if let capacity { settings.capacity = capacity }
                if noCapacity { settings.capacity = nil }
                if let closesAt { settings.closesAt = closesAt }
                if let ticketType { settings.ticketType = ticketType }
                if let onePerEmail { settings.onePerEmail = onePerEmail }
                let updated = try await gatehouse.setRegistration(eventId: event, settings)
                try await auditCommandLine(gatehouse, "registration changed", eventId: event, detail: settings.open ? "open" : "closed")
                return updated
            }
            try printJSON(["registration": updated.registration])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List events with issued and used counts.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let events = try await withGatehouse(database) { try await $0.events() }
            for event in events { print("\(event.id)  issued \(event.issued)  used \(event.used)  \(event.name)") }
        }
    }
}

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Register, pair and revoke gate devices.",
        subcommands: [Pair.self, Add.self, Revoke.self]
    )

    struct Pair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a one-time pairing code for a gate; the technician runs `gate-kiosk enroll --code CODE` on the box."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Event the kiosk will check tickets in for.") var event: String
        @Option(help: "Gate the kiosk stands at, e.g. north-1.") var gate: String
        @Option(help: "A name for the device.") var name: String?
        @Option(help: "How long the code works: seconds, or with m/h (e.g. 15m, 2h); at most 24 hours.") var ttl = "15m"

        func run() async throws {
            guard let seconds = Self.seconds(ttl) else { throw ValidationError("--ttl must be like 900, 15m or 2h, not '\(ttl)'") }
            let (code, expiresAt) = try await withGatehouse(database) { gatehouse in
                let made = try await gatehouse.createPairing(eventId: event, gateId: gate, name: name, timeToLive: seconds)
                try await auditCommandLine(gatehouse, "pairing made", eventId: event, detail: "gate \(gate)")
                return made
            }
            print("Pairing code for gate \(gate): \(code)")
            print("Works once, until \(expiresAt.formatted(Date.ISO8601FormatStyle())). On the kiosk:")
            print("  sudo gate-kiosk enroll --server https://YOUR-SERVICE --code \(code)")
        }

        static func seconds(_ text: String) -> Int? {
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
            if let unit = text.last.flatMap({ units[$0] }), let value = Int(text.dropLast()) { return value * unit }
            return Int(text)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a device; prints its id and token (shown once).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Event the device checks tickets in for.") var event: String
        @Option(help: "Gate the device stands at, e.g. north-1.") var gate: String
        @Option(help: "A name for the device.") var name: String?

        func run() async throws {
            let added = try await withGatehouse(database) { gatehouse in
                let added = try await gatehouse.addDevice(name: name ?? "kiosk \(gate)", gateId: gate, eventId: event)
                try await auditCommandLine(gatehouse, "device added", eventId: event, subject: added.device.id)
                return added
            }
            print("deviceId: \(added.device.id)")
            print("token: \(added.token)")
            FileHandle.standardError.write(Data("The token is shown only now. Store it on the kiosk (docs/technicians.md).\n".utf8))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a device: its token stops working at once.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Device id.") var id: String

        func run() async throws {
            let device = try await withGatehouse(database) { gatehouse in
                let device = try await gatehouse.revokeDevice(id: id)
                try await auditCommandLine(gatehouse, "device revoked", eventId: device.eventId, subject: device.id)
                return device
            }
            print("revoked \(device.id) (\(device.name), gate \(device.gateId))")
        }
    }
}

struct CheckinsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkins", abstract: "Show an event's check-in log, newest last.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Event id.") var event: String
    @Option(help: "Only this gate.") var gate: String?
    @Option(help: "How many recent rows to show first.") var last: Int = 50
    @Flag(help: "Keep printing new check-ins as they happen (Ctrl-C stops).") var follow = false

    func validate() throws {
        guard (1...10_000).contains(last) else { throw ValidationError("--last must be between 1 and 10000, not \(last)") }
    }

    func run() async throws {
        try await withGatehouse(database) { gatehouse in
            var recent = try await gatehouse.checkins(eventId: event, filter: CheckinFilter(gateId: gate, limit: last))
            recent.reverse()
            recent.forEach(printRow)
            guard follow else { return }
            var lastSeen = recent.last?.id ?? 0
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(500))
                let rows = try await gatehouse.checkins(eventId: event, filter: CheckinFilter(gateId: gate, afterId: lastSeen, limit: 1000))
                rows.forEach(printRow)
                lastSeen = rows.last?.id ?? lastSeen
            }
        }
    }

    func printRow(_ entry: CheckinLogEntry) {
        let time = entry.at.iso8601Millis
        let number = entry.ticketNumber.map { "#\($0)" } ?? "-"
        let marks =
            (entry.mode == .validate ? "  (validate)" : "") + (entry.offline ? "  (offline)" : "")
            + (entry.conflict.map { "  CONFLICT: \($0.rawValue)" } ?? "")
        say("\(time)  \(entry.gateId)  \(entry.deviceId)  \(entry.result.rawValue)  \(number)\(marks)")
    }
}

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "Show tickets admitted twice while gates were offline (or admitted offline after a revoke).",
        discussion: "Each line: the ticket, why it collided, the offline admission, and the admission that came first."
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Event id.") var event: String

    func run() async throws {
        let conflicts = try await withGatehouse(database) { try await $0.conflicts(eventId: event) }
        guard !conflicts.isEmpty else {
            print("No conflicts.")
            return
        }
        for conflict in conflicts {
            let number = conflict.ticketNumber.map { "#\($0)" } ?? "ticket ?"
            let offline = "\(conflict.offline.gateId) at \(conflict.offline.at.iso8601Millis) (offline, \(conflict.offline.deviceId))"
            let first =
                conflict.first.map { "first \($0.gateId) at \($0.at.iso8601Millis)\($0.offline ? " (offline)" : "")" } ?? "no earlier admission"
            print("\(number)  \(conflict.reason.rawValue)  \(offline); \(first)")
        }
        print("\(conflicts.count) conflict(s).")
    }
}

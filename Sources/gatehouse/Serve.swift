import ArgumentParser
import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseService
import GatehouseStorage
import Hummingbird
import Logging
import NIOCore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the check-in HTTP service.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on.")
    var host: String = ProcessInfo.processInfo.environment["GATEHOUSE_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one and prints it).")
    var port: Int = Int(ProcessInfo.processInfo.environment["GATEHOUSE_PORT"] ?? "") ?? 8080

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "PostgreSQL connections this process may open (default: $GATEHOUSE_DB_POOL_SIZE or 8).")
    var poolSize: Int = Int(ProcessInfo.processInfo.environment["GATEHOUSE_DB_POOL_SIZE"] ?? "") ?? 8

    @Option(
        help: ArgumentHelp(
            "Threads that carry the connections and the requests' work (default: $GATEHOUSE_EVENT_LOOPS, else one per core with SQLite and one per two cores with PostgreSQL or MySQL).",
            valueName: "threads"
        )
    )
    var eventLoops: Int?

    /// `--event-loops`, else `$GATEHOUSE_EVENT_LOOPS` (checked in `validate`), else the default
    /// for the database. `main.swift` sizes the event-loop group with it before anything runs.
    var eventLoopCount: Int {
        if let eventLoops { return eventLoops }
        if let count = Self.eventLoopsVariable.flatMap({ Int($0) }) { return count }
        // A --db that names no database is reported by `run`, which then starts nothing.
        guard let location = try? StoreOpener.location(flag: database.db, environment: ProcessInfo.processInfo.environment) else {
            return System.coreCount
        }
        return EventLoopThreads.defaultCount(for: location, cores: System.coreCount)
    }

    /// `$GATEHOUSE_EVENT_LOOPS`; empty counts as unset, as it does for an environment file's `NAME=`.
    private static var eventLoopsVariable: String? {
        ProcessInfo.processInfo.environment["GATEHOUSE_EVENT_LOOPS"].flatMap { $0.isEmpty ? nil : $0 }
    }

    @Option(help: "Folder for the admin token file (default: the SQLite file's folder; $GATEHOUSE_DATA_DIR or gatehouse-data with PostgreSQL).")
    var dataDir: String?

    @Option(
        name: .customLong("trusted-proxy"),
        help:
            "Address of a reverse proxy whose X-Forwarded-For is believed (repeatable; default: $GATEHOUSE_TRUSTED_PROXIES, comma-separated, else none)."
    )
    var trustedProxies: [String] = (ProcessInfo.processInfo.environment["GATEHOUSE_TRUSTED_PROXIES"] ?? "").split(separator: ",").map {
        String($0).trimmingCharacters(in: .whitespaces)
    }

    @Option(help: "Wrong pairing codes one network (an IPv4 /24, an IPv6 /64) may try in ten minutes; past it that network waits.")
    var pairingGuessLimit: Int = 60

    @Option(
        help:
            "The organizer's time zone (IANA name, e.g. Europe/Berlin): the web pages show times in it, UTC beside (default: $GATEHOUSE_TIME_ZONE or UTC)."
    )
    var timeZone: String = ProcessInfo.processInfo.environment["GATEHOUSE_TIME_ZONE"] ?? "UTC"

    @Option(help: "Most connections held at once (default: what the file-descriptor limit allows, at most 10000).")
    var maxConnections: Int?

    @Option(help: "Seconds a connection may sit with no request (or half a request head) before it is closed.")
    var idleTimeout: Int = 30

    @Option(help: "Seconds a request's body may take to arrive after its head.")
    var bodyTimeout: Int = 30

    @OptionGroup var mail: MailOptions

    @Option(
        help:
            "The address people reach this service at, for the links in ticket mails, e.g. https://tickets.example.org (default: $GATEHOUSE_PUBLIC_URL)."
    )
    var publicUrl: String?

    @Option(help: "Registrations one client address may make on the public pages in ten minutes.")
    var registrationLimit: Int = 20

    @Option(
        help: ArgumentHelp(
            "A token that reads GET /metrics and nothing else, for a Prometheus server (default: $GATEHOUSE_METRICS_TOKEN); the admin token reads it too.",
            valueName: "token"
        )
    )
    var metricsToken: String?

    /// The flag, else its environment variable: argument-parser takes no default for an optional.
    private var publicURLSetting: String? { publicUrl ?? ProcessInfo.processInfo.environment["GATEHOUSE_PUBLIC_URL"] }
    private var metricsTokenSetting: String? { metricsToken ?? ProcessInfo.processInfo.environment["GATEHOUSE_METRICS_TOKEN"] }

    @Option(help: ArgumentHelp("Minutes without a request after which a sign-in ends.", valueName: "minutes"))
    var sessionIdle: Int = 120

    @Option(help: ArgumentHelp("Hours after which a sign-in ends, however busy.", valueName: "hours"))
    var sessionLifetime: Int = 12

    @Option(help: "The e-mail address of the first owner account, made on a database without accounts (default: $GATEHOUSE_OWNER_EMAIL).")
    var ownerEmail: String = ProcessInfo.processInfo.environment["GATEHOUSE_OWNER_EMAIL"] ?? "owner@gatehouse.local"

    func validate() throws {
        guard (1...7 * 24 * 60).contains(sessionIdle) else {
            throw ValidationError("--session-idle must be between 1 and 10080 minutes, not \(sessionIdle)")
        }
        guard (1...30 * 24).contains(sessionLifetime) else {
            throw ValidationError("--session-lifetime must be between 1 and 720 hours, not \(sessionLifetime)")
        }
        do {
            _ = try AccountBook.email(ownerEmail)
        } catch {
            throw ValidationError("--owner-email must be an e-mail address, not '\(ownerEmail)'")
        }
        guard (1...10_000_000).contains(pairingGuessLimit) else {
            throw ValidationError("--pairing-guess-limit must be between 1 and 10000000, not \(pairingGuessLimit)")
        }
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be between 1 and 3600 seconds, not \(idleTimeout)") }
        guard (1...3600).contains(bodyTimeout) else { throw ValidationError("--body-timeout must be between 1 and 3600 seconds, not \(bodyTimeout)") }
        if let maxConnections, !(16...1_000_000).contains(maxConnections) {
            throw ValidationError("--max-connections must be between 16 and 1000000, not \(maxConnections)")
        }
        for proxy in trustedProxies where !Self.isIPAddress(proxy) {
            throw ValidationError("--trusted-proxy must be an IP address such as 127.0.0.1, not '\(proxy)'")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
        let loops = EventLoopThreads.allowed
        if eventLoops == nil, let text = Self.eventLoopsVariable, !(Int(text).map(loops.contains) ?? false) {
            throw ValidationError("GATEHOUSE_EVENT_LOOPS must be a whole number between \(loops.lowerBound) and \(loops.upperBound), not '\(text)'")
        }
        if let eventLoops, !loops.contains(eventLoops) {
            throw ValidationError("--event-loops must be between \(loops.lowerBound) and \(loops.upperBound), not \(eventLoops)")
        }
        guard (1...200).contains(poolSize) else { throw ValidationError("--pool-size must be between 1 and 200, not \(poolSize)") }
        guard (1...1_000_000).contains(registrationLimit) else {
            throw ValidationError("--registration-limit must be between 1 and 1000000, not \(registrationLimit)")
        }
        if let publicUrl = publicURLSetting {
            guard let url = URL(string: publicUrl), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false,
                url.query == nil, url.fragment == nil, url.user == nil
            else {
                throw ValidationError("--public-url must be an http(s) address such as https://tickets.example.org, not '\(publicUrl)'")
            }
        }
        _ = try mail.optionalSetup()
        if let metricsToken = metricsTokenSetting, metricsToken.utf8.count < 16 || metricsToken.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--metrics-token must be at least 16 characters without spaces")
        }
        guard TimeZone(identifier: timeZone) != nil else {
            throw ValidationError("--time-zone must be a time zone name such as Europe/Berlin or UTC, not '\(timeZone)'")
        }
    }

    func run() async throws {
        var logger = Logger(label: "gatehouse")
        logger.logLevel = logLevel
        logger.info("Event-loop threads", metadata: ["event_loops": "\(NIOSingletons.groupLoopCountSuggestion)"])
        var limits = ConnectionLimits.fittingDescriptorLimit(requested: maxConnections)
        limits.idleTimeout = .seconds(idleTimeout)
        limits.bodyTimeout = .seconds(bodyTimeout)
        let configuration = ServiceConfiguration(
            host: host,
            port: port,
            database: try databaseLocation(database),
            poolSize: poolSize,
            dataDirectory: dataDir,
            connectionLimits: limits,
            trustedProxies: trustedProxies,
            pairingGuessLimit: pairingGuessLimit,
            timeZone: TimeZone(identifier: timeZone)!,
            mail: try mail.optionalSetup().map { MailSetup(server: $0.server, sender: $0.sender) },
            publicURL: publicURLSetting,
            registrationLimit: registrationLimit,
            metricsToken: metricsTokenSetting,
            sessionPolicy: SessionPolicy(idle: TimeInterval(sessionIdle * 60), lifetime: TimeInterval(sessionLifetime * 3600)),
            ownerEmail: ownerEmail
        )
        let app = try await reportingOpenFailures(of: configuration.database) {
            try await buildApplication(configuration, logger: logger)
        }
        try await runUntilStopped(app, logger: logger)
    }
}

extension Serve {
    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

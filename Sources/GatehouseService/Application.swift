import Foundation
import GatehouseAPI
import GatehouseDelivery
import GatehouseDomain
import GatehouseMail
import GatehouseStorage
import GatehouseWeb
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SystemdNotify
import UnixSignals

/// Everything `buildApplication` needs, as `gatehouse serve` parsed it.
public struct ServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Which database, as `--db` named it (already parsed: a wrong form never gets here).
    public var database: DatabaseLocation
    /// PostgreSQL connections this process may open.
    public var poolSize: Int
    /// How long a networked database may take before a request gets a 503.
    public var databaseLimits: DatabaseLimits
    /// `--data-dir`: the admin token file's folder (default: next to the SQLite file).
    public var dataDirectory: String?
    public var connectionLimits: ConnectionLimits
    /// Proxies whose X-Forwarded-For is believed (the nginx of docs/operations.md: 127.0.0.1).
    public var trustedProxies: [String]
    /// Wrong pairing codes one network (an IPv4 /24, an IPv6 /64) may try in ten minutes.
    public var pairingGuessLimit: Int
    /// The organizer's time zone: the web pages show times in it (UTC beside) and read their
    /// date fields in it (`--time-zone`, `GATEHOUSE_TIME_ZONE`).
    public var timeZone: TimeZone
    /// Where the admin token and systemd's sockets are looked up (`GATEHOUSE_ADMIN_TOKEN`,
    /// `CREDENTIALS_DIRECTORY`, `GATEHOUSE_DATA_DIR`, `NOTIFY_SOCKET`): the process's environment,
    /// or a test's own.
    public var environment: [String: String]
    /// The service's clock (a test's own, to step through expiries without sleeping).
    public var now: @Sendable () -> Date
    /// Where ticket mails go and whom they are from (`--smtp-url`, `--mail-from`); nil keeps them
    /// in the outbox until the service runs with a server.
    public var mail: MailSetup?
    /// The address the service is reached at from outside (`--public-url`), for links in mails.
    public var publicURL: String?
    /// Registrations one client address may make in ten minutes (`--registration-limit`).
    public var registrationLimit: Int
    /// A token that reads `GET /metrics` only (`--metrics-token`), for a Prometheus server.
    public var metricsToken: String?
    /// How long a sign-in lasts (`--session-idle`, `--session-lifetime`).
    public var sessionPolicy: SessionPolicy
    /// The address of the first owner account, made on a database without accounts
    /// (`--owner-email`, `GATEHOUSE_OWNER_EMAIL`).
    public var ownerEmail: String
    /// Which cores the staff scanner's frames are read on: idle ones only, as a service should;
    /// a test's service beside busy tests reads at the process's priority.
    package var frameDecodingCores: FrameDecodingCores = .idleOnly

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        database: DatabaseLocation,
        poolSize: Int = 8,
        databaseLimits: DatabaseLimits = .standard,
        dataDirectory: String? = nil,
        connectionLimits: ConnectionLimits = .fittingDescriptorLimit(requested: nil),
        trustedProxies: [String] = [],
        pairingGuessLimit: Int = 60,
        timeZone: TimeZone = TimeZone(identifier: "UTC")!,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        now: @escaping @Sendable () -> Date = { Date() },
        mail: MailSetup? = nil,
        publicURL: String? = nil,
        registrationLimit: Int = 20,
        metricsToken: String? = nil,
        sessionPolicy: SessionPolicy = SessionPolicy(),
        ownerEmail: String = "owner@gatehouse.local"
    ) {
        self.sessionPolicy = sessionPolicy
        self.ownerEmail = ownerEmail
        self.metricsToken = metricsToken
        self.now = now
        self.mail = mail
        self.publicURL = publicURL
        self.registrationLimit = registrationLimit
        self.timeZone = timeZone
        self.host = host
        self.port = port
        self.database = database
        self.poolSize = poolSize
        self.databaseLimits = databaseLimits
        self.dataDirectory = dataDirectory
        self.connectionLimits = connectionLimits
        self.trustedProxies = trustedProxies
        self.pairingGuessLimit = pairingGuessLimit
        self.environment = environment
    }
}

/// The composition root of `gatehouse serve`: opens (and migrates) the store, loads the admin
/// credential, and returns the application whose service group runs the store's parts, the HTTP
/// server and the systemd notices. Graceful shutdown (SIGTERM, SIGINT) goes the other way: the
/// server drains, `STOPPING=1` is sent, then the store commits what is queued and closes.
///
/// Throws before anything listens when the database cannot be opened (see `StoreOpener`) or the
/// admin credential is unusable.
public func buildApplication(_ configuration: ServiceConfiguration, logger: Logger) async throws -> some ApplicationProtocol {
    let store = try await StoreOpener.open(
        configuration.database,
        poolSize: configuration.poolSize,
        limits: configuration.databaseLimits,
        logger: logger
    )
    let adminTokenHash = try loadAdminToken(configuration, logger: logger)
    let seal = try loadMailKey(configuration, logger: logger)
    let gatehouse = Gatehouse(
        store: store,
        codeSeal: seal,
        timeZone: configuration.timeZone,
        metrics: ExplainedPrometheusFactory(),
        now: configuration.now
    )
    let publicURL = configuration.publicURL ?? "http://\(configuration.host):\(configuration.port)"
    var mailServices: [any Service] = []
    if let mail = configuration.mail {
        if configuration.publicURL == nil {
            logger.warning("No --public-url: links in ticket mails point to \(publicURL), which people elsewhere cannot reach")
        }
        mailServices.append(
            MailOutbox(
                gatehouse: gatehouse,
                composer: TicketMailComposer(sender: mail.sender, publicURL: publicURL, timeZone: configuration.timeZone),
                client: SMTPClient(settings: mail.server, timeoutMilliseconds: MailOutbox.smtpTimeoutMilliseconds),
                logger: logger
            )
        )
        logger.info("Ticket mail", metadata: ["smtp": "\(mail.server)", "from": "\(mail.sender.address)"])
    } else {
        logger.notice("No --smtp-url: ticket mails wait in the outbox until the service runs with one")
    }
    let systemd = SystemdNotifier(environment: configuration.environment)
    let host = configuration.host
    let database = StoreOpener.describe(configuration.database)
    logger.info(
        "Connection limits",
        metadata: [
            "http.max_connections": "\(configuration.connectionLimits.maximumConnections)",
            "http.idle_timeout_s": "\(configuration.connectionLimits.idleTimeout.components.seconds)",
        ]
    )
    return buildApplication(
        gatehouse: gatehouse,
        adminTokenHash: adminTokenHash,
        configuration: configuration,
        logger: logger,
        services: store.services + mailServices + [
            ListExits(gatehouse: gatehouse, logger: logger), WebhookDelivery(gatehouse: gatehouse, logger: logger),
            FirstOwner(accounts: gatehouse.accountBook(), email: configuration.ownerEmail, publicURL: publicURL, logger: logger),
            SystemdStoppingNotice(systemd: systemd),
        ],
        onServerRunning: { port in
            // One parseable line, so scripts and tests that asked for port 0 find the port.
            FileHandle.standardOutput.write(Data("gatehouse listening on http://\(host):\(port)\n".utf8))
            // Type=notify: units ordered after gatehouse.service start once it really listens.
            systemd.ready(status: "Listening on \(host):\(port), database \(database)")
        }
    )
}

/// Runs the application until SIGTERM or SIGINT, then shuts it down gracefully within bounds:
/// `shutdownLimit` for requests to finish and the store to commit, then `cancellationLimit` for
/// what is left after it is cancelled — together below the unit's TimeoutStopSec=30s, so systemd
/// never has to SIGKILL a service that is still committing.
public func runUntilStopped(
    _ application: some ApplicationProtocol,
    logger: Logger,
    shutdownLimit: Duration = .seconds(20),
    cancellationLimit: Duration = .seconds(5)
) async throws {
    var configuration = ServiceGroupConfiguration(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    configuration.maximumGracefulShutdownDuration = shutdownLimit
    configuration.maximumCancellationDuration = cancellationLimit
    try await ServiceGroup(configuration: configuration).run()
}

/// The admin token's hash: from `GATEHOUSE_ADMIN_TOKEN`, the systemd credential, or the data
/// folder's file, made (and shown once, on standard error, never in the log) at first start.
func loadAdminToken(_ configuration: ServiceConfiguration, logger: Logger) throws -> [UInt8] {
    let environment = configuration.environment
    let dataDirectory = StoreOpener.dataDirectory(for: configuration.database, flag: configuration.dataDirectory, environment: environment)
    if environment["GATEHOUSE_ADMIN_TOKEN"] == nil && environment["CREDENTIALS_DIRECTORY"] == nil {
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw InvalidInputError("cannot make the folder \(dataDirectory) for the admin token: \(error.localizedDescription)")
        }
    }
    let admin = try AdminToken.load(environment: environment, dataDirectory: dataDirectory)
    switch admin.source {
    case .newFile(let path, let token):
        // Printed once, here only: it is the one time the plain token exists outside its file.
        FileHandle.standardError.write(Data("Admin token (saved in \(path), mode 0600): \(token)\n".utf8))
    case .existingFile(let path): logger.info("Admin token loaded", metadata: ["file": "\(path)"])
    case .environment: logger.info("Admin token from GATEHOUSE_ADMIN_TOKEN")
    case .credential(let path): logger.info("Admin token from systemd credential", metadata: ["file": "\(path)"])
    }
    return admin.hash
}

/// Makes the first owner account on a database without accounts, once the store runs; its
/// set-password link is shown once, on standard error (never in the log), as the admin token is at
/// first start.
struct FirstOwner: Service {
    let accounts: AccountBook
    let email: String
    let publicURL: String
    let logger: Logger

    func run() async throws {
        // The decoy hash is made now, not by the first sign-in of an unknown address (which would
        // then take twice as long as any other and say so).
        _ = PasswordHash.decoy
        do {
            try await makeFirstOwner(accounts, email: email, publicURL: publicURL, logger: logger)
        } catch {
            logger.error("Cannot make the first owner account; add one with gatehouse user add", metadata: ["error": "\(error)"])
        }
        try? await gracefulShutdown()
    }
}

func makeFirstOwner(_ accounts: AccountBook, email: String, publicURL: String, logger: Logger) async throws {
    guard try await !accounts.hasAccounts() else { return }
    let added: (Account, linkToken: String?)
    do {
        added = try await accounts.addAccount(email: email, role: .owner)
    } catch is StoreError {
        return  // another process made it first
    } catch {
        // A unique-key clash of two processes starting at once reads differently in each store.
        if try await accounts.hasAccounts() { return }
        throw error
    }
    try await accounts.record(
        AuditEntry(
            at: accounts.now(),
            accountId: added.0.id,
            actor: "gatehouse serve",
            address: nil,
            action: AuditAction.accountAdded,
            subject: added.0.email,
            detail: "first owner"
        )
    )
    // The link is a credential: it is shown only to a person at a terminal (`make run`). Under
    // systemd or a container, standard error is the journal or a log file, which others read.
    guard isatty(STDERR_FILENO) == 1 else {
        logger.notice("First owner account made; for its set-password link run: gatehouse user password --email <the --owner-email address>")
        return
    }
    let link = "\(publicURL)/signin/password?token=\(added.linkToken ?? "")"
    FileHandle.standardError.write(Data("First owner account \(added.0.email): set its password within 24 hours at \(link)\n".utf8))
    // The address is personal data: it is on the terminal with the link, not in the log.
    logger.notice("First owner account made; its address and set-password link are on the terminal")
}

/// The key that seals codes in the mail outbox: the systemd credential `mail-key`, else the data
/// folder's file (made at first start).
func loadMailKey(_ configuration: ServiceConfiguration, logger: Logger) throws -> CodeSeal {
    let dataDirectory = StoreOpener.dataDirectory(
        for: configuration.database,
        flag: configuration.dataDirectory,
        environment: configuration.environment
    )
    try? FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let loaded: (seal: CodeSeal, source: CodeSeal.Source)
    do {
        loaded = try CodeSeal.load(environment: configuration.environment, dataDirectory: dataDirectory)
    } catch let error as InvalidInputError {
        throw InvalidInputError(
            "\(error.description) (the mail key seals the codes of waiting mails: give a writable --data-dir, or the systemd credential mail-key)"
        )
    }
    switch loaded.source {
    case .newFile(let path): logger.notice("Mail key made", metadata: ["file": "\(path)"])
    case .existingFile(let path): logger.info("Mail key loaded", metadata: ["file": "\(path)"])
    case .credential(let path): logger.info("Mail key from systemd credential", metadata: ["file": "\(path)"])
    }
    return loaded.seal
}

/// The SMTP server and sender of ticket mails.
public struct MailSetup: Sendable {
    public var server: SMTPSettings
    public var sender: MailAddress

    public init(server: SMTPSettings, sender: MailAddress) {
        self.server = server
        self.sender = sender
    }
}

/// Counts everyone out of the lists whose `exitAllAt` has come, checking every 15 s. Several
/// service processes may each run it: a list's batches take turns at its row.
struct ListExits: Service {
    let gatehouse: Gatehouse
    let logger: Logger
    static let interval: Duration = .seconds(15)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await gatehouse.countEveryoneOutDue(logger: logger)
                } catch {
                    logger.warning("Cannot count everyone out of a list yet; trying again shortly", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: Self.interval)
            }
        }
    }
}

/// Tells systemd `STOPPING=1` once a graceful shutdown (SIGTERM, SIGINT) has begun. Listed after
/// the store's services, so it hears of the shutdown once the server has drained.
struct SystemdStoppingNotice: Service {
    let systemd: SystemdNotifier

    func run() async throws {
        try? await gracefulShutdown()
        systemd.stopping()
    }
}

/// The router with every route and middleware.
func buildRouter(
    gatehouse: Gatehouse,
    adminTokenHash: [UInt8],
    trustedProxies: [String] = [],
    pairingGuessLimit: Int = 60,
    timeZone: TimeZone = TimeZone(identifier: "UTC")!,
    registrationLimit: Int = 20,
    mailConfigured: Bool = false,
    sessionPolicy: SessionPolicy = SessionPolicy(),
    frameDecodingCores: FrameDecodingCores = .idleOnly
) -> Router<GatehouseRequestContext> {
    let router = Router(context: GatehouseRequestContext.self)
    router.add(middleware: ProblemMiddleware(outages: gatehouse.outages))
    let authenticator = Authenticator(
        adminAuth: AdminAuthMiddleware(adminTokenHash: adminTokenHash),
        accounts: gatehouse.accountBook(policy: sessionPolicy)
    )
    APIRoutes(gatehouse: gatehouse, authenticator: authenticator, trustedProxies: trustedProxies, pairingGuessLimit: pairingGuessLimit).add(
        to: router
    )
    WebRoutes(
        gatehouse: gatehouse,
        authenticator: authenticator,
        trustedProxies: trustedProxies,
        timeZone: timeZone,
        registrationLimit: registrationLimit,
        mailConfigured: mailConfigured,
        frameDecodingCores: frameDecodingCores
    ).add(to: router)
    return router
}

/// The application around a store that is already open; the route-level tests build theirs here.
func buildApplication(
    gatehouse: Gatehouse,
    adminTokenHash: [UInt8],
    configuration: ServiceConfiguration,
    logger: Logger,
    services: [any Service],
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let registry = ConnectionRegistry(limits: configuration.connectionLimits)
    let limits = configuration.connectionLimits
    let router = buildRouter(
        gatehouse: gatehouse,
        adminTokenHash: adminTokenHash,
        trustedProxies: configuration.trustedProxies,
        pairingGuessLimit: configuration.pairingGuessLimit,
        timeZone: configuration.timeZone,
        registrationLimit: configuration.registrationLimit,
        mailConfigured: configuration.mail != nil,
        sessionPolicy: configuration.sessionPolicy,
        frameDecodingCores: configuration.frameDecodingCores
    )
    MetricsRoute(
        gatehouse: gatehouse,
        connections: registry,
        adminTokenHash: adminTokenHash,
        metricsTokenHash: configuration.metricsToken.map(TokenHash.of)
    ).add(to: router)
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionGuardHandler(registry: registry, heldBodyPaths: ScannerSite.heldBodyPaths)],
                idleTimeout: TimeAmount(limits.idleTimeout)
            )
        ),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "gatehouse",
            // The backstop: past this many sockets the server stops accepting, so accept() never
            // meets EMFILE; the guard above has given way to new connections long before.
            availableConnectionsDelegate: MaximumAvailableConnections(limits.maximumConnections + 64)
        ),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

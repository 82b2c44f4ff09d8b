import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// What `buildApplication` needs besides the store.
public struct ServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var adminTokenHash: [UInt8]
    public var connectionLimits: ConnectionLimits
    /// Proxies whose X-Forwarded-For is believed (the README's nginx: 127.0.0.1).
    public var trustedProxies: [String]
    /// Wrong pairing codes (from anyone) a code may face while open before it stops working.
    public var pairingGuessLimit: Int

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        adminTokenHash: [UInt8],
        connectionLimits: ConnectionLimits = .fittingDescriptorLimit(requested: nil),
        trustedProxies: [String] = [],
        pairingGuessLimit: Int = 10_000
    ) {
        self.pairingGuessLimit = pairingGuessLimit
        self.host = host
        self.port = port
        self.adminTokenHash = adminTokenHash
        self.connectionLimits = connectionLimits
        self.trustedProxies = trustedProxies
    }
}

/// The router with every route and middleware; tests and `buildApplication` share it.
public func buildRouter(
    gatehouse: Gatehouse,
    adminTokenHash: [UInt8],
    trustedProxies: [String] = [],
    pairingGuessLimit: Int = 10_000
) -> Router<GatehouseRequestContext> {
    let router = Router(context: GatehouseRequestContext.self)
    router.add(middleware: ProblemMiddleware(outages: gatehouse.outages))
    // HEAD too: load balancers and uptime monitors often probe with it.
    for method in [HTTPRequest.Method.get, .head] {
        router.on("healthz", method: method) { _, context in
            do {
                try await gatehouse.store.healthCheck()
            } catch let error as StoreError {
                if case .unavailable(let why) = error { gatehouse.outages.failed(why, logger: context.logger) }
                throw Problem(.serviceUnavailable, "the database cannot serve; see the service's log")
            } catch {
                throw Problem(.serviceUnavailable, "the database cannot serve; see the service's log")
            }
            gatehouse.outages.served(logger: context.logger)
            return JSONAnswer(["status": "ok"])
        }
    }
    let api = router.group("api")
    CheckinRoutes(gatehouse: gatehouse).add(to: api)
    let enrollment = EnrollmentRoutes(
        gatehouse: gatehouse,
        throttle: EnrollmentThrottle(guessesPerCode: pairingGuessLimit),
        clientAddress: ClientAddress(trustedProxies: trustedProxies)
    )
    enrollment.addPublic(to: api)
    let adminAuth = AdminAuthMiddleware(adminTokenHash: adminTokenHash)
    let admin = api.group().add(middleware: adminAuth)
    AdminRoutes(gatehouse: gatehouse).add(to: admin)
    enrollment.addAdmin(to: admin)
    AdminPages(gatehouse: gatehouse, auth: adminAuth).add(to: router)
    return router
}

/// The HTTP service. `main` reads configuration and runs this; nothing else lives in `main`.
public func buildApplication(
    gatehouse: Gatehouse,
    configuration: ServiceConfiguration,
    logger: Logger,
    services: [any Service] = [],
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let registry = ConnectionRegistry(limits: configuration.connectionLimits)
    let limits = configuration.connectionLimits
    return Application(
        router: buildRouter(
            gatehouse: gatehouse,
            adminTokenHash: configuration.adminTokenHash,
            trustedProxies: configuration.trustedProxies,
            pairingGuessLimit: configuration.pairingGuessLimit
        ),
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionGuardHandler(registry: registry)],
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

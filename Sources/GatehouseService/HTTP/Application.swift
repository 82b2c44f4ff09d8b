import Foundation
import Hummingbird
import Logging

/// What `buildApplication` needs besides the store.
public struct ServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var adminTokenHash: [UInt8]

    public init(host: String = "127.0.0.1", port: Int = 8080, adminTokenHash: [UInt8]) {
        self.host = host
        self.port = port
        self.adminTokenHash = adminTokenHash
    }
}

/// The router with every route and middleware; tests and `buildApplication` share it.
public func buildRouter(gatehouse: Gatehouse, adminTokenHash: [UInt8]) -> Router<GatehouseRequestContext> {
    let router = Router(context: GatehouseRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    router.get("healthz") { _, _ in
        do {
            try await gatehouse.store.healthCheck()
        } catch {
            throw Problem(.serviceUnavailable, "the database is not answering")
        }
        return JSONAnswer(["status": "ok"])
    }
    let api = router.group("api")
    CheckinRoutes(gatehouse: gatehouse).add(to: api)
    let enrollment = EnrollmentRoutes(gatehouse: gatehouse, throttle: EnrollmentThrottle())
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
    gatehouse: Gatehouse, configuration: ServiceConfiguration, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(gatehouse: gatehouse, adminTokenHash: configuration.adminTokenHash),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "gatehouse"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

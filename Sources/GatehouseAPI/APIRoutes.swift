import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird

/// Every route of the HTTP API: `/healthz`, the scanners' routes (device token), enrollment (the
/// code is the credential) and the organizer's routes (behind `AccessGate`).
package struct APIRoutes: Sendable {
    package let gatehouse: Gatehouse
    package let authenticator: Authenticator
    package let trustedProxies: [String]
    package let pairingGuessLimit: Int

    package init(gatehouse: Gatehouse, authenticator: Authenticator, trustedProxies: [String], pairingGuessLimit: Int) {
        self.gatehouse = gatehouse
        self.authenticator = authenticator
        self.trustedProxies = trustedProxies
        self.pairingGuessLimit = pairingGuessLimit
    }

    package func add(to router: Router<GatehouseRequestContext>) {
        let gatehouse = self.gatehouse
        // HEAD too: load balancers and uptime monitors often probe with it.
        for method in [HTTPRequest.Method.get, .head] {
            router.on("healthz", method: method) { _, context in
                guard await gatehouse.isHealthy(logger: context.logger) else {
                    throw Problem(.serviceUnavailable, "the database cannot serve; see the service's log")
                }
                return JSONAnswer(["status": "ok"])
            }
        }
        let api = router.group("api")
        CheckinRoutes(gatehouse: gatehouse).add(to: api)
        let enrollment = EnrollmentRoutes(
            gatehouse: gatehouse,
            throttle: EnrollmentThrottle(networkAllowance: pairingGuessLimit, now: gatehouse.now),
            clientAddress: ClientAddress(trustedProxies: trustedProxies)
        )
        enrollment.addPublic(to: api)
        let admin = api.group().add(
            middleware: AccessGate(
                authenticator: authenticator,
                rules: AccessRules.api,
                gatehouse: gatehouse,
                clientAddress: ClientAddress(trustedProxies: trustedProxies)
            )
        )
        AdminRoutes(gatehouse: gatehouse, accounts: authenticator.accounts).add(to: admin)
        AccountRoutes(accounts: authenticator.accounts).add(to: admin)
        enrollment.addAdmin(to: admin)
    }
}

import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Every page: the organizer's (behind the admin credential), the staff scanner's, and /static.
package struct WebRoutes: Sendable {
    package let gatehouse: Gatehouse
    package let adminAuth: AdminAuthMiddleware
    package let trustedProxies: [String]
    package let timeZone: TimeZone

    package init(gatehouse: Gatehouse, adminAuth: AdminAuthMiddleware, trustedProxies: [String], timeZone: TimeZone) {
        self.gatehouse = gatehouse
        self.adminAuth = adminAuth
        self.trustedProxies = trustedProxies
        self.timeZone = timeZone
    }

    package func add(to router: Router<GatehouseRequestContext>) {
        OrganizerSite(
            gatehouse: gatehouse,
            auth: adminAuth,
            form: WebForm(trustedProxies: Set(trustedProxies)),
            clock: OrganizerClock(timeZone: timeZone),
            vault: CodeVault(),
            imports: ImportJobs()
        ).add(to: router)
        #if ServerQRDecoding
        ScannerSite(gatehouse: gatehouse, decoder: FrameDecoder(), timeZone: timeZone).add(to: router)
        #else
        ScannerSite(gatehouse: gatehouse, timeZone: timeZone).add(to: router)
        #endif
        StaticRoutes().add(to: router)
    }
}

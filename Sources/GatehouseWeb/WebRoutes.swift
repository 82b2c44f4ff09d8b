import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Every page: the organizer's (behind the admin credential), the staff scanner's, and /static.
package struct WebRoutes: Sendable {
    package let gatehouse: Gatehouse
    package let authenticator: Authenticator
    package let trustedProxies: [String]
    package let timeZone: TimeZone
    /// Registrations one client address may make in ten minutes.
    package let registrationLimit: Int
    package let mailConfigured: Bool

    package init(
        gatehouse: Gatehouse,
        authenticator: Authenticator,
        trustedProxies: [String],
        timeZone: TimeZone,
        registrationLimit: Int = 20,
        mailConfigured: Bool = false
    ) {
        self.mailConfigured = mailConfigured
        self.gatehouse = gatehouse
        self.authenticator = authenticator
        self.trustedProxies = trustedProxies
        self.timeZone = timeZone
        self.registrationLimit = registrationLimit
    }

    package func add(to router: Router<GatehouseRequestContext>) {
        OrganizerSite(
            gatehouse: gatehouse,
            authenticator: authenticator,
            clientAddress: ClientAddress(trustedProxies: trustedProxies),
            form: WebForm(trustedProxies: Set(trustedProxies)),
            clock: OrganizerClock(timeZone: timeZone),
            vault: CodeVault(),
            imports: ImportJobs(),
            mailConfigured: mailConfigured
        ).add(to: router)
        #if ServerQRDecoding
        ScannerSite(
            gatehouse: gatehouse,
            decoder: FrameDecoder(now: gatehouse.now),
            timeZone: timeZone,
            accounts: authenticator.accounts,
            form: WebForm(trustedProxies: Set(trustedProxies)),
            clientAddress: ClientAddress(trustedProxies: trustedProxies)
        ).add(to: router)
        #else
        ScannerSite(
            gatehouse: gatehouse,
            timeZone: timeZone,
            accounts: authenticator.accounts,
            form: WebForm(trustedProxies: Set(trustedProxies)),
            clientAddress: ClientAddress(trustedProxies: trustedProxies)
        ).add(to: router)
        #endif
        RegistrationSite(
            gatehouse: gatehouse,
            form: WebForm(trustedProxies: Set(trustedProxies)),
            clientAddress: ClientAddress(trustedProxies: trustedProxies),
            clock: OrganizerClock(timeZone: timeZone),
            limit: registrationLimit
        ).add(to: router)
        TicketPageSite(gatehouse: gatehouse, clock: OrganizerClock(timeZone: timeZone)).add(to: router)
        SignInSite(
            accounts: authenticator.accounts,
            form: WebForm(trustedProxies: Set(trustedProxies)),
            clientAddress: ClientAddress(trustedProxies: trustedProxies)
        ).add(to: router)
        StaticRoutes().add(to: router)
    }
}

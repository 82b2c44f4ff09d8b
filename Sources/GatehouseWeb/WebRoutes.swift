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
    package let frameDecodingCores: FrameDecodingCores

    package init(
        gatehouse: Gatehouse,
        authenticator: Authenticator,
        trustedProxies: [String],
        timeZone: TimeZone,
        registrationLimit: Int = 20,
        mailConfigured: Bool = false,
        frameDecodingCores: FrameDecodingCores = .idleOnly
    ) {
        self.mailConfigured = mailConfigured
        self.frameDecodingCores = frameDecodingCores
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
            decoder: FrameDecoder(cores: frameDecodingCores, now: gatehouse.now),
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

/// Which cores the staff scanner's frames are read on (here, not beside `FrameDecoder`: the
/// service's configuration names it whether or not the service is built to read frames).
package enum FrameDecodingCores: Sendable {
    /// Only cores nothing else wants (Linux's SCHED_IDLE): check-ins always have a core.
    case idleOnly
    /// At the priority of the rest of the process: for a test beside other busy tests, where
    /// idle cores may never come and every frame would be answered "busy".
    case shared
}

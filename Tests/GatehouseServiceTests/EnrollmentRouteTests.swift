import Foundation
import GatehouseTestSupport
import Synchronization
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

/// `POST /api/pairings` and `POST /api/enroll` in-process, on each store (the kiosk's side of
/// enrollment is in EndToEndTests: it runs `gate-kiosk enroll`).
@Suite struct EnrollmentRouteTests {
    /// A clock the test moves: codes expire and waits pass without sleeping.
    final class StepClock: Sendable {
        let now = Mutex(Date())
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    @Test(arguments: StoreKind.available)
    func codes_expire_and_one_devices_typos_slow_only_that_device(_ kind: StoreKind) async throws {
        let clock = StepClock()
        let now: @Sendable () -> Date = { clock.now.withLock { $0 } }
        try await withService(kind, now: now) { admin in
            let event = try await admin.createEvent()
            let short =
                try await admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "g", "ttlSeconds": 5], expect: 201)["code"] as! String
            #expect(short.count == 19, "XXXX-XXXX-XXXX-XXXX")
            clock.advance(5.5)
            let expired = try await admin.json("POST", "/api/enroll", ["code": short, "client": "phone-a"])
            let detail = try expired.json()["detail"] as? String ?? ""
            #expect(expired.status == 410 && detail.contains("expired"))
            #expect(!detail.contains("kiosk"), "phones pair too: the words are for any device")

            // Phone A mistypes: after three tries in a row it waits, 1 s, then longer.
            for _ in 0..<2 {
                #expect(try await admin.json("POST", "/api/enroll", ["code": "QQQQ-QQQQ-QQQQ-QQQQ", "client": "phone-a"]).status == 404)
            }
            let blocked = try await admin.json("POST", "/api/enroll", ["code": "QQQQ-QQQQ-QQQQ-QQQQ", "client": "phone-a"])
            #expect(blocked.status == 429)
            #expect(Int(blocked.headers["retry-after"] ?? "") == 1)
            // Phone B behind the same address (the venue's NAT) pairs at once.
            let good = try await admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "g"], expect: 201)["code"] as! String
            let paired = try await admin.json("POST", "/api/enroll", ["code": good, "client": "phone-b", "kind": "scanner"])
            let pairedKind = try paired.json()["kind"] as? String
            #expect(paired.status == 201 && pairedKind == "scanner")
            // Phone A after its wait: tries again.
            clock.advance(1.1)
            let again = try await admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "g"], expect: 201)["code"] as! String
            #expect(try await admin.json("POST", "/api/enroll", ["code": again, "client": "phone-a"]).status == 201)
            // Admin routes stay closed without the admin token.
            #expect(try await admin.json("POST", "/api/pairings", ["eventId": event, "gateId": "g"]).status == 401)
        }
    }

    /// Parallel wrong codes from one device get exactly its free tries (counted before the code is
    /// looked at); the network's allowance bounds any number of made-up device ids.
    @Test(arguments: StoreKind.available)
    func parallel_wrong_codes_get_exactly_the_allowance(_ kind: StoreKind) async throws {
        // The service's clock stands still: a device's one-second wait after its free tries must
        // not run out while a loaded machine is still starting the forty, so they count exactly.
        try await withService(kind, now: stillClock()) { admin in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await admin.json("POST", "/api/enroll", ["code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"]).status } }
                return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(statuses == [404: EnrollmentThrottle.freeTries, 429: 40 - EnrollmentThrottle.freeTries])
            // A new made-up id for every guess: the network's allowance (60 in ten minutes) holds.
            let spread = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<100 {
                    group.addTask { try await admin.json("POST", "/api/enroll", ["code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "client": "x\(index)"]).status }
                }
                return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(spread == [404: 60 - EnrollmentThrottle.freeTries, 429: 40 + EnrollmentThrottle.freeTries], "\(spread)")
        }
    }

    /// No number of wrong codes from strangers switches an organizer's open code off: guessing 80
    /// bits is hopeless, and a kill switch let ~2,000 addresses make every open code answer 410.
    @Test func wrong_codes_from_many_networks_never_kill_an_open_code() async throws {
        let throttle = EnrollmentThrottle(networkAllowance: 60)
        for network in 0..<3000 {
            let client = EnrollmentThrottle.Client(address: "10.\(network / 250).\(network % 250).7", id: nil)
            #expect(throttle.begin(client) == nil)
        }
        #expect(EnrollmentThrottle.network(of: "2001:db8:1:2:aaaa::1") == EnrollmentThrottle.network(of: "2001:db8:1:2:bbbb::9"))
        #expect(EnrollmentThrottle.network(of: "2001:db8:1:2::1") != EnrollmentThrottle.network(of: "2001:db8:1:3::1"))
        #expect(EnrollmentThrottle.network(of: "::ffff:192.0.2.7") == EnrollmentThrottle.network(of: "192.0.2.200"))
    }
}

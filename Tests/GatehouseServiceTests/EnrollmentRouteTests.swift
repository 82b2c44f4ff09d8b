import Foundation
import GatehouseTestSupport
import Testing

/// `POST /api/pairings` and `POST /api/enroll` in-process, on each store (the kiosk's side of
/// enrollment is in EndToEndTests: it runs `gate-kiosk enroll`).
@Suite struct EnrollmentRouteTests {
    @Test(arguments: StoreKind.available)
    func codes_expire_and_guessing_is_slowed(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let short =
                try await admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "g", "ttlSeconds": 5], expect: 201)["code"] as! String
            try await Task.sleep(for: .milliseconds(5500))
            let expired = try await admin.json("POST", "/api/enroll", ["code": short])
            let detail = try expired.json()["detail"] as? String ?? ""
            #expect(expired.status == 410 && detail.contains("expired"))

            // Four more wrong codes use up the allowance (the expired one counted); then 429.
            let connection = admin
            for _ in 0..<4 {
                #expect(try await connection.json("POST", "/api/enroll", ["code": "QQQQ-QQQQ-QQQQ"]).status == 404)
            }
            let blocked = try await connection.json("POST", "/api/enroll", ["code": "QQQQ-QQQQ-QQQQ"])
            #expect(blocked.status == 429)
            #expect(Int(blocked.headers["retry-after"] ?? "") ?? 0 > 0)
            // Even a good code waits until the window passes: the address is the one guessing.
            let good = try await admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "g"], expect: 201)["code"] as! String
            #expect(try await connection.json("POST", "/api/enroll", ["code": good]).status == 429)
            // Admin routes stay closed without the admin token.
            #expect(try await admin.json("POST", "/api/pairings", ["eventId": event, "gateId": "g"]).status == 401)
        }
    }

    /// Parallel wrong codes from one address get exactly the allowance (counted before the code
    /// is looked at). In-process every request comes from one unknown address.
    @Test(arguments: StoreKind.available)
    func parallel_wrong_codes_get_exactly_the_allowance(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await admin.json("POST", "/api/enroll", ["code": "ZZZZ-ZZZZ-ZZZZ"]).status } }
                return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(statuses == [404: 5, 429: 35])
        }
    }
}

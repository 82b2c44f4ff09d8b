import Crypto
import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

/// Signed codes through the API, on each store: issued, checked in once, and refused when forged,
/// altered, signed with a key the event does not have, or out of their window; a key rotation
/// keeps earlier codes working.
@Suite struct SignedCodeRouteTests {
    /// QR's alphanumeric mode: the characters that pack 5.5 bits each.
    static let alphanumeric = Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

    @Test(arguments: StoreKind.available)
    func signed_codes_admit_once_and_refuse_forgeries(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let created = try await admin.call("POST", "/api/events", ["name": "Box office", "signedCodes": true], expect: 201)
            let event = created["id"] as! String
            #expect(created["signedCodes"] as? Bool == true)
            let device = try await admin.addDevice(event: event)
            let tickets = try await admin.issue(event: event, quantity: 3)
            for ticket in tickets {
                #expect(ticket.qrData.hasPrefix("GS:\(event):") && ticket.qrData.count == 131, "\(ticket.qrData)")
                #expect(ticket.qrData.allSatisfy { Self.alphanumeric.contains($0) }, "QR alphanumeric")
                #expect(SignedTicketCode.parse(ticket.qrData)?.keyID == 1)
            }
            #expect(try await admin.checkinResult(tickets[0].qrData, device: device) == "valid")
            #expect(try await admin.checkinResult(tickets[0].qrData, device: device) == "already_used")

            // One changed character of the blob (the signature no longer matches), in each part.
            let original = tickets[1].qrData
            for position in [12, 14, 20, 60, 130] {
                var characters = Array(original)
                characters[position] = characters[position] == "A" ? "B" : "A"
                #expect(try await admin.checkinResult(String(characters), device: device) == "invalid", "altered at \(position)")
            }
            // A code made with another key under the event's key id 1: forged.
            let forger = Curve25519.Signing.PrivateKey()
            let forged = try SignedTicketCode.make(eventID: event, keyID: 1, serial: 42, validFromHour: 0, validUntilHour: SignedTicketCode.noEnd) {
                Array(try forger.signature(for: $0))
            }
            #expect(try await admin.checkinResult(forged.text, device: device) == "invalid")
            // A key id the event does not have.
            let unknownKey = try SignedTicketCode.make(eventID: event, keyID: 9, serial: 42, validFromHour: 0, validUntilHour: SignedTicketCode.noEnd)
            {
                Array(try forger.signature(for: $0))
            }
            #expect(try await admin.checkinResult(unknownKey.text, device: device) == "invalid")
            // The untouched code still works.
            #expect(try await admin.checkinResult(original, device: device) == "valid")

            // Rotation: new tickets use key 2; tickets signed with key 1 keep working.
            #expect(try await admin.call("POST", "/api/events/\(event)/signing-keys", expect: 201)["keyId"] as? Int == 2)
            let rotated = try await admin.issue(event: event)[0]
            #expect(SignedTicketCode.parse(rotated.qrData)?.keyID == 2)
            #expect(try await admin.checkinResult(rotated.qrData, device: device) == "valid")
            #expect(try await admin.checkinResult(tickets[2].qrData, device: device) == "valid")
            // Re-issue: a new signed code; the old one stops working.
            let reissued = try await admin.call("POST", "/api/tickets/\(rotated.id)/reissue", expect: 200)["qrData"] as! String
            #expect(reissued.hasPrefix("GS:") && reissued != rotated.qrData)

            // Out of its window: a ticket that expired.
            let expired = try await admin.issue(event: event, extra: ["expiresAt": "2020-01-01T00:00:00Z"])[0]
            #expect(try await admin.checkinResult(expired.qrData, device: device) == "expired")

            // The sync page carries the public keys (never the private ones).
            let page = try await admin.json("GET", "/api/sync/tickets", bearer: device.token)
            let keys = try page.json()["keys"] as? [[String: Any]] ?? []
            #expect(keys.map { $0["id"] as? Int } == [1, 2])
            #expect(keys.allSatisfy { Base64URL.decode($0["publicKey"] as? String ?? "")?.count == 32 && $0.count == 2 })
        }
    }

    /// Signed-looking codes for made-up events grew the key cache without bound: nothing is cached
    /// for an event without keys, and strangers never get as far as a code (their token is checked
    /// before the body is read).
    @Test func made_up_signed_codes_cache_nothing() async throws {
        let f = try await Fixture(.sqlite)
        for _ in 0..<200 {
            let fake = SignedTicketCode.make(
                eventID: Identifier.newEventID(),
                keyID: 1,
                serial: 7,
                validFromHour: 0,
                validUntilHour: SignedTicketCode.noEnd
            ) {
                _ in [UInt8](repeating: 9, count: 64)
            }
            #expect(SignedTicketCode.parse(fake.text) != nil, "a code that parses as signed")
            #expect(try await f.checkin(fake.text).result == .invalid)
        }
        #expect(f.gatehouse.verifyingKeys.count == 0)
        await f.stop()
    }
}

import Crypto
import Foundation
import GatehouseCore
import GatehouseStorage
import Synchronization

/// Signed codes: an event with a signing key gets Ed25519-signed codes for its new tickets, which a
/// gate that has the event's public keys can verify without having synced the ticket.
extension Gatehouse {
    /// Makes ticket codes for one event: plain random tokens, or codes signed with the event's
    /// newest key.
    package struct CodeMinter {
        let eventId: String
        let key: SigningKey?
        let now: Date

        /// The code's text and the hash the store keeps of its secret part.
        func mint(expiresAt: Date?) throws -> (qrData: String, tokenHash: [UInt8]) {
            guard let key else {
                let token = Secret.newTicketToken()
                return (TicketCode(eventID: eventId, token: token).text, TokenHash.of(token))
            }
            let signer = try Curve25519.Signing.PrivateKey(rawRepresentation: key.privateKey)
            // The window: from the hour of issue; until the hour after the expiry (the stored
            // expiry is exact; the code's bound only has to cover it), or no end.
            let until = expiresAt.map { SignedTicketCode.hour(ofMillis: $0.millis + 3_599_999) } ?? SignedTicketCode.noEnd
            let code = try SignedTicketCode.make(
                eventID: eventId,
                keyID: UInt8(key.id),
                serial: UInt64.random(in: 0...0xFF_FFFF_FFFF),
                validFromHour: SignedTicketCode.hour(ofMillis: now.millis),
                validUntilHour: until
            ) { message in Array(try signer.signature(for: message)) }
            return (code.text, TokenHash.of(code.blob))
        }
    }

    package func codeMinter(eventId: String) async throws -> CodeMinter {
        CodeMinter(eventId: eventId, key: try await store.signingKeys(eventId: eventId).last, now: now())
    }

    /// Adds a signing key to the event: the first one turns on signed codes for tickets issued from
    /// now on; each later one is a rotation (new codes use it, earlier codes keep verifying).
    public func addSigningKey(eventId: String) async throws -> Int {
        let key = Curve25519.Signing.PrivateKey()
        do {
            return try await mapMissing(
                try await store.addSigningKey(
                    eventId: eventId,
                    publicKey: Array(key.publicKey.rawRepresentation),
                    privateKey: Array(key.rawRepresentation),
                    at: now()
                )
            ).id
        } catch StoreError.invalid(let why) {
            throw InvalidInputError(why)
        }
    }

    /// The event's public keys, for gates (the private halves never leave the service).
    public func publicKeys(eventId: String) async throws -> [(id: Int, publicKey: [UInt8])] {
        try await store.signingKeys(eventId: eventId).map { ($0.id, $0.publicKey) }
    }

    /// A scanned payload as the store sees it: the event and the hash of the code's secret part;
    /// nil for anything that is not a code of ours — a signed code whose signature does not verify
    /// with the event's key of its id (forged, altered, made with a key the event never had) too.
    package func scannedCode(_ payload: String) async throws -> (eventId: String, tokenHash: [UInt8])? {
        if let plain = TicketCode.parse(payload) { return (plain.eventID, TokenHash.of(plain.token)) }
        guard let signed = SignedTicketCode.parse(payload) else { return nil }
        guard let publicKey = try await verifyingKey(eventId: signed.eventID, keyID: Int(signed.keyID)),
            publicKey.isValidSignature(signed.signature, for: signed.signedMessage)
        else { return nil }
        return (signed.eventID, TokenHash.of(signed.blob))
    }

    /// The event's public key with this id: from the cache (keys are never changed or deleted, so
    /// a cached one is always right), else read again — a rotation by another process shows up
    /// as an id not cached yet. Keeps a database read off every signed check-in.
    private func verifyingKey(eventId: String, keyID: Int) async throws -> Curve25519.Signing.PublicKey? {
        var raw = verifyingKeys.key(eventId: eventId, id: keyID)
        if raw == nil {
            let keys = try await store.signingKeys(eventId: eventId)
            // Nothing is remembered for an event without keys (any made-up event id is one): the
            // cache holds real events only.
            guard !keys.isEmpty else { return nil }
            verifyingKeys.store(eventId: eventId, keys: Dictionary(keys.map { ($0.id, $0.publicKey) }) { first, _ in first })
            raw = verifyingKeys.key(eventId: eventId, id: keyID)
        }
        return raw.flatMap { try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }
    }
}

/// Public keys of signed codes (raw bytes) by event and key id, shared by every request of a process.
package final class VerifyingKeyCache: Sendable {
    private let keys = Mutex<[String: [Int: [UInt8]]]>([:])

    package func key(eventId: String, id: Int) -> [UInt8]? {
        keys.withLock { $0[eventId]?[id] }
    }

    /// Past this many events the cache starts again (a bound, not a working limit: a service
    /// holds keys of the events it serves).
    package static let capacity = 10_000

    package func store(eventId: String, keys events: [Int: [UInt8]]) {
        keys.withLock { table in
            if table.count >= Self.capacity, table[eventId] == nil { table.removeAll() }
            table[eventId] = events
        }
    }

    package var count: Int { keys.withLock { $0.count } }
}

/// A signed ticket code, for events that sell tickets a gate may not have synced yet (a box office
/// during an outage): `GS:EVENTID:BLOB`, where BLOB is base32 of
///
///     key id (1) | serial (5) | valid from (2) | valid until (2) | Ed25519 signature (64)
///
/// — 74 bytes, 119 characters, all in QR's alphanumeric mode (131 characters with the prefix:
/// a version 6 code at level M, 41×41 modules, against 25×25 for a plain code). The validity
/// window is in hours since 2024-01-01 UTC (until 2031); `valid until` 0xFFFF means no end. The
/// signature covers "GS1", the event id and the first 10 bytes, so no field can be changed, and
/// the key id says which of the event's keys signed (keys rotate; old ones keep verifying).
///
/// Like a plain code's token, the whole BLOB is the ticket's secret: the service keeps only its
/// SHA-256, and a gate's snapshot holds that hash. A gate that has the event's public keys but
/// not the ticket can still verify the code and admit it once.
public struct SignedTicketCode: Sendable, Equatable {
    public static let prefix = "GS:"
    public static let blobBytes = 74
    public static let blobLength = 119
    /// Hours since 2024-01-01T00:00:00Z, the epoch of the validity window.
    public static let epochMillis: Int64 = 1_704_067_200_000
    public static let noEnd: UInt16 = 0xFFFF

    public let eventID: String
    public let keyID: UInt8
    public let serial: UInt64
    public let validFromHour: UInt16
    public let validUntilHour: UInt16
    public let signature: [UInt8]
    /// The base32 blob: the ticket's secret (its SHA-256 is what is stored and synced).
    public let blob: String

    public var text: String { Self.prefix + eventID + ":" + blob }

    /// The validity window in ms since 1970 (`until` nil: no end).
    public var validFrom: Int64 { Self.epochMillis + Int64(validFromHour) * 3_600_000 }
    public var validUntil: Int64? { validUntilHour == Self.noEnd ? nil : Self.epochMillis + Int64(validUntilHour) * 3_600_000 }

    /// What the signature covers.
    public static func signedMessage(eventID: String, fields: [UInt8]) -> [UInt8] {
        Array("GS1".utf8) + Array(eventID.utf8) + fields
    }

    public var signedMessage: [UInt8] { Self.signedMessage(eventID: eventID, fields: Self.fields(keyID, serial, validFromHour, validUntilHour)) }

    static func fields(_ keyID: UInt8, _ serial: UInt64, _ from: UInt16, _ until: UInt16) -> [UInt8] {
        [keyID] + (0..<5).reversed().map { UInt8(truncatingIfNeeded: serial >> (8 * $0)) } + [
            UInt8(from >> 8), UInt8(from & 0xFF), UInt8(until >> 8), UInt8(until & 0xFF),
        ]
    }

    /// Builds the code from its fields and a signature made over `signedMessage(eventID:fields:)`
    /// with the same fields: `sign` is handed the message and returns the 64-byte signature.
    public static func make(
        eventID: String,
        keyID: UInt8,
        serial: UInt64,
        validFromHour: UInt16,
        validUntilHour: UInt16,
        sign: ([UInt8]) throws -> [UInt8]
    ) rethrows -> SignedTicketCode {
        let fields = fields(keyID, serial & 0xFF_FFFF_FFFF, validFromHour, validUntilHour)
        let signature = try sign(signedMessage(eventID: eventID, fields: fields))
        precondition(signature.count == 64, "an Ed25519 signature is 64 bytes")
        return parse(prefix + eventID + ":" + Base32.encode(fields + signature))!
    }

    /// Hours since the window's epoch for a time in ms since 1970, rounded down, clamped to the window's range.
    public static func hour(ofMillis millis: Int64) -> UInt16 {
        UInt16(clamping: max(0, (millis - epochMillis) / 3_600_000))
    }

    /// Parses a scanned payload; nil for anything that is not exactly this format. Says nothing
    /// about the signature: verifying needs the event's keys.
    public static func parse(_ payload: String) -> SignedTicketCode? {
        var text = Substring(payload)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        guard text.utf8.count == prefix.utf8.count + 9 + blobLength, text.hasPrefix(prefix) else { return nil }
        let fields = text.dropFirst(prefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2, Identifier.isEventID(fields[0]), fields[1].utf8.count == blobLength,
            let bytes = Base32.decode(fields[1]), bytes.count == blobBytes
        else { return nil }
        let serial = bytes[1..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return SignedTicketCode(
            eventID: String(fields[0]),
            keyID: bytes[0],
            serial: serial,
            validFromHour: UInt16(bytes[6]) << 8 | UInt16(bytes[7]),
            validUntilHour: UInt16(bytes[8]) << 8 | UInt16(bytes[9]),
            signature: Array(bytes[10...]),
            blob: String(fields[1])
        )
    }
}

import CCrypto
import FoundationEssentials
import GatehouseCore
import KioskOffline

/// What gates say to each other, one UDP datagram each: compact JSON, then its HMAC-SHA256
/// (32 bytes) under the event's peer key. Readable in a packet capture on purpose — a record
/// holds a ticket's hash, a gate, a time and a scanId, never a code or a name.
struct PeerMessage: Codable, Equatable {
    enum Kind: String, Codable {
        /// An admission or a take-back (`PeerRecord`).
        case record
        /// "I am here; send me what you have after these numbers."
        case hello
        /// "That is everything I have" — the answer that ends a catch-up.
        case caughtUp = "caught_up"
    }

    var v = 1
    var t: Kind
    /// The key's id: a record under a key this gate does not hold is told apart from a forged one.
    var k: String
    var e: String
    /// The sender: device id and the instance of its state directory.
    var d: String
    var n: String
    var g: String

    // A record.
    var s: Int64?
    var kind: String?
    var i: String?
    var h: String?
    var l: String?
    var a: Int64?
    var x: String?
    var c: Int?
    /// Sent again in answer to a hello: a copy this gate may already have is no replay.
    var r: Bool?

    // A hello: per sender, the number up to which this gate has every record.
    var w: [String: Int64]?
    // Caught up: whom it answers, and the answering gate's newest number.
    var to: String?
    var hi: Int64?

    var sender: String { d + "#" + n }

    /// Datagrams past this size are not ours: a hello of 64 peers fits well inside.
    static let maximumSize = 4096
    static let macSize = 32

    func sealed(key: [UInt8]) -> [UInt8]? {
        guard let body = try? JSONEncoder().encode(self) else { return nil }
        var bytes = Array(body)
        bytes += Self.mac(bytes, key: key)
        return bytes.count <= Self.maximumSize ? bytes : nil
    }

    static func mac(_ bytes: some Collection<UInt8>, key: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 32)
        let body = Array(bytes)
        let ok = key.withUnsafeBufferPointer { key in
            body.withUnsafeBytes { body in
                mac.withUnsafeMutableBufferPointer { gh_hmac_sha256(key.baseAddress, key.count, body.baseAddress, body.count, $0.baseAddress) }
            }
        }
        precondition(ok == 1, "HMAC-SHA256 failed in libcrypto")
        return mac
    }

    /// Why a datagram was dropped: the label of `gate_kiosk_peer_records_dropped_total`.
    enum Drop: String, CaseIterable, Sendable, Error {
        case malformed
        /// The authenticator does not match under the key it names: forged or altered.
        case badMAC = "bad_mac"
        /// Under a key this gate does not hold: a revoked box's (the service made a new key when
        /// it was revoked), or one from before this gate's last sync.
        case unknownKey = "unknown_key"
        case wrongEvent = "wrong_event"
        /// A record of a sender and number this gate already has, sent as new.
        case replayed
        /// A record whose time goes against its sender's numbering.
        case outOfOrder = "out_of_order"
        /// A record whose time is ahead of this gate's clock, or older than any snapshot it would
        /// trust: a replay from long ago, or a box with a broken clock.
        case outOfWindow = "out_of_window"
    }

    /// Checks and reads a datagram: its size, its authenticator under `key`, then what it says.
    static func open(_ datagram: [UInt8], key: (id: String, key: [UInt8])?, event: String?) -> Result<PeerMessage, Drop> {
        guard datagram.count > macSize + 2, datagram.count <= maximumSize else { return .failure(.malformed) }
        let body = datagram[..<(datagram.count - macSize)]
        let given = Array(datagram[(datagram.count - macSize)...])
        let authentic = key.map { key in
            let expected = mac(body, key: key.key)
            return expected.withUnsafeBufferPointer { a in given.withUnsafeBufferPointer { b in gh_equal32(a.baseAddress, b.baseAddress) == 1 } }
        }
        guard authentic == true else {
            // Only now is the body read: a flood of forgeries costs one HMAC each.
            guard let message = try? JSONDecoder().decode(PeerMessage.self, from: Data(body)) else { return .failure(.malformed) }
            if let event, message.e != event { return .failure(.wrongEvent) }
            return .failure(message.k == key?.id ? .badMAC : .unknownKey)
        }
        guard let message = try? JSONDecoder().decode(PeerMessage.self, from: Data(body)), message.v == 1, message.k == key?.id,
            [message.d, message.n, message.g, message.e].allSatisfy(isIdentifier)
        else { return .failure(.malformed) }
        guard message.e == event else { return .failure(.wrongEvent) }
        switch message.t {
        case .record:
            guard message.record != nil else { return .failure(.malformed) }
        case .hello:
            guard let wants = message.w, wants.count <= 256, wants.allSatisfy({ isIdentifier($0.key) && $0.value >= 0 }) else {
                return .failure(.malformed)
            }
        case .caughtUp:
            guard let to = message.to, isIdentifier(to), let highest = message.hi, highest >= 0 else { return .failure(.malformed) }
        }
        return .success(message)
    }

    /// The snapshot's own test for ids and gates: a peer's record holds nothing a page may not.
    static func isIdentifier(_ text: String) -> Bool { OfflineSnapshot.isIdentifier(text) }

    // MARK: Records

    init(record: PeerRecord, key: String, event: String, device: String, instance: String, resent: Bool) {
        t = .record
        k = key
        e = event
        d = device
        n = instance
        g = record.gate
        s = record.seq
        kind = record.kind.rawValue
        i = record.scanID
        h = Base64URL.encode(record.hash)
        l = record.list
        a = record.at
        x = record.direction.rawValue
        c = record.insideChange
        r = resent ? true : nil
    }

    init(_ kind: Kind, key: String, event: String, device: String, instance: String, gate: String) {
        t = kind
        k = key
        e = event
        d = device
        n = instance
        g = gate
    }

    /// The record a `record` message carries, when every field is one a gate sends.
    var record: PeerRecord? {
        guard t == .record, let seq = s, seq >= 1, let kind = kind.flatMap(PeerRecord.Kind.init(rawValue:)), let scanID = i,
            Self.isIdentifier(scanID), let hash = h.flatMap(Base64URL.decode), hash.count == 32, let at = a,
            OfflineSnapshot.plausibleTimes.contains(at), let direction = x.flatMap(ScanDirection.init(rawValue:)), let change = c,
            (-1...1).contains(change), l.map(Self.isIdentifier) ?? true
        else { return nil }
        return PeerRecord(kind: kind, seq: seq, scanID: scanID, hash: hash, gate: g, list: l, at: at, direction: direction, insideChange: change)
    }
}

import Foundation
import GatehouseCore
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// `POST /api/pairings` (admin) makes a one-time code; `POST /api/enroll` (no credential: the
/// code is the credential) trades it for a device token.
struct EnrollmentRoutes {
    let gatehouse: Gatehouse
    let throttle: EnrollmentThrottle
    let clientAddress: ClientAddress

    struct PairingBody: Decodable {
        var eventId: String
        var gateId: String
        var name: String?
        var ttlSeconds: Int?
    }

    struct PairingAnswer: Encodable, Sendable {
        var code: String
        var eventId: String
        var gateId: String
        var expiresAt: Date
    }

    struct EnrollBody: Decodable {
        var code: String
    }

    struct Enrolled: Encodable, Sendable {
        var deviceId: String
        var eventId: String
        var gateId: String
        var token: String
    }

    func addAdmin(to group: RouterGroup<GatehouseRequestContext>) {
        group.post("pairings") { request, context in
            let body = try await request.decodeJSON(as: PairingBody.self, context: context)
            let (code, expiresAt) = try await gatehouse.createPairing(
                eventId: body.eventId,
                gateId: body.gateId,
                name: body.name,
                timeToLive: body.ttlSeconds ?? 900
            )
            return JSONAnswer(PairingAnswer(code: code, eventId: body.eventId, gateId: body.gateId, expiresAt: expiresAt), status: .created)
        }
    }

    func addPublic(to group: RouterGroup<GatehouseRequestContext>) {
        group.post("enroll") { request, context in
            let client = clientAddress.of(request, peer: context.remoteHost)
            // The attempt is counted before the code is looked at, in one step: parallel guesses
            // from one address get exactly the allowance, not more.
            if let wait = throttle.begin(for: client) {
                throw Problem(
                    .tooManyRequests,
                    "too many wrong pairing codes from this address; try again in \(wait) s",
                    headers: [.retryAfter: String(wait)]
                )
            }
            let body: EnrollBody
            do {
                body = try await request.decodeJSON(as: EnrollBody.self, context: context)
            } catch {
                throttle.forgive(client)
                throw error
            }
            do {
                let (device, token) = try await gatehouse.enroll(
                    code: body.code,
                    exposure: { [throttle] created in throttle.failures(since: created) },
                    guessLimit: throttle.guessesPerCode
                )
                throttle.forgive(client)
                context.logger.notice(
                    "Kiosk enrolled",
                    metadata: ["device.id": "\(device.id)", "gate.id": "\(device.gateId)", "event.id": "\(device.eventId)"]
                )
                return JSONAnswer(Enrolled(deviceId: device.id, eventId: device.eventId, gateId: device.gateId, token: token), status: .created)
            } catch let error as Gatehouse.EnrollmentError {
                // A wrong code costs the caller time: guessing 60-bit codes stays hopeless.
                if error == .unknownCode { throttle.recordWrongCode() }
                context.logger.warning("Enrollment refused", metadata: ["client.address": "\(client)", "reason": "\(error)"])
                try await Task.sleep(for: EnrollmentThrottle.failureDelay)
                throw error
            } catch {
                throttle.forgive(client)
                throw error
            }
        }
    }
}

/// The address a request came from: the socket's peer, or — only when that peer is one of the
/// operator's proxies — the last address in X-Forwarded-For that is not a trusted proxy.
/// Behind the README's nginx every kiosk otherwise shares 127.0.0.1, and five wrong codes from
/// anyone locked every kiosk out of enrollment.
struct ClientAddress: Sendable {
    let trustedProxies: Set<String>
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    init(trustedProxies: [String]) { self.trustedProxies = Set(trustedProxies) }

    func of(_ request: Request, peer: String?) -> String {
        guard let peer else { return "unknown" }
        guard trustedProxies.contains(peer) else { return peer }
        let hops = request.headers[values: Self.forwardedFor]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        // From the right: each trusted proxy appended the address it saw; the first one that is
        // not ours is the client (anything left of it the client may have made up).
        for hop in hops.reversed() where !trustedProxies.contains(hop) {
            return hop.isEmpty || hop.utf8.count > 64 ? peer : hop
        }
        return peer
    }
}

/// Counts enrollment attempts per client address (per process) and refuses an address that
/// failed too often recently. An attempt counts from its start; one that succeeds is forgiven.
final class EnrollmentThrottle: Sendable {
    static let failureDelay: Duration = .milliseconds(500)
    static let allowedFailures = 5
    static let window: TimeInterval = 600

    private let attempts = Mutex<[String: [Date]]>([:])
    /// Wrong codes per second (seconds since 1970) over the longest a code lives (24 h), from
    /// any address: what `failures(since:)` sums for the per-code limit.
    private let wrongCodesBySecond = Mutex<[Int64: Int]>([:])
    private let now: @Sendable () -> Date
    /// Wrong codes a pairing code may face while open before it stops working.
    let guessesPerCode: Int

    init(guessesPerCode: Int = 10_000, now: @escaping @Sendable () -> Date = { Date() }) {
        self.guessesPerCode = guessesPerCode
        self.now = now
    }

    func recordWrongCode() {
        let second = Int64(now().timeIntervalSince1970)
        wrongCodesBySecond.withLock { table in
            table[second, default: 0] += 1
            if table.count > 90_000 { table = table.filter { $0.key > second - 86_400 } }
        }
    }

    /// Wrong codes tried since `date` (counted from the start of its second: never fewer).
    func failures(since date: Date) -> Int {
        let second = Int64(date.timeIntervalSince1970.rounded(.down))
        return wrongCodesBySecond.withLock { $0.reduce(0) { $1.key >= second ? $0 + $1.value : $0 } }
    }

    /// Counts an attempt, or returns the seconds to wait when the address is over its allowance.
    func begin(for client: String) -> Int? {
        let time = now()
        return attempts.withLock { table -> Int? in
            if table.count > 10_000 { table = table.filter { $0.value.last.map { time.timeIntervalSince($0) < Self.window } ?? false } }
            let recent = (table[client] ?? []).filter { time.timeIntervalSince($0) < Self.window }
            if recent.count >= Self.allowedFailures, let oldest = recent.first {
                table[client] = recent
                return max(1, Int(Self.window - time.timeIntervalSince(oldest)))
            }
            table[client] = recent + [time]
            return nil
        }
    }

    /// Takes back the newest attempt of `client`: it enrolled, or never got to try a code.
    func forgive(_ client: String) {
        attempts.withLock { table in
            guard var recent = table[client], !recent.isEmpty else { return }
            recent.removeLast()
            table[client] = recent.isEmpty ? nil : recent
        }
    }
}

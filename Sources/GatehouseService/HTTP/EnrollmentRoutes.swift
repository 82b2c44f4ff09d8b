import Foundation
import GatehouseCore
import Hummingbird
import Logging
import Synchronization

/// `POST /api/pairings` (admin) makes a one-time code; `POST /api/enroll` (no credential: the
/// code is the credential) trades it for a device token.
struct EnrollmentRoutes {
    let gatehouse: Gatehouse
    let throttle: EnrollmentThrottle

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
            let (code, expiresAt) = try await gatehouse.createPairing(eventId: body.eventId, gateId: body.gateId, name: body.name, timeToLive: body.ttlSeconds ?? 900)
            return JSONAnswer(PairingAnswer(code: code, eventId: body.eventId, gateId: body.gateId, expiresAt: expiresAt), status: .created)
        }
    }

    func addPublic(to group: RouterGroup<GatehouseRequestContext>) {
        group.post("enroll") { request, context in
            let peer = context.remoteHost ?? "unknown"
            if let wait = throttle.refusal(for: peer) {
                throw Problem(.tooManyRequests, "too many wrong pairing codes from this address; try again in \(wait) s", headers: [.retryAfter: String(wait)])
            }
            let body = try await request.decodeJSON(as: EnrollBody.self, context: context)
            do {
                let (device, token) = try await gatehouse.enroll(code: body.code)
                context.logger.notice("Kiosk enrolled", metadata: ["device.id": "\(device.id)", "gate.id": "\(device.gateId)", "event.id": "\(device.eventId)"])
                return JSONAnswer(Enrolled(deviceId: device.id, eventId: device.eventId, gateId: device.gateId, token: token), status: .created)
            } catch let error as Gatehouse.EnrollmentError {
                // A wrong code costs the caller time: guessing 60-bit codes stays hopeless.
                throttle.recordFailure(for: peer)
                context.logger.warning("Enrollment refused", metadata: ["peer": "\(peer)", "reason": "\(error)"])
                try await Task.sleep(for: EnrollmentThrottle.failureDelay)
                throw error
            }
        }
    }
}

/// Counts failed enrollments per peer address (per process) and refuses a peer that failed too
/// often recently.
final class EnrollmentThrottle: Sendable {
    static let failureDelay: Duration = .milliseconds(500)
    static let allowedFailures = 5
    static let window: TimeInterval = 600

    private let failures = Mutex<[String: [Date]]>([:])
    private let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    func recordFailure(for peer: String) {
        let time = now()
        failures.withLock { table in
            table[peer, default: []].append(time)
            if table.count > 10_000 { table = table.filter { $0.value.last.map { time.timeIntervalSince($0) < Self.window } ?? false } }
        }
    }

    /// Seconds to wait, when the peer is over its allowance.
    func refusal(for peer: String) -> Int? {
        let time = now()
        return failures.withLock { table -> Int? in
            let recent = (table[peer] ?? []).filter { time.timeIntervalSince($0) < Self.window }
            table[peer] = recent
            guard recent.count >= Self.allowedFailures, let oldest = recent.first else { return nil }
            return max(1, Int(Self.window - time.timeIntervalSince(oldest)))
        }
    }
}

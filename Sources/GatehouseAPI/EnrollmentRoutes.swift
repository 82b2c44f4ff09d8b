import Foundation
import GatehouseCore
import GatehouseStorage
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
import GatehouseDomain
#endif

/// `POST /api/pairings` (admin) makes a one-time code; `POST /api/enroll` (no credential: the
/// code is the credential) trades it for a device token.
package struct EnrollmentRoutes {
    package let gatehouse: Gatehouse
    package let throttle: EnrollmentThrottle
    package let clientAddress: ClientAddress

    package struct PairingBody: Decodable {
        var eventId: String
        var gateId: String
        var name: String?
        var ttlSeconds: Int?
    }

    package struct PairingAnswer: Encodable, Sendable {
        var code: String
        var eventId: String
        var gateId: String
        var expiresAt: Date
    }

    package struct EnrollBody: Decodable {
        var code: String
        /// `kiosk` (the default: `gate-kiosk enroll`) or `scanner` (the staff scanner page).
        var kind: DeviceKind?
        /// A random id the device keeps (the scanner page's), so that phones sharing one address
        /// behind a venue's NAT each have their own backoff.
        var client: String?
    }

    package struct Enrolled: Encodable, Sendable {
        var deviceId: String
        var eventId: String
        var gateId: String
        var token: String
        var kind: DeviceKind

        package init(deviceId: String, eventId: String, gateId: String, token: String, kind: DeviceKind) {
            self.deviceId = deviceId
            self.eventId = eventId
            self.gateId = gateId
            self.token = token
            self.kind = kind
        }
    }

    package func addAdmin(to group: RouterGroup<GatehouseRequestContext>) {
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

    package func addPublic(to group: RouterGroup<GatehouseRequestContext>) {
        group.post("enroll") { request, context in
            let address = clientAddress.of(request, peer: context.remoteHost)
            let body = try await request.decodeJSON(as: EnrollBody.self, context: context, limit: BodyLimit.enroll)
            let client = EnrollmentThrottle.Client(address: address, id: body.client)
            // The attempt is counted before the code is looked at, in one step: parallel guesses
            // get exactly the allowance, not more.
            if let refusal = throttle.begin(client) {
                throw Problem(.tooManyRequests, refusal.message, headers: [.retryAfter: String(refusal.wait)])
            }
            do {
                let (device, token) = try await gatehouse.enroll(code: body.code, kind: body.kind ?? .kiosk)
                throttle.succeeded(client)
                context.logger.notice(
                    "Device enrolled",
                    metadata: [
                        "device.id": "\(device.id)", "device.kind": "\(device.kind.rawValue)", "gate.id": "\(device.gateId)",
                        "event.id": "\(device.eventId)",
                    ]
                )
                return JSONAnswer(
                    Enrolled(deviceId: device.id, eventId: device.eventId, gateId: device.gateId, token: token, kind: device.kind),
                    status: .created
                )
            } catch let error as Gatehouse.EnrollmentError {
                // A wrong code stays counted (as every attempt is, until it enrolls).
                context.logger.warning("Enrollment refused", metadata: ["client.address": "\(address)", "reason": "\(error)"])
                // A wrong code costs the caller time as well.
                try await Task.sleep(for: EnrollmentThrottle.failureDelay)
                throw error
            } catch {
                throttle.succeeded(client)
                throw error
            }
        }
    }
}

/// The address a request came from: the socket's peer, or — only when that peer is one of the
/// operator's proxies — the last address in X-Forwarded-For that is not a trusted proxy.
/// Behind the nginx of docs/operations.md every device otherwise shares 127.0.0.1.
package struct ClientAddress: Sendable {
    package let trustedProxies: Set<String>
    package static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    package init(trustedProxies: [String]) { self.trustedProxies = Set(trustedProxies) }

    /// Whether the request reached the operator's TLS proxy over https (only a trusted proxy's
    /// `X-Forwarded-Proto` is believed; the service itself speaks plain http).
    package func overTLS(_ request: Request, peer: String?) -> Bool {
        guard let peer, trustedProxies.contains(peer) else { return false }
        return request.headers[Self.forwardedProto]?.lowercased() == "https"
    }

    package static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    package func of(_ request: Request, peer: String?) -> String {
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

/// Wrong pairing codes, counted two ways (per process):
/// - per **network** (an IPv4 /24, an IPv6 /64): at most `networkAllowance` in ten minutes. One
///   attacker rarely has more than a few networks, and 80-bit codes make their guesses hopeless
///   anyway; this keeps them from costing the service.
/// - per **device**: the address together with the random id a device sends (phones behind one
///   venue NAT share an address): from the third wrong code in a row, a short wait that doubles
///   up to 30 s. One person's typos never lock out the other phones at the door.
/// No count ever switches a code off: strangers cannot kill the organizer's open codes.
package final class EnrollmentThrottle: Sendable {
    package static let failureDelay: Duration = .milliseconds(500)
    package static let window: TimeInterval = 600
    package static let freeTries = 3
    package static let longestWait: TimeInterval = 30

    package struct Client: Sendable {
        var address: String
        var id: String?

        var network: String { EnrollmentThrottle.network(of: address) }
        /// The device: its address and the id it sent (cut short and stripped: it is only a key).
        var key: String {
            let id = String((id ?? "").unicodeScalars.filter { $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) }.prefix(64))
            return address + "|" + id
        }
    }

    package struct Refusal: Sendable {
        var wait: Int
        var message: String
    }

    private struct State {
        /// Attempts per network in the window (wrong ones and those still being checked).
        var networks: [String: [Date]] = [:]
        /// Per device: wrong codes in a row, and when the last attempt began.
        var devices: [String: (failures: Int, last: Date)] = [:]
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Date
    package let networkAllowance: Int

    package init(networkAllowance: Int = 60, now: @escaping @Sendable () -> Date = { Date() }) {
        self.networkAllowance = networkAllowance
        self.now = now
    }

    /// Counts an attempt, or says how long to wait and why.
    package func begin(_ client: Client) -> Refusal? {
        let time = now()
        let network = client.network
        let device = client.key
        return state.withLock { state -> Refusal? in
            if state.networks.count > 10_000 {
                state.networks = state.networks.filter { $0.value.last.map { time.timeIntervalSince($0) < Self.window } ?? false }
            }
            if state.devices.count > 50_000 {
                state.devices = state.devices.filter { time.timeIntervalSince($0.value.last) < Self.window }
            }
            let recent = (state.networks[network] ?? []).filter { time.timeIntervalSince($0) < Self.window }
            if recent.count >= networkAllowance, let oldest = recent.first {
                state.networks[network] = recent
                let wait = max(1, Int((Self.window - time.timeIntervalSince(oldest)).rounded(.up)))
                return Refusal(wait: wait, message: "too many wrong pairing codes from this network; try again in \(wait) s")
            }
            if let record = state.devices[device], record.failures >= Self.freeTries {
                let backoff = min(Self.longestWait, pow(2, Double(record.failures - Self.freeTries)))
                let ready = record.last.addingTimeInterval(backoff)
                if ready > time {
                    let wait = max(1, Int(ready.timeIntervalSince(time).rounded(.up)))
                    return Refusal(wait: wait, message: "wrong pairing code: check it and try again in \(wait) s")
                }
            }
            state.networks[network] = recent + [time]
            // Counted as wrong until it proves otherwise: parallel tries from one device are each
            // one more in a row.
            let failures = (state.devices[device]?.failures ?? 0) + 1
            state.devices[device] = (failures, time)
            return nil
        }
    }

    /// The attempt enrolled, or never got to try a code: it is taken back.
    package func succeeded(_ client: Client) {
        let network = client.network
        let device = client.key
        state.withLock { state in
            if var recent = state.networks[network], !recent.isEmpty {
                recent.removeLast()
                state.networks[network] = recent.isEmpty ? nil : recent
            }
            state.devices[device] = nil
        }
    }

    /// An IPv4 address's /24 or an IPv6 address's /64, as text; anything else as it is.
    package static func network(of address: String) -> String {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let parts = address.split(separator: ".")
            return parts.prefix(3).joined(separator: ".") + ".0/24"
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            // An IPv4-mapped address counts as its IPv4 network.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return "\(bytes[12]).\(bytes[13]).\(bytes[14]).0/24"
            }
            return stride(from: 0, to: 8, by: 2).map { String(format: "%02x%02x", bytes[$0], bytes[$0 + 1]) }.joined(separator: ":") + "::/64"
        }
        return address
    }
}

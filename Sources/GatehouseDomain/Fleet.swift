import CoreMetrics
import Foundation
import GatehouseCore
import GatehouseStorage
import Logging

/// The fleet of an event's devices as their heartbeats tell it: each device's latest figures,
/// its state (the worst of its problems), and its last reported events.
extension Gatehouse {
    /// One device on the gates page and in `GET /api/events/{id}/devices`.
    public struct DeviceStatus: Encodable, Sendable, Equatable {
        public var deviceId: String
        public var name: String
        public var gateId: String
        public var kind: DeviceKind
        public var state: DeviceState
        public var lastHeartbeatAt: Date?
        public var heartbeat: Heartbeat?
        public var problems: [DeviceState]
    }

    /// Events kept per device: what the device page shows.
    package static let deviceEventsKept = 50

    /// A device's heartbeat (its own token, its own id and gate): checked, kept as the latest,
    /// its events added to the device's last 50.
    public func recordHeartbeat(_ heartbeat: Heartbeat, bearerToken: String, logger: Logger) async throws {
        try Self.checkIdentifier(heartbeat.deviceId, field: "deviceId")
        try Self.checkIdentifier(heartbeat.gateId, field: "gateId")
        let device = try await enrolledDevice(bearerToken: bearerToken)
        guard device.id == heartbeat.deviceId else { throw CheckinError.unauthorized }
        guard device.gateId == heartbeat.gateId else { throw CheckinError.wrongGate(registered: device.gateId) }
        if let wait = syncPageLimiter.take(1, for: device.id) { throw RateLimited(retryAfter: wait, what: "heartbeats") }
        try Self.check(heartbeat)
        var latest = heartbeat
        latest.events = nil
        let stored = try await store.heartbeat(deviceId: device.id)
        var events = stored.flatMap { try? Self.storageDecoder.decode([DeviceEvent].self, from: Data($0.events.utf8)) } ?? []
        events += heartbeat.events ?? []
        events = Array(events.suffix(Self.deviceEventsKept))
        try await store.saveHeartbeat(
            StoredHeartbeat(
                deviceId: device.id,
                at: now(),
                body: String(decoding: try Self.storageEncoder.encode(latest), as: UTF8.self),
                events: String(decoding: try Self.storageEncoder.encode(events), as: UTF8.self)
            )
        )
        Counter(label: ServiceMeters.heartbeats, factory: metrics).increment()
        for event in heartbeat.events ?? [] {
            logger.notice(
                "Device reported",
                metadata: [
                    "device.id": "\(device.id)", "gate.id": "\(device.gateId)", "device.event": "\(event.kind)", "device.detail": "\(event.detail)",
                ]
            )
        }
    }

    /// Every device of the event that is not revoked, worst state first, then by gate.
    public func fleet(eventId: String) async throws -> [DeviceStatus] {
        _ = try await event(id: eventId)
        let devices = try await store.devices(eventId: eventId).map(\.device).filter { !$0.revoked }
        let heartbeats = Dictionary(try await store.heartbeats(eventId: eventId).map { ($0.deviceId, $0) }, uniquingKeysWith: { a, _ in a })
        return devices.map { status(of: $0, heartbeats[$0.id]) }.sorted { ($0.state, $0.gateId, $0.deviceId) < ($1.state, $1.gateId, $1.deviceId) }
    }

    /// One device, its status and its last events, newest first.
    public func deviceStatus(deviceId: String) async throws -> (device: Device, status: DeviceStatus, events: [DeviceEvent]) {
        guard let device = try await store.device(id: deviceId) else { throw NotFoundError("device \(deviceId)") }
        let stored = try await store.heartbeat(deviceId: deviceId)
        let events = stored.flatMap { try? Self.storageDecoder.decode([DeviceEvent].self, from: Data($0.events.utf8)) } ?? []
        return (device, status(of: device, stored), events.reversed())
    }

    private func status(of device: Device, _ stored: StoredHeartbeat?) -> DeviceStatus {
        let heartbeat = stored.flatMap { try? Self.storageDecoder.decode(Heartbeat.self, from: Data($0.body.utf8)) }
        let age = stored.map { Duration.milliseconds(max(0, now().millis - $0.at.millis)) }
        let problems = DeviceState.problems(of: heartbeat, age: age)
        return DeviceStatus(
            deviceId: device.id,
            name: device.name,
            gateId: device.gateId,
            kind: device.kind,
            state: problems.first ?? .ok,
            lastHeartbeatAt: stored?.at,
            heartbeat: heartbeat,
            problems: problems
        )
    }

    static let storageEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static let storageDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    /// What a device may say: short printable words and figures in sane ranges. A device is
    /// trusted with its own row, not with the organizer's pages.
    static func check(_ heartbeat: Heartbeat) throws {
        for (field, text) in [
            ("version", heartbeat.version), ("cameraDetail", heartbeat.cameraDetail), ("decoder", heartbeat.decoder),
            ("lastDecision", heartbeat.lastDecision), ("alarm", heartbeat.alarm),
        ] {
            if let text { try checkIdentifier(text, field: field) }
        }
        if let camera = heartbeat.camera, !["ok", "offline", "starting", "none"].contains(camera) {
            throw InvalidInputError("camera must be ok, offline, starting or none")
        }
        func within<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ field: String) throws {
            if let value, !range.contains(value) { throw InvalidInputError("\(field) must be between \(range.lowerBound) and \(range.upperBound)") }
        }
        try within(heartbeat.uptimeSeconds, 0...Int(Int32.max), "uptimeSeconds")
        try within(heartbeat.framesPerSecond, 0...1000, "framesPerSecond")
        try within(heartbeat.codesPerMinute, 0...1_000_000, "codesPerMinute")
        try within(heartbeat.snapshotAgeSeconds, 0...Int(Int32.max), "snapshotAgeSeconds")
        try within(heartbeat.snapshotTickets, 0...100_000_000, "snapshotTickets")
        try within(heartbeat.backlog, 0...100_000_000, "backlog")
        try within(heartbeat.diskFreeBytes, 0...Int64.max, "diskFreeBytes")
        try within(heartbeat.diskFreePercent, 0...100, "diskFreePercent")
        try within(heartbeat.cpuTemperatureCelsius, -60...200, "cpuTemperatureCelsius")
        let events = heartbeat.events ?? []
        guard events.count <= deviceEventsKept else { throw InvalidInputError("events holds at most \(deviceEventsKept) entries") }
        for event in events {
            guard !event.kind.isEmpty, event.kind.utf8.count <= 32, event.kind.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (97...122).contains($0) })
            else { throw InvalidInputError("an event's kind must be 1 to 32 lower-case letters or _") }
            try checkIdentifier(event.detail, field: "events.detail")
        }
    }
}

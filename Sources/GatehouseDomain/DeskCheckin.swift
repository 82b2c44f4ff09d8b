import Foundation
import GatehouseCore
import GatehouseStorage
import Logging

/// Checking a ticket in by hand at the box office: someone whose ticket is lost or will not scan
/// is found by name or number, and a click admits them — through the same decision, store
/// transaction and log row as a scan at a gate. The box office's "gate" is a scanner device of its
/// own per person and event (`box office: <email>`, gate `box-office`), made on first use, so the
/// log says who let whom in and the ticket is used once whoever admits it first.
extension Gatehouse {
    public static let deskGate = "box-office"
    static let deskScanPrefix = "desk-"

    /// A new click's scanId, put in the ticket page's form: the form sent again (a reload after
    /// a lost answer, a double click) is the same scan and gets the first answer, never
    /// "already used" for a check-in this very button made. The box office's device is the
    /// person's own, so their scanIds cannot meet anyone else's.
    public static func newDeskScanId() -> String { deskScanPrefix + Base32.randomString(count: 16) }

    public func checkInByHand(ticketId: String, scanId: String? = nil, by principal: Principal, logger: Logger) async throws -> CheckinAnswer {
        let started = ContinuousClock.now
        try Self.checkIdentifier(ticketId, field: "ticket")
        if let scanId { try Self.checkIdentifier(scanId, field: "scanId") }
        let ticket = try await ticket(id: ticketId)
        guard
            let tokenHash = try await store.rows(StoreStatements.ticketTokenHash(id: ticket.id), { $0.bytes(0) }).first
        else { throw NotFoundError("ticket \(ticketId)") }
        let desk = try await deskDevice(eventId: ticket.eventId, name: "box office: \(principal.actor)")
        let at = now()
        // One click, one scan: a click on a page loaded again is a second scan, "already used".
        let scanId = scanId ?? Self.newDeskScanId()
        let attempt = CheckinAttempt(
            deviceId: desk.id,
            deviceTokenHash: desk.tokenHash,
            gateId: Self.deskGate,
            scanId: scanId,
            mode: .commit,
            payloadHash: TokenHash.of("desk\u{0}" + ticket.id + "\u{0}" + scanId),
            code: (eventId: ticket.eventId, tokenHash: tokenHash),
            direction: .entry,
            at: at,
            day: Self.day(of: at, in: timeZone)
        )
        return try await decide(attempt, started: started, logger: logger)
    }

    /// The person's box-office device of the event (not revoked), made when there is none yet.
    /// Its token is never shown to anyone: the service presents its hash itself.
    func deskDevice(eventId: String, name: String) async throws -> (id: String, tokenHash: [UInt8]) {
        let name = String(name.prefix(Self.maximumNameLength))
        let existing = try await devices(eventId: eventId).first {
            $0.device.name == name && $0.device.gateId == Self.deskGate && !$0.device.revoked
        }
        var id = existing?.device.id
        if id == nil { id = try await addDevice(name: name, gateId: Self.deskGate, eventId: eventId, kind: .scanner).device.id }
        guard let id else { throw NotFoundError("box office device") }
        guard
            let hash = try await store.rows(StoreStatements.deviceTokenHash(id: id), { $0.bytes(0) }).first
        else { throw NotFoundError("device \(id)") }
        return (id, hash)
    }
}

import GatehouseCore

/// What the gate decides by itself when the service does not answer.
public enum OfflineDecision: Sendable, Equatable {
    /// Decided from the snapshot. For `valid`, the admission is already in the box's journal of
    /// offline check-ins (durably) when this returns: the relay may open.
    case decided(CheckinAnswer)
    /// The gate cannot decide safely (offline mode off, no snapshot, one too old, a clock it
    /// cannot trust, a journal it cannot write): it stays shut, as without offline mode.
    case cannotDecide(String)
}

/// Decides a scan from the box's ticket snapshot, with the scan's own scanId (so an upload
/// later reconciles with an online decision whose answer was lost).
public protocol OfflineDecider: Sendable {
    /// `direction`: the way this scan goes (a bidirectional lane's input says it per scan).
    func decide(qrData: String, scanId: String, direction: ScanDirection) -> OfflineDecision
}

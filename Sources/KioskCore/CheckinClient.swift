import GatehouseCore

/// How a check-in call ended, from the gate's point of view.
public enum CheckinReply: Sendable, Equatable {
    /// The service decided (valid or a refusal reason).
    case answered(CheckinAnswer)
    /// No answer within the deadline: connection refused, DNS, timeout, 5xx. Try again with the
    /// same scanId.
    case unreachable(String)
    /// The service refused the request itself (401, 403, 400, …): a setup fault, not a ticket
    /// decision. Logged loudly; the gate stays shut.
    case rejected(status: Int, detail: String)
}

/// Asks the check-in service about one scan.
public protocol CheckinClient: Sendable {
    /// `direction`: the way this scan goes (a bidirectional lane's input says it per scan).
    func checkin(qrData: String, scanId: String, direction: ScanDirection) async -> CheckinReply
    /// Checks that the service answers and accepts this device, without checking anything in
    /// (`gate-kiosk selftest`): an authenticated kiosk gets an answer.
    func probe() async -> CheckinReply
}

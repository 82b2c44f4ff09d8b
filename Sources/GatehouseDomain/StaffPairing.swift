import Foundation
import GatehouseCore
import GatehouseStorage

/// Pairing a phone as the signed-in account, without a code. The page names each attempt with a
/// random id it keeps until it has an answer, and the device token is made from that id and the
/// service's own key: the request sent again after a lost answer finds the device the first one
/// made and gets the same token back, so a lost answer never leaves a paired device no phone
/// holds, and pressing Pair again never makes a second one.
extension Gatehouse {
    public enum StaffPairingError: Error, Equatable, CustomStringConvertible {
        /// The attempt's device was revoked or signed out: the phone must start a new attempt.
        case ended
        /// The same attempt id came for another event or gate.
        case otherGate

        public var description: String {
            switch self {
            case .ended: "this pairing was ended (the phone was signed out or revoked); pair again"
            case .otherGate: "this pairing attempt was made for another event or gate"
            }
        }
    }

    public struct StaffPairing: Sendable {
        public var device: Device
        public var token: String
        /// False when the attempt had already paired: its answer was lost and is given again.
        public var isNew: Bool
    }

    static let pairingAttemptLength = 16...64

    public func pairStaffPhone(_ principal: Principal, eventId: String, gateId: String, attempt: String) async throws -> StaffPairing {
        guard Self.pairingAttemptLength.contains(attempt.utf8.count),
            attempt.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { throw InvalidInputError("attempt must be 16 to 64 letters, digits, - or _") }
        let who = principal.accountId ?? principal.actor
        let secret = codeSeal.derivedSecret(purpose: "gatehouse staff pairing", input: who + "\u{0}" + attempt)
        let token = "ghd_" + Base32.encode(Array(secret.prefix(20)))
        let hash = TokenHash.of(token)
        var refused: any Error = StaffPairingError.ended
        for _ in 0..<2 {
            if let paired = try await store.device(tokenHash: hash) {
                guard paired.eventId == eventId, paired.gateId == gateId else { throw StaffPairingError.otherGate }
                return StaffPairing(device: paired, token: token, isNew: false)
            }
            guard try await store.rows(StoreStatements.deviceId(tokenHash: hash), { $0.text(0) }).isEmpty else {
                throw StaffPairingError.ended
            }
            do {
                let device = try await addDevice(
                    name: principal.actor,
                    gateId: gateId,
                    eventId: eventId,
                    kind: .scanner,
                    token: token
                )
                return StaffPairing(device: device.device, token: token, isNew: true)
            } catch StoreError.unavailable(let cause) {
                throw StoreError.unavailable(cause)
            } catch let error as InvalidInputError {
                throw error
            } catch let error as NotFoundError {
                throw error
            } catch {
                // The same attempt twice at once (its token's key taken): the other request's
                // device is found next time round; anything else is said as it is.
                refused = error
            }
        }
        throw refused
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

import CArgon2
import Foundation
import GatehouseCore
import Synchronization

/// Organizers' passwords, as Argon2id hashes in the PHC string form (`$argon2id$v=19$m=…`).
///
/// Argon2id rather than bcrypt: it is memory-hard (each guess costs an attacker 19 MiB, not just
/// time, which is what makes GPU and ASIC farms expensive), it is the first choice of OWASP's
/// password guidance and of RFC 9106, it has no 72-byte limit that silently cuts long
/// passphrases, and the stored string carries its parameters, so they can be raised later
/// without invalidating anyone's password. The reference implementation comes from Debian
/// (`libargon2-1`), a small C library, rather than a Swift package build.
public enum PasswordHash {
    /// OWASP's minimum for Argon2id: 19 MiB, two passes, one lane (about 40 ms on a Pi 4's core).
    static let memoryKiB: UInt32 = 19 * 1024
    static let passes: UInt32 = 2
    static let lanes: UInt32 = 1
    static let saltBytes = 16
    static let hashBytes = 32

    public static let minimumLength = 10
    /// Longer inputs are refused before hashing: a megabyte "password" is an attack, not a passphrase.
    public static let maximumBytes = 1024

    /// Hashes at once, across the process: each holds 19 MiB, so memory stays bounded however
    /// many sign-ins arrive; the others wait their turn, up to `maximumWaiting`, and past that a
    /// sign-in is refused as busy (a flood is answered, never queued without end).
    static let turns = HashTurns(running: 4, waiting: 256)

    public enum Failure: Error, CustomStringConvertible {
        case busy
        case library(String)
        public var description: String {
            switch self {
            case .busy: "too many sign-ins are waiting to be checked; try again in a moment"
            case .library(let message): "the password could not be hashed: \(message)"
            }
        }
    }

    /// Why `password` cannot be one, or nil when it can.
    public static func weakness(of password: String) -> String? {
        if password.count < minimumLength { return "the password must have at least \(minimumLength) characters" }
        if password.utf8.count > maximumBytes { return "the password must be at most \(maximumBytes) bytes" }
        return nil
    }

    /// A new hash of `password` with a fresh random salt, off the caller's thread.
    public static func make(_ password: String) async throws -> String {
        try await bounded { try makeNow(password) }
    }

    /// Whether `password` is the one `encoded` was made from (constant-time comparison inside
    /// libargon2). A malformed `encoded` is simply no match.
    public static func verify(_ password: String, against encoded: String) async throws -> Bool {
        guard password.utf8.count <= maximumBytes else { return false }
        return try await bounded { verifyNow(password, against: encoded) }
    }

    /// A hash of nothing anyone knows: unknown accounts are checked against it, so a sign-in
    /// takes as long whether or not the address has an account.
    public static let decoy: String = (try? makeNow(Secret.newSessionID())) ?? ""

    static func makeNow(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: saltBytes)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let length = argon2_encodedlen(passes, memoryKiB, lanes, UInt32(saltBytes), UInt32(hashBytes), Argon2_id)
        var encoded = [CChar](repeating: 0, count: length)
        let bytes = Array(password.utf8)
        let status = argon2id_hash_encoded(passes, memoryKiB, lanes, bytes, bytes.count, salt, salt.count, hashBytes, &encoded, length)
        guard status == ARGON2_OK.rawValue else { throw Failure.library(String(cString: argon2_error_message(status))) }
        return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func verifyNow(_ password: String, against encoded: String) -> Bool {
        guard encoded.hasPrefix("$argon2id$") else { return false }
        let bytes = Array(password.utf8)
        return argon2id_verify(encoded, bytes, bytes.count) == ARGON2_OK.rawValue
    }

    private static func bounded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard await turns.begin() else { throw Failure.busy }
        defer { turns.end() }
        // Tens of milliseconds of CPU: on a thread of its own, not the cooperative pool's.
        return try await withCheckedThrowingContinuation { done in
            Thread { done.resume(with: Result { try work() }) }.start()
        }
    }
}

/// A counting semaphore with a bounded queue: `begin` waits for a free turn, or answers false at
/// once when too many already wait.
final class HashTurns: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Bool, Never>] = []
    }

    private let state: Mutex<State>
    private let maximumWaiting: Int

    init(running: Int, waiting: Int) {
        state = Mutex(State(free: running))
        maximumWaiting = waiting
    }

    func begin() async -> Bool {
        await withCheckedContinuation { (turn: CheckedContinuation<Bool, Never>) in
            let answer: Bool? = state.withLock { state in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                guard state.waiting.count < maximumWaiting else { return false }
                state.waiting.append(turn)
                return nil
            }
            if let answer { turn.resume(returning: answer) }
        }
    }

    func end() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}

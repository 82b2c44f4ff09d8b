import Foundation
import GatehouseStorage
import Synchronization

/// Enrolled devices by the hash of their token, remembered for a few seconds.
///
/// Why: the routes that take a device token check it before they read a request's body, so a
/// stranger with a made-up token never gets a byte of body buffered (300 half-sent check-ins with
/// one held 385 MB when the body came first). Remembering known devices keeps that check off the
/// database for every honest check-in. The store's own check inside the deciding transaction stays
/// the authority: a device revoked a moment ago in another process is refused there.
///
/// Tokens never seen before are looked up at most `strangerLookups` at a time: a flood of made-up
/// tokens (each a database read) cannot take the connection pool from the gates, whose tokens are
/// known and looked up again, when their entry expires, without waiting. A lookup past those waits
/// for a free turn (up to `strangerWait`) rather than being refused at once: after a restart every
/// gate's token is new to the service and arrives in the same second, and a gate must not be told
/// "busy" for that.
package final class DeviceDirectory: Sendable {
    package static let lifetime: Duration = .seconds(10)
    /// Bounds the memory a flood of distinct (valid) tokens could take; far above any venue's fleet.
    package static let capacity = 20_000
    package static let strangerLookups = 2

    /// Too many tokens never seen before were being looked up for the whole of `strangerWait`.
    package struct Busy: Error {}

    private struct Entry {
        let device: Device
        let until: ContinuousClock.Instant
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    private let strangers = Atomic<Int>(0)
    private let strangerWait: Duration

    package init(strangerWait: Duration = .seconds(2)) { self.strangerWait = strangerWait }

    /// The device with this token hash: remembered, or loaded (and remembered when found).
    package func device(tokenHash: [UInt8], load: () async throws -> Device?) async throws -> Device? {
        let now = ContinuousClock.now
        let known = entries.withLock { $0[tokenHash] }
        if let known, known.until > now { return known.device }
        if known == nil { try await takeStrangerTurn() }
        defer { if known == nil { strangers.subtract(1, ordering: .relaxed) } }
        // Unknown tokens are not remembered: a stranger cannot fill this with made-up ones.
        guard let device = try await load() else {
            if known != nil { entries.withLock { _ = $0.removeValue(forKey: tokenHash) } }
            return nil
        }
        entries.withLock { table in
            if table.count >= Self.capacity {
                table = table.filter { $0.value.until > now }
                if table.count >= Self.capacity { table.removeAll() }
            }
            table[tokenHash] = Entry(device: device, until: now + Self.lifetime)
        }
        return device
    }

    /// Waits for one of the `strangerLookups` turns. Polled in short sleeps: the wait is rare
    /// (a restart, a flood) and bounded, and a waiter cancelled with its request leaves nothing
    /// behind to clean up.
    private func takeStrangerTurn() async throws {
        let deadline = ContinuousClock.now + strangerWait
        while true {
            if strangers.add(1, ordering: .relaxed).newValue <= Self.strangerLookups { return }
            strangers.subtract(1, ordering: .relaxed)
            guard ContinuousClock.now < deadline else { throw Busy() }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The device remembered for this token hash, if any (no database read).
    package func remembered(tokenHash: [UInt8]) -> Device? {
        entries.withLock { $0[tokenHash] }.flatMap { $0.until > ContinuousClock.now ? $0.device : nil }
    }

    /// Forgets a device (revoked here): its token is checked against the store again.
    package func forget(deviceId: String) {
        entries.withLock { table in table = table.filter { $0.value.device.id != deviceId } }
    }
}

/// A token bucket per key: `capacity` at most, refilled at `rate` a second. Used for what one
/// device may ask of the service in a burst (offline entries, snapshot pages), so one credential
/// cannot crowd out every other gate. Time is the service's clock (`now`), so tests can hold it.
package final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    package let capacity: Double
    package let rate: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    private let now: @Sendable () -> Date

    package init(capacity: Double, perSecond rate: Double, now: @escaping @Sendable () -> Date = { Date() }) {
        self.capacity = capacity
        self.rate = rate
        self.now = now
    }

    /// Takes `cost` from the key's bucket, or returns the seconds until it could (rounded up).
    package func take(_ cost: Double, for key: String) -> Int? {
        let now = now()
        return buckets.withLock { table -> Int? in
            if table.count > 50_000 {
                // Full buckets are the same as absent ones.
                table = table.filter { refilled($0.value, now: now) < capacity }
            }
            var bucket = table[key] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = refilled(bucket, now: now)
            bucket.updated = now
            guard bucket.tokens >= min(cost, capacity) else {
                table[key] = bucket
                return max(1, Int(((min(cost, capacity) - bucket.tokens) / rate).rounded(.up)))
            }
            bucket.tokens -= cost
            table[key] = bucket
            return nil
        }
    }

    /// The seconds until the key's bucket holds one token again, when it holds less; nil otherwise.
    package func exhausted(for key: String) -> Int? {
        let now = now()
        return buckets.withLock { table -> Int? in
            guard let bucket = table[key] else { return nil }
            let tokens = refilled(bucket, now: now)
            return tokens >= 1 ? nil : max(1, Int(((1 - tokens) / rate).rounded(.up)))
        }
    }

    private func refilled(_ bucket: Bucket, now: Date) -> Double {
        // A clock set back refills nothing (and takes nothing away).
        let seconds = max(0, now.timeIntervalSince(bucket.updated))
        return min(capacity, bucket.tokens + seconds * rate)
    }
}

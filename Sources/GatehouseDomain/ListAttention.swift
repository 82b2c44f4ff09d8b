import Foundation
import GatehouseCore
import GatehouseStorage
import Synchronization

/// Which ticket types each gate's list asks staff to look at, per event, read from the store at
/// most every two seconds: a granted scan asks it, and the hot path must not pay a query for a
/// flag most events never set. A list changed through this process is read again at once;
/// another process sees the change within `freshFor`.
package final class ListAttention: Sendable {
    private struct Entry {
        var read: ContinuousClock.Instant
        var byGate: [String: Set<String>]
    }

    private let entries = Mutex<[String: Entry]>([:])
    package static let freshFor: Duration = .seconds(2)
    /// A bound, not a working limit: past it the table starts again.
    package static let capacity = 10_000

    package func types(eventId: String, gate: String, store: any GatehouseStore) async throws -> Set<String>? {
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[eventId] }), now - entry.read < Self.freshFor { return entry.byGate[gate] }
        var byGate: [String: Set<String>] = [:]
        for list in try await store.lists(eventId: eventId) {
            guard let attention = list.attention, !attention.isEmpty else { continue }
            for listGate in list.gates { byGate[listGate] = Set(attention) }
        }
        entries.withLock { table in
            if table.count >= Self.capacity, table[eventId] == nil { table.removeAll() }
            table[eventId] = Entry(read: now, byGate: byGate)
        }
        return byGate[gate]
    }

    /// A list of the event changed here: read again at the next granted scan.
    package func forget(eventId: String) {
        _ = entries.withLock { $0.removeValue(forKey: eventId) }
    }
}

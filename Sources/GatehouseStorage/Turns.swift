import Foundation
import Synchronization

/// At most `limit` callers inside at once; the others wait for a turn in the order they came,
/// holding nothing, and a waiter whose task is cancelled (its deadline passed) leaves the line
/// at once and never runs.
///
/// Why: work that waits on a row lock in the database holds a pooled connection all the while.
/// A rush of registrations for one event takes turns on the event's row anyway; let each hold a
/// connection while it waits, and they take the whole pool, so every other request of the
/// process — a gate's check-in, the registration's own key lookup — waits for a connection
/// until its deadline passes.
package final class Turns: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var inside = 0
        var nextId: UInt64 = 0
        var waiting: [Waiter] = []
    }
    private let limit: Int
    private let state = Mutex(State())

    package init(limit: Int) {
        precondition(limit > 0, "a limit of at least one caller")
        self.limit = limit
    }

    /// Runs `body` once a turn is free; throws `CancellationError` without running it when the
    /// task is cancelled while it waits.
    package func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async throws {
        let id = state.withLock { state -> UInt64? in
            if state.inside < limit {
                state.inside += 1
                return nil
            }
            state.nextId += 1
            return state.nextId
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.waiting.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiting.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Hands the turn to the first waiter, or gives it back.
    private func leave() {
        let next = state.withLock { state -> Waiter? in
            if state.waiting.isEmpty {
                state.inside -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.continuation.resume()
    }
}

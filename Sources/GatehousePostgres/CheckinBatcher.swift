import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// Group commit for PostgreSQL: check-ins that arrive while a batch is at the database go
/// together in the next one — one read, one call that stores them, one transaction, one WAL
/// flush (see `PostgresCheckinRounds`) — and are answered after its commit. One batch at a time
/// per process (the service's
/// one loop): at low load a scan waits for nobody; under load, measured on 2 cores, one batch in
/// flight beat two in every round (bigger batches, fewer commits), and two beat three and four.
///
/// A `Service`: `run()` is the loop. It wakes on an `AsyncStream` that `submit` pokes, takes what
/// is pending, and ends at graceful shutdown after answering what was queued; a scan submitted
/// after that gets a 503 at once.
final class CheckinBatcher: Service, Sendable {
    private typealias Waiter = CheckedContinuation<CheckinOutcome, any Error>
    private typealias Batch = [(attempt: CheckinAttempt, waiter: Waiter)]

    /// Scans waiting for a batch. A lock, not an actor: submitting is a few instructions, and an
    /// actor hop per check-in cost more.
    private struct State {
        var pending: Batch = []
        var stopped = false

        mutating func takeBatch() -> Batch {
            let count = min(pending.count, CheckinBatcher.maximumBatch)
            let batch = Array(pending.prefix(count))
            pending.removeFirst(count)
            return batch
        }
    }

    private let client: PostgresClient
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// One element means "something is pending"; more pokes while the loop is busy fold into it.
    private let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation
    static let maximumBatch = 256

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func submit(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let accepted = state.withLockedValue { state -> Bool in
                guard !state.stopped else { return false }
                state.pending.append((attempt, waiter))
                return true
            }
            if accepted {
                wakeUp.yield()
            } else {
                waiter.resume(throwing: StoreError.unavailable("the service is shutting down"))
            }
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeUps { await decidePending() }
        } onGracefulShutdown: { [wakeUp] in
            // The HTTP server has drained by now (the group stops it first): end the loop.
            wakeUp.finish()
        }
        // Whatever came in meanwhile is answered; nothing is queued after this.
        state.withLockedValue { $0.stopped = true }
        await decidePending()
    }

    /// Decides pending scans, a batch at a time, until nothing waits.
    private func decidePending() async {
        while true {
            let batch = state.withLockedValue { $0.takeBatch() }
            guard !batch.isEmpty else { return }
            let outcomes = await PostgresCheckinRounds.decide(batch.map(\.attempt), client: client, logger: logger)
            // Every waiter is resumed exactly once, whatever came back.
            for (index, entry) in batch.enumerated() {
                entry.waiter.resume(with: index < outcomes.count ? outcomes[index] : .failure(StoreError.unavailable("no answer for this scan")))
            }
        }
    }

    /// SQLSTATE classes that blame the statement's data or logic rather than the server: data
    /// exceptions (22), integrity (23), invalid text representation and the like. Connection (08),
    /// resources (53), operator intervention (57) and transaction rollbacks (40) are not.
    static func isDataError(_ state: String) -> Bool {
        ["22", "23", "42", "P0", "XX"].contains(String(state.prefix(2))) && state != "42501"
    }
}

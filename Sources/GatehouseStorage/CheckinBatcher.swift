import ServiceLifecycle
import Synchronization

/// Group commit for PostgreSQL: check-ins that arrive while a batch is at the database go
/// together in the next one, decided by the store's `decide` in one transaction, and
/// are answered after its commit. At most `inFlight` batches at a time per process: at low load a
/// scan waits for nobody; under load, measured on 2 cores with PostgreSQL, one batch in flight
/// beat two in every round (bigger batches, fewer commits), and two beat three and four. MySQL's
/// writers take their check-ins themselves (`MySQLScanQueue`), with no hop through this loop.
///
/// A `Service`: `run()` is the loop. It wakes on an `AsyncStream` that `submit` pokes, takes what
/// is pending, and ends at graceful shutdown after answering what was queued; a scan submitted
/// after that gets a 503 at once.
public final class CheckinBatcher: Service, Sendable {
    /// Decides a batch in order; one result per attempt, in the same order.
    public typealias Decide = @Sendable ([CheckinAttempt]) async -> [Result<CheckinOutcome, any Error>]

    private typealias Waiter = CheckedContinuation<CheckinOutcome, any Error>
    private typealias Batch = [(attempt: CheckinAttempt, waiter: Waiter)]

    /// Scans waiting for a batch. A lock, not an actor: submitting is a few instructions, and an
    /// actor hop per check-in cost more.
    private struct State {
        var pending: Batch = []
        var stopped = false
        /// Batches being decided now.
        var working = 0

        /// Whether another batch may start: something waits and fewer than `limit` are at work.
        mutating func startWork(limit: Int) -> Bool {
            guard !pending.isEmpty, working < limit else { return false }
            working += 1
            return true
        }

        mutating func takeBatch(upTo maximum: Int) -> Batch {
            let count = min(pending.count, maximum)
            let batch = Array(pending.prefix(count))
            pending.removeFirst(count)
            return batch
        }
    }

    private let decide: Decide
    private let maximumBatch: Int
    private let inFlight: Int
    private let state = Mutex(State())
    /// One element means "something is pending"; more pokes while the loop is busy fold into it.
    private let wakeUps: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation

    public init(maximumBatch: Int, inFlight: Int = 1, decide: @escaping Decide) {
        self.decide = decide
        self.maximumBatch = maximumBatch
        self.inFlight = inFlight
        (wakeUps, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func submit(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let accepted = state.withLock { state -> Bool? in
                guard !state.stopped else { return nil }
                state.pending.append((attempt, waiter))
                // With every batch slot at work, one of them takes this scan when its batch is
                // done (`work` looks again under this lock before it stops): waking the loop
                // would only find no slot free — a wake-up per scan under load, for nothing.
                return state.working < inFlight
            }
            switch accepted {
            case true?: wakeUp.yield()
            case false?: break
            case nil: waiter.resume(throwing: StoreError.unavailable("the service is shutting down"))
            }
        }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await _ in wakeUps {
                    while state.withLock({ $0.startWork(limit: inFlight) }) {
                        group.addTask { await self.work() }
                    }
                }
            } onGracefulShutdown: { [wakeUp] in
                // The HTTP server has drained by now (the group stops it first): end the loop.
                wakeUp.finish()
            }
        }
        // Whatever came in meanwhile is answered; nothing is queued after this.
        state.withLock {
            $0.stopped = true
            $0.working += 1
        }
        await work()
    }

    /// Decides pending scans, a batch at a time, until nothing waits; then stops working (in
    /// the same lock as the look that found nothing, so a scan submitted just after is never
    /// left without a worker: its poke starts one).
    private func work() async {
        while true {
            let batch = state.withLock { state -> Batch in
                let batch = state.takeBatch(upTo: maximumBatch)
                if batch.isEmpty { state.working -= 1 }
                return batch
            }
            guard !batch.isEmpty else { return }
            let outcomes = await decide(batch.map(\.attempt))
            // Every waiter is resumed exactly once, whatever came back.
            for (index, entry) in batch.enumerated() {
                entry.waiter.resume(with: index < outcomes.count ? outcomes[index] : .failure(StoreError.unavailable("no answer for this scan")))
            }
        }
    }
}

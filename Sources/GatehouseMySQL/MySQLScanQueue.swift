import GatehouseCore
import GatehouseStorage
import Synchronization

/// Group commit for MySQL's check-ins, kept by the writers themselves: scans wait here, and a
/// writer free for work takes all that wait as one job (`MySQLStore.decideInWriter`), answers
/// them the moment its transaction commits, and takes what arrived meanwhile at once. Handing
/// batches over through a task on the event loop (`CheckinBatcher`, as PostgreSQL's client lives
/// there anyway) left each writer without a job for two fifths of the time at 64 connections,
/// waiting for the busy loop to give it the next batch.
final class MySQLScanQueue: MySQLWorkers.JobSource {
    private struct Waiting {
        let attempt: CheckinAttempt
        let answer: OnceAnswer<CheckinOutcome>
        let deadline: ContinuousClock.Instant
    }

    private struct State {
        var waiting: [Waiting] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let writer: MySQLWorkers
    private let limit: Duration

    /// `limit`: how long a scan may wait for its answer before it gets a 503
    /// (`DatabaseLimits.operation`).
    init(writer: MySQLWorkers, limit: Duration) {
        self.writer = writer
        self.limit = limit
    }

    /// Decides `attempt` with the scans that wait with it, once a writer is free; its answer
    /// comes after the commit. Past `limit` a 503, as for every store call (a scan whose batch
    /// is at the database by then may still be stored: a retry with its scanId gets that answer).
    func submit(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        let answer = OnceAnswer<CheckinOutcome>()
        let deadline = ContinuousClock.now + limit
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.waiting.append(Waiting(attempt: attempt, answer: answer, deadline: deadline))
            return true
        }
        guard accepted else { throw StoreError.unavailable("the MySQL writers have stopped") }
        writer.poke()
        return try await answer.value(by: deadline, expired: { [limit] in StoreError.unavailable("MySQL did not answer within \(limit)") })
    }

    func stop() {
        state.withLock { $0.stopped = true }
    }

    /// The scans that wait, up to a batch's worth, as one job; those past their limit are
    /// answered 503 instead (nobody waits for them, and deciding them would use their tickets).
    func job() -> MySQLWorkers.Job? {
        let now = ContinuousClock.now
        let taken = state.withLock { state -> [Waiting] in
            let count = min(state.waiting.count, MySQLWorkers.maximumBatch)
            let taken = Array(state.waiting.prefix(count))
            state.waiting.removeFirst(count)
            return taken
        }
        let batch = taken.filter { scan in
            guard scan.deadline > now else {
                _ = scan.answer.give(.failure(StoreError.unavailable("MySQL: waited too long for a writer")))
                return false
            }
            return true
        }
        guard let last = batch.map(\.deadline).max() else { return nil }
        let attempts = batch.map(\.attempt)
        let decided = OutcomeBox<[CheckinOutcome]>()
        let writer = self.writer
        let limit = self.limit
        return MySQLWorkers.Job(
            execute: { db in
                do {
                    decided.value = .success(try MySQLStore.decideInWriter(attempts, in: db))
                    return nil
                } catch {
                    decided.value = .failure(error)
                    return error
                }
            },
            finish: { failure in
                // Answered only once the transaction committed with the job's writes in it.
                if failure == nil, case .success(let outcomes)? = decided.value {
                    for (scan, outcome) in zip(batch, outcomes) { _ = scan.answer.give(.success(outcome)) }
                    return
                }
                let ran: (any Error)? = if case .failure(let error)? = decided.value { error } else { nil }
                let cause = MySQLWorkers.mapped(failure ?? ran ?? StoreError.unavailable("MySQL: the batch did not run"))
                Task {
                    let results = await MySQLStore.decideAfterBatchFailed(attempts, cause: cause, writer: writer, limit: limit)
                    for (scan, result) in zip(batch, results) { _ = scan.answer.give(result) }
                }
            },
            deadline: last
        )
    }
}

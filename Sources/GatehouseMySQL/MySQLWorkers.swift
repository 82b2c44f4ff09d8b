import Foundation
import GatehouseStorage
import ServiceLifecycle
import Synchronization

/// Threads of our own, each with one MySQL connection, that run the store's jobs: libmariadb
/// blocks in every call, so none of it may run on an event loop or in Swift's cooperative pool.
///
/// Two kinds, one type: the readers (several threads, one job at a time, autocommit) and the
/// writers (threads with group commit). A writer takes every write job waiting, runs each in
/// its own savepoint inside one transaction, commits once and only then answers them all — the
/// same promise as the SQLite writer: an answer is never sent before the commit that made it true,
/// and with `innodb_flush_log_at_trx_commit=1` a commit is on disk. Writers meet only at the
/// rows they change and at the change counter, which each takes at its transaction's end, with
/// every row it still writes locked already (`MySQLSchema.numberChanges`); InnoDB's deadlock
/// victims are run again.
///
/// A connection that fails for the database's sake is closed and made anew for the next job, so
/// the store recovers by itself when the server is back. A `Service`: at graceful shutdown the
/// threads finish what is queued and end.
final class MySQLWorkers: Service, Sendable {
    struct Job: Sendable {
        /// Runs on a worker; nil when the body succeeded, else its error.
        let execute: @Sendable (MySQLConnection) -> (any Error)?
        /// Called once the job's transaction committed (nil) or failed (the error).
        let finish: @Sendable ((any Error)?) -> Void
        /// Not run at all after this: the caller has been answered 503 already.
        let deadline: ContinuousClock.Instant
    }

    private struct Queue {
        var jobs: [Job] = []
        var stopped = false
    }

    /// Work that waits outside the queue and becomes a job only when a worker is free to take it,
    /// so what arrives meanwhile joins it (the check-ins: `MySQLScanQueue`).
    protocol JobSource: Sendable {
        /// A job for all that waits now, or nil.
        func job() -> Job?
        /// Refuses what comes from now on; what waits is still taken.
        func stop()
    }

    /// Largest batch in one commit; bounds the latency a burst adds to its first job.
    static let maximumBatch = 256
    /// How often a batch that InnoDB chose as a deadlock victim (or that waited too long for a
    /// lock) is run again before its callers are told the database is unavailable.
    static let retries = 3

    let target: MySQLTarget
    private let threads: Int
    private let batching: Bool
    private let name: String
    private let queue = Mutex(Queue())
    private let wakeUp = NSCondition()
    private let failing = Atomic<Bool>(false)
    private let source = Mutex<(any JobSource)?>(nil)

    /// Whether the last job met a database that could not serve.
    var isFailing: Bool { failing.load(ordering: .relaxed) }

    init(target: MySQLTarget, threads: Int, batching: Bool, name: String) {
        self.target = target
        self.threads = threads
        self.batching = batching
        self.name = name
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<threads {
                group.addTask {
                    await withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
                        let thread = Thread { [self] in
                            self.loop()
                            ended.resume()
                        }
                        thread.name = "\(self.name)-\(index)"
                        thread.start()
                    }
                }
            }
            // Returns at graceful shutdown, throws at cancellation: the same stop either way.
            try? await gracefulShutdown()
            stop()
        }
    }

    /// Runs `body` on a worker and returns its value (for the writer: once its batch committed).
    /// Waits at most `limit`: a database that does not answer is a 503, not a hung request. A
    /// write cut off this way may still commit; a kiosk's retry with the same scanId then gets
    /// that first answer.
    func perform<T: Sendable>(limit: Duration, _ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        let answer = OnceAnswer<T>()
        let deadline = ContinuousClock.now + limit
        let outcome = OutcomeBox<T>()
        enqueue(
            Job(
                execute: { connection in
                    do {
                        outcome.value = .success(try body(connection))
                        return nil
                    } catch {
                        outcome.value = .failure(error)
                        return error
                    }
                },
                finish: { failure in
                    switch (outcome.value, failure) {
                    case (.success?, let failure?):
                        // The job ran, its transaction did not commit.
                        _ = answer.give(.failure(Self.mapped(failure)))
                    case (let value?, _): _ = answer.give(value.mapError(Self.mapped))
                    // It never ran (no connection): the cause.
                    case (nil, let failure?): _ = answer.give(.failure(Self.mapped(failure)))
                    case (nil, nil): _ = answer.give(.failure(StoreError.unavailable("MySQL: the job did not run")))
                    }
                },
                deadline: deadline
            )
        )
        // Left alone past its limit, the job is skipped if it has not started (`Job.deadline`)
        // and otherwise ends on its own: a statement at the server cannot be taken back.
        return try await answer.value(by: deadline, expired: { StoreError.unavailable("MySQL did not answer within \(limit)") })
    }

    /// MySQL's "cannot serve" errors become `StoreError.unavailable` (503), bad values `invalid`.
    static func mapped(_ error: any Error) -> any Error {
        (error as? MySQLError)?.storeError ?? error
    }

    /// Takes `source`'s jobs too, after the queue's, each as the last job of its batch.
    func take(from source: any JobSource) {
        self.source.withLock { $0 = source }
    }

    /// Wakes a worker to look at the source.
    func poke() {
        wakeUp.lock()
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func stop() {
        // The source first: a worker that sees the queue stopped finds in the source all that
        // was ever accepted, and takes it before it ends.
        source.withLock { $0 }?.stop()
        queue.withLock { $0.stopped = true }
        wakeUp.lock()
        wakeUp.broadcast()
        wakeUp.unlock()
    }

    private func enqueue(_ job: Job) {
        let accepted = queue.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.jobs.append(job)
            return true
        }
        guard accepted else {
            job.finish(StoreError.unavailable("the MySQL workers have stopped"))
            return
        }
        wakeUp.lock()
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func take() -> (jobs: [Job], stopped: Bool) {
        var taken: (jobs: [Job], stopped: Bool) = queue.withLock { state in
            let count = min(state.jobs.count, batching ? Self.maximumBatch : 1)
            let batch = Array(state.jobs.prefix(count))
            state.jobs.removeFirst(count)
            return (batch, state.stopped)
        }
        if taken.jobs.count < (batching ? Self.maximumBatch : 1), let job = source.withLock({ $0 })?.job() { taken.jobs.append(job) }
        return taken
    }

    private func loop() {
        var connection: MySQLConnection?
        while true {
            wakeUp.lock()
            var batch = take()
            while batch.jobs.isEmpty && !batch.stopped {
                wakeUp.wait()
                batch = take()
            }
            wakeUp.unlock()
            if batch.jobs.isEmpty && batch.stopped { break }
            let now = ContinuousClock.now
            let jobs = batch.jobs.filter { job in
                guard job.deadline > now else {
                    job.finish(StoreError.unavailable("MySQL: waited too long for a connection"))
                    return false
                }
                return true
            }
            if jobs.isEmpty { continue }
            if connection == nil {
                do {
                    connection = try connect()
                } catch {
                    failing.store(true, ordering: .relaxed)
                    for job in jobs { job.finish(error) }
                    continue
                }
            }
            var outcome = batching ? runBatch(jobs, on: connection!) : runAlone(jobs[0], on: connection!)
            if outcome == .staleConnection {
                // The connection died while idle (the server restarted, or closed it): nothing of
                // the jobs took effect, so they run again, once, on a new connection.
                do {
                    let fresh = try connect()
                    connection = fresh
                    outcome = batching ? runBatch(jobs, on: fresh, last: true) : runAlone(jobs[0], on: fresh, last: true)
                } catch {
                    connection = nil
                    outcome = .failed
                    for job in jobs { job.finish(error) }
                }
            }
            failing.store(outcome != .served, ordering: .relaxed)
            // A connection that failed for the database's sake is in doubt: the next job gets a new one.
            if outcome != .served { connection = nil }
        }
    }

    private enum Outcome {
        /// The database served the jobs (each may still have failed on its own).
        case served
        /// The database could not serve; the jobs were answered with the error.
        case failed
        /// The connection was found dead by the batch's first statement: nothing of the jobs was
        /// committed, and none was answered yet.
        case staleConnection
    }

    /// One read, outside any transaction.
    private func runAlone(_ job: Job, on connection: MySQLConnection, last: Bool = false) -> Outcome {
        let failure = job.execute(connection)
        // A read may run again: it changed nothing.
        if !last, Self.isConnectionLost(failure) { return .staleConnection }
        job.finish(nil)
        return Self.isUnavailable(failure) ? .failed : .served
    }

    /// The connection to the server is gone (the server went away, or dropped an idle connection).
    private static func isConnectionLost(_ error: (any Error)?) -> Bool {
        guard let error = error as? MySQLError else { return false }
        return [2006, 2013, 2055, 4031, 1927].contains(error.number)
    }

    private static func isUnavailable(_ error: (any Error)?) -> Bool {
        (error as? MySQLError)?.isUnavailable ?? false
    }

    /// A connection for this worker. A writer's has autocommit off: each batch's first statement
    /// begins its transaction, where a START TRANSACTION cost a round trip per batch.
    private func connect() throws -> MySQLConnection {
        let connection = try MySQLConnection(target)
        if batching { try connection.execute("SET SESSION autocommit = 0") }
        return connection
    }

    /// One write transaction for the batch.
    ///
    /// Optimistic first: the jobs run one after another without savepoints (a savepoint is a
    /// round trip per job, a third of a check-in's). Should one of them fail on its own (an unknown
    /// event, a value too long), the whole transaction is rolled back and the batch runs again
    /// with a savepoint around each job, so only that one fails. Jobs only read the database and
    /// their own input, so running one again gives the answer it would have given. The last job
    /// may hold writes back for the numbering (`MySQLConnection.NumberedWrite`); one of them
    /// failing by itself is that job failing, and the savepoints' run holds nothing back.
    private func runBatch(_ jobs: [Job], on connection: MySQLConnection, last: Bool = false) -> Outcome {
        var attempt = 0
        var isolated = false
        let answeredBefore = connection.answeredStatements
        while true {
            attempt += 1
            do {
                connection.forgetChanges()
                for (index, job) in jobs.enumerated() {
                    let mark = connection.notedChanges.count
                    if isolated { try connection.execute("SAVEPOINT job") }
                    connection.mayHoldWritesForNumbering = !isolated && index == jobs.count - 1
                    defer { connection.mayHoldWritesForNumbering = false }
                    if let failure = job.execute(connection) {
                        // The connection or the transaction is gone: the whole batch is.
                        if let failure = failure as? MySQLError, failure.isUnavailable { throw failure }
                        guard isolated else { throw JobFailedAlone() }
                        try connection.execute("ROLLBACK TO SAVEPOINT job")
                        connection.forgetChanges(since: mark)
                    }
                }
                do {
                    try MySQLSchema.numberChanges(connection)
                } catch {
                    // A write the last job held back failed by itself (another process logged
                    // its scanId first, say): that job's failure, as if it had written then.
                    guard !connection.numberedWrites.isEmpty, !Self.mustFailTheBatch(error) else { throw error }
                    throw JobFailedAlone()
                }
                try connection.execute("COMMIT")
                for job in jobs { job.finish(nil) }
                return .served
            } catch {
                // The batch's very first statement found the connection dead (it died while
                // idle): the server answered nothing of the batch, and whatever of it arrived
                // was never committed (autocommit is off), so the batch may run elsewhere.
                if !last, Self.isConnectionLost(error), connection.answeredStatements == answeredBefore { return .staleConnection }
                try? connection.execute("ROLLBACK")
                if error is JobFailedAlone {
                    isolated = true
                    attempt -= 1
                    continue
                }
                if let failure = error as? MySQLError, failure.isRetryable, attempt < Self.retries { continue }
                for job in jobs { job.finish(error) }
                return Self.isUnavailable(error) ? .failed : .served
            }
        }
    }

    /// Whether a failure is the database's (it cannot serve, or chose this transaction as a
    /// deadlock victim), not one job's.
    private static func mustFailTheBatch(_ error: any Error) -> Bool {
        guard let error = error as? MySQLError else { return false }
        return error.isUnavailable || error.isRetryable
    }

    /// One job of an optimistic batch failed by itself: the batch runs again with savepoints.
    private struct JobFailedAlone: Error {}
}

/// Holds a job's outcome between its execution and the commit. Written and read only on the
/// worker thread, in that order, which is why unchecked Sendable is sound here.
final class OutcomeBox<T: Sendable>: @unchecked Sendable {
    var value: Result<T, any Error>?
}

import Foundation
import GatehouseStorage
import SQLiteSupport
import ServiceLifecycle
import Synchronization

/// The one thread that writes to the SQLite file, with group commit.
///
/// Why: with `synchronous=FULL` every commit waits for an fsync (about 2 ms on our disks), so one
/// commit per check-in caps a gate system near 500 check-ins a second. Here callers queue jobs; the
/// writer takes every job waiting, runs each in its own savepoint inside one transaction, commits
/// once, and only then answers them all. Each job still runs its own atomic conditional update, so
/// "used only if unused" keeps its meaning; the batch only shares the fsync. An answer is never
/// sent before the commit that made it true is on disk.
///
/// A `Service`: `run()` starts the thread and, at graceful shutdown (or cancellation), lets it
/// finish the jobs already queued and waits for it to end. Jobs queued before `run()` wait for it.
final class SQLiteWriter: Service, Sendable {
    /// A queued unit of work. `execute` runs on the writer thread inside a savepoint; `finish` is
    /// called after the batch's commit (nil) or its failure (the error).
    private struct Job: Sendable {
        /// nil when the job's body succeeded, else its error (its savepoint is then rolled back).
        let execute: @Sendable (SQLiteConnection) -> (any Error)?
        let finish: @Sendable ((any Error)?) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var stopped = false
        /// The connection until the thread takes it; nil once it has.
        var connection: Handoff?
    }

    /// Largest batch in one commit; bounds the latency a huge burst adds to its first job.
    static let maximumBatch = 512

    private let queue = Mutex(Queue())
    private let wakeUp = NSCondition()
    private let name: String
    /// Whether the last batch met a database that cannot serve (read-only, disk full, I/O
    /// error). The health check then probes with a real write instead of trusting a read.
    private let failing = Atomic<Bool>(false)
    /// Opens a fresh connection after such a failure: a file that was read-only or on a broken
    /// disk is opened anew once the cause is gone, so the service recovers by itself.
    private let reopen: @Sendable () throws -> SQLiteConnection

    var isFailing: Bool { failing.load(ordering: .relaxed) }

    init(connection: SQLiteConnection, name: String, reopen: @escaping @Sendable () throws -> SQLiteConnection) {
        self.reopen = reopen
        self.name = name
        queue.withLock { $0.connection = Handoff(connection) }
    }

    /// Runs the writer thread until a graceful shutdown or cancellation, then lets it commit what
    /// is queued and returns once it has ended (and closed nothing early: SQLite is blocking, so
    /// the thread is never cut off mid-commit).
    func run() async throws {
        guard
            let handoff = queue.withLock({ state -> Handoff? in
                defer { state.connection = nil }
                return state.connection
            })
        else { preconditionFailure("SQLiteWriter.run() called twice") }
        async let ended: Void = withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                self.loop(handoff.connection)
                ended.resume()
            }
            thread.name = name
            thread.start()
        }
        // Returns at graceful shutdown, throws at cancellation: the same stop either way.
        try? await gracefulShutdown()
        stop()
        await ended
    }

    /// Runs `body` in the write transaction and returns its value once the transaction is durable.
    /// If `body` throws, only its own savepoint is rolled back.
    func perform<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = OutcomeBox<T>()
            let job = Job(
                execute: { connection in
                    do {
                        outcome.value = .success(try body(connection))
                        return nil
                    } catch {
                        outcome.value = .failure(error)
                        return error
                    }
                },
                finish: { commitError in
                    switch (outcome.value, commitError) {
                    case (.success?, let commitError?): continuation.resume(throwing: Self.mapped(commitError))
                    case (let value?, _): continuation.resume(with: value.mapError(Self.mapped))
                    // It never ran (the transaction could not begin, or the writer stopped): the cause.
                    case (nil, let error?): continuation.resume(throwing: Self.mapped(error))
                    case (nil, nil): continuation.resume(throwing: CancellationError())
                    }
                }
            )
            enqueue(job)
        }
    }

    /// Lets the thread end after the jobs already queued are done; later jobs are refused.
    private func stop() {
        queue.withLock { $0.stopped = true }
        wakeUp.lock()
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func enqueue(_ job: Job) {
        let accepted = queue.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.jobs.append(job)
            return true
        }
        guard accepted else {
            job.finish(StoreError.unavailable("the database writer has stopped"))
            return
        }
        wakeUp.lock()
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func takeBatch() -> (jobs: [Job], stopped: Bool) {
        queue.withLock { state in
            let count = min(state.jobs.count, Self.maximumBatch)
            let batch = Array(state.jobs.prefix(count))
            state.jobs.removeFirst(count)
            return (batch, state.stopped)
        }
    }

    /// SQLite's "cannot serve" errors become `StoreError.unavailable` (503), keeping SQLite's words.
    static func mapped(_ error: any Error) -> any Error {
        (error as? SQLiteError)?.storeError ?? error
    }

    private static func isUnavailable(_ error: any Error) -> Bool {
        (error as? SQLiteError)?.isUnavailable ?? false
    }

    private func loop(_ first: SQLiteConnection) {
        var connection = first
        while true {
            wakeUp.lock()
            var batch = takeBatch()
            while batch.jobs.isEmpty && !batch.stopped {
                wakeUp.wait()
                batch = takeBatch()
            }
            wakeUp.unlock()
            if batch.jobs.isEmpty && batch.stopped { break }
            if isFailing {
                do {
                    connection = try reopen()
                } catch {
                    for job in batch.jobs { job.finish(error) }
                    continue
                }
            }
            let healthy = run(batch.jobs, on: connection)
            failing.store(!healthy, ordering: .relaxed)
        }
    }

    /// Runs one batch in one transaction. Returns false when the database could not serve it.
    private func run(_ jobs: [Job], on connection: SQLiteConnection) -> Bool {
        do {
            // IMMEDIATE takes the write lock now, so no job meets SQLITE_BUSY half-way.
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.finish(error) }
            return !Self.isUnavailable(error)
        }
        var healthy = true
        for job in jobs {
            do {
                try connection.execute("SAVEPOINT job")
                if let failure = job.execute(connection) {
                    if Self.isUnavailable(failure) { healthy = false }
                    try connection.execute("ROLLBACK TO job; RELEASE job")
                } else {
                    try connection.execute("RELEASE job")
                }
            } catch {
                // A savepoint statement itself failed: the transaction is in doubt, give it up.
                try? connection.execute("ROLLBACK")
                for job in jobs { job.finish(error) }
                return false
            }
        }
        do {
            try connection.execute("COMMIT")
            for job in jobs { job.finish(nil) }
            return healthy
        } catch {
            try? connection.execute("ROLLBACK")
            for job in jobs { job.finish(error) }
            return !Self.isUnavailable(error)
        }
    }
}

/// Holds a job's outcome between its savepoint and the commit. Written and read only on the
/// writer thread, in that order, which is why unchecked Sendable is sound here.
private final class OutcomeBox<T: Sendable>: @unchecked Sendable {
    var value: Result<T, any Error>?
}

/// Moves the connection to the writer thread, which is its only user from then on.
private final class Handoff: @unchecked Sendable {
    let connection: SQLiteConnection
    init(_ connection: SQLiteConnection) { self.connection = connection }
}

extension SQLiteError {
    /// As a store error: unavailable ones keep SQLite's own words for the log.
    var storeError: any Error {
        isUnavailable ? StoreError.unavailable("SQLite: \(message) (\(operation), code \(code))") : self
    }
}

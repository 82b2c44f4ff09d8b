import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// Group commit for PostgreSQL: check-ins that arrive while a batch is at the database go
/// together in the next one, as one call of `gatehouse_checkin_many` — one round trip, one
/// transaction, one WAL flush — and are answered after its commit. Each scan is still decided by
/// its own conditional UPDATE inside the function. One batch at a time per process (the service's
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
            let outcomes = await Self.decide(batch.map(\.attempt), client: client, logger: logger)
            // Every waiter is resumed exactly once, whatever came back.
            for (index, entry) in batch.enumerated() {
                entry.waiter.resume(with: index < outcomes.count ? outcomes[index] : .failure(StoreError.unavailable("no answer for this scan")))
            }
        }
    }

    /// One call of `gatehouse_checkin_many`, prepared once per connection: the attempts as
    /// column arrays (PostgreSQL arrays hold no optionals here, so "no scanId" and "no code" go
    /// as empty values the function turns back into NULL).
    struct DecideMany: PostgresPreparedStatement {
        static let sql = "SELECT * FROM gatehouse_checkin_many($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        typealias Row = (Int32, String, String?, String?, Int64?, String?, String?, Int64?, String?, Bool, String?)

        var attempts: [CheckinAttempt]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 9)
            bindings.append(attempts.map(\.deviceId))
            bindings.append(attempts.map { ByteBuffer(bytes: $0.deviceTokenHash) })
            bindings.append(attempts.map(\.gateId))
            bindings.append(attempts.map { $0.scanId ?? "" })
            bindings.append(attempts.map(\.mode.rawValue))
            bindings.append(attempts.map { ByteBuffer(bytes: $0.payloadHash) })
            bindings.append(attempts.map { $0.code?.eventId ?? "" })
            bindings.append(attempts.map { ByteBuffer(bytes: $0.code?.tokenHash ?? []) })
            bindings.append(attempts.map(\.at.millis))
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// Runs one batch; retries it whole after a deadlock or serialization failure (the database
    /// rolled it all back, so nothing was decided twice).
    private static func decide(_ attempts: [CheckinAttempt], client: PostgresClient, logger: Logger) async -> [Result<CheckinOutcome, any Error>] {
        let statement = DecideMany(attempts: attempts)
        var lastError: any Error = StoreError.unavailable("no attempt")
        for attempt in 1...3 {
            do {
                // Bounded: with PostgreSQL away the pool would wait for a connection indefinitely.
                let rows = try await PostgresStore.within(PostgresStore.operationLimit) {
                    var rows: [DecideMany.Row] = []
                    rows.reserveCapacity(statement.attempts.count)
                    for try await row in try await client.execute(statement, logger: logger) { rows.append(row) }
                    return rows
                }
                var outcomes = [Result<CheckinOutcome, any Error>](
                    repeating: .failure(StoreError.unavailable("no answer for this scan")),
                    count: attempts.count
                )
                for row in rows where attempts.indices.contains(Int(row.0)) {
                    outcomes[Int(row.0)] = .success(outcome(row))
                }
                return outcomes
            } catch let error as PSQLError where ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "") && attempt < 3 {
                logger.notice(
                    "Check-in batch retried",
                    metadata: ["db.sqlstate": "\(error.serverInfo?[.sqlState] ?? "")", "batch.size": "\(attempts.count)"]
                )
                lastError = error
            } catch let error as StoreError {
                lastError = error
                break
            } catch let error as PSQLError {
                let state = error.serverInfo?[.sqlState]
                // The server refused this batch's data, not the connection (say a value it cannot
                // store): that is one scan's fault. Decide each scan on its own, so only the one
                // that caused it fails and every other gate gets its real answer.
                if let state, Self.isDataError(state), attempts.count > 1 {
                    logger.warning(
                        "Check-in batch refused; deciding its scans one by one",
                        metadata: ["db.sqlstate": "\(state)", "batch.size": "\(attempts.count)"]
                    )
                    var outcomes: [Result<CheckinOutcome, any Error>] = []
                    for attempt in attempts { outcomes += await decide([attempt], client: client, logger: logger) }
                    return outcomes
                }
                if let state, Self.isDataError(state) {
                    return attempts.map { _ in .failure(StoreError.invalid("the database refused this scan's data (SQLSTATE \(state))")) }
                }
                lastError = StoreError.unavailable(state.map { "PostgreSQL error \($0)" } ?? "PostgreSQL connection: \(error.code)")
                break
            } catch {
                lastError = StoreError.unavailable("PostgreSQL: \(error)")
                break
            }
        }
        if let error = lastError as? PSQLError { lastError = StoreError.unavailable("PostgreSQL error \(error.serverInfo?[.sqlState] ?? "")") }
        return attempts.map { _ in .failure(lastError) }
    }

    /// SQLSTATE classes that blame the statement's data or logic rather than the server: data
    /// exceptions (22), integrity (23), invalid text representation and the like. Connection (08),
    /// resources (53), operator intervention (57) and transaction rollbacks (40) are not.
    static func isDataError(_ state: String) -> Bool {
        ["22", "23", "42", "P0", "XX"].contains(String(state.prefix(2))) && state != "42501"
    }

    private static func outcome(_ c: (Int32, String, String?, String?, Int64?, String?, String?, Int64?, String?, Bool, String?)) -> CheckinOutcome {
        switch c.1 {
        case "unauthorized": return .unauthorized
        case "wrong_gate": return .wrongGate(registered: c.10 ?? "")
        case "scan_reused": return .scanIdReused
        default:
            let ticket = c.3.map { TicketSummary(id: $0, number: Int(c.4 ?? 0), holderName: c.5, ticketType: c.6) }
            return .decided(
                CheckinDecision(
                    result: CheckinResult(rawValue: c.2 ?? "") ?? .invalid,
                    ticket: ticket,
                    firstUsedAt: c.7.map(Date.init(millis:)),
                    firstUsedGate: c.8,
                    replayed: c.9
                )
            )
        }
    }
}

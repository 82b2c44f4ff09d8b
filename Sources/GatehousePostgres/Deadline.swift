import GatehouseStorage

/// A deadline that holds even when the work under it does not listen to cancellation.
///
/// Why not a task group racing a sleep: a group waits for every child before it returns, and a
/// PostgresNIO query already written to a connection is not cancellable — it ends when the server
/// answers or the connection closes. One check-in batch stuck that way would hold every check-in
/// of the process (they share one batcher) past the 3 s promise, for as long as a restarting
/// server keeps that connection open. Here the caller is answered at the deadline (kept by
/// `DeadlineWatch`, to within its resolution); the work is cancelled and left to end on its own,
/// and what it returns late goes to `late` (to close a connection nobody will use).
enum Deadline {
    static func run<T: Sendable>(
        within limit: Duration,
        _ body: @escaping @Sendable () async throws -> T,
        late: @escaping @Sendable (T) async -> Void = { _ in }
    ) async throws -> T {
        let answer = OnceAnswer<T>()
        let work = Task {
            let result = await Result(catching: body)
            if !answer.give(result), case .success(let value) = result { await late(value) }
        }
        return try await answer.value(
            by: .now + limit,
            expired: { StoreError.unavailable("the database did not answer within \(limit)") },
            abandoned: { work.cancel() }
        )
    }
}

extension Result where Failure == any Error {
    fileprivate init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

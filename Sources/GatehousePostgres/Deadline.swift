import GatehouseStorage
import Synchronization

/// A deadline that holds even when the work under it does not listen to cancellation.
///
/// Why not a task group racing a sleep: a group waits for every child before it returns, and a
/// PostgresNIO query already written to a connection is not cancellable — it ends when the server
/// answers or the connection closes. One check-in batch stuck that way would hold every check-in
/// of the process (they share one batcher) past the 3 s promise, for as long as a restarting
/// server keeps that connection open. Here the caller is answered at the deadline; the work is
/// cancelled and left to end on its own, and what it returns late goes to `late` (to close a
/// connection nobody will use).
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
        let timer = Task {
            // Cancelled when the work answers first: no sleeping timer outlives its request.
            try? await Task.sleep(for: limit)
            if !Task.isCancelled, answer.give(.failure(StoreError.unavailable("the database did not answer within \(limit)"))) {
                work.cancel()
            }
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await answer.value()
        } onCancel: {
            if answer.give(.failure(CancellationError())) { work.cancel() }
        }
    }
}

/// The first of several answers, handed to one waiter; the rest are refused (`give` says whether
/// its answer was the one taken).
private final class OnceAnswer<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, any Error>?)
        case answered(Result<T, any Error>)
        case taken
    }
    private let state = Mutex<State>(.waiting(nil))

    func give(_ result: Result<T, any Error>) -> Bool {
        let waiter: CheckedContinuation<T, any Error>?? = state.withLock { state in
            guard case .waiting(let waiter) = state else { return nil }
            if let waiter {
                state = .taken
                return .some(waiter)
            }
            state = .answered(result)
            return .some(nil)
        }
        guard let waiter else { return false }
        waiter?.resume(with: result)
        return true
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = state.withLock { state in
                switch state {
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                case .answered(let result):
                    state = .taken
                    return result
                case .taken:
                    return .failure(CancellationError())
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

extension Result where Failure == any Error {
    fileprivate init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

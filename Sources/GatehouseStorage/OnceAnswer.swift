import Synchronization

/// The first of several answers, handed to one waiter; the rest are refused (`give` says whether
/// its answer was the one taken). A store's operation races its work, its time limit and its
/// caller's cancellation through one of these: whichever answers first is the answer, at once,
/// whatever the others are still doing.
package final class OnceAnswer<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, any Error>?)
        case answered(Result<T, any Error>)
        case taken
    }
    private let state = Mutex<State>(.waiting(nil))

    package init() {}

    package func give(_ result: Result<T, any Error>) -> Bool {
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

    package func value() async throws -> T {
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

extension OnceAnswer {
    /// The answer, raced against a time limit and the caller's cancellation: at `deadline` (kept
    /// by `watch`) the answer is the error `expired` makes, on cancellation `CancellationError`,
    /// whichever of the three comes first. `abandoned` runs when the limit or the cancellation
    /// won, to stop work that nobody waits for now; it must be quick and must not block.
    package func value(
        by deadline: ContinuousClock.Instant,
        watch: DeadlineWatch = .shared,
        expired: @escaping @Sendable () -> any Error,
        abandoned: @escaping @Sendable () -> Void = {}
    ) async throws -> T {
        let limit = watch.watch(until: deadline) {
            if self.give(.failure(expired())) { abandoned() }
        }
        defer { watch.end(limit) }
        return try await withTaskCancellationHandler {
            try await value()
        } onCancel: {
            if give(.failure(CancellationError())) { abandoned() }
        }
    }
}

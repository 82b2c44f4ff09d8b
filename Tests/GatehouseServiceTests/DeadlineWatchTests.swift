import GatehouseStorage
import Synchronization
import Testing

/// The one sleeper that keeps every store operation's time limit: a limit ends its operation
/// after its deadline, once, and never after the operation said it was done.
@Suite struct DeadlineWatchTests {
    /// When each watched limit expired, by name.
    final class Expiries: Sendable {
        private let seen = Mutex<[String: [ContinuousClock.Instant]]>([:])
        private let stream = AsyncStream.makeStream(of: String.self)

        func expire(_ name: String) -> @Sendable () -> Void {
            { [self] in
                seen.withLock { $0[name, default: []].append(.now) }
                stream.continuation.yield(name)
            }
        }

        func times(_ name: String) -> [ContinuousClock.Instant] { seen.withLock { $0[name] ?? [] } }

        /// Waits until `name` has expired (or 10 s have passed, so a lost expiry fails the test
        /// instead of hanging it).
        func awaitExpiry(of name: String) async {
            let giveUp = Task { [stream] in
                guard (try? await Task.sleep(for: .seconds(10))) != nil else { return }
                stream.continuation.finish()
            }
            defer { giveUp.cancel() }
            for await expired in stream.stream where expired == name { return }
        }
    }

    @Test func a_limit_expires_after_its_deadline_once_and_then_the_watch_rests() async throws {
        let watch = DeadlineWatch(resolution: .milliseconds(10))
        let expiries = Expiries()
        let deadline = ContinuousClock.now + .milliseconds(80)
        _ = watch.watch(until: deadline, expiries.expire("first"))
        #expect(watch.watched == 1)
        await expiries.awaitExpiry(of: "first")
        #expect(try #require(expiries.times("first").first) >= deadline, "never before its deadline")
        #expect(watch.watched == 0)
        // Idle now (its sweep ended); a new limit starts a new sweep and is kept as well.
        try await Task.sleep(for: .milliseconds(50))
        _ = watch.watch(until: .now + .milliseconds(20), expiries.expire("second"))
        await expiries.awaitExpiry(of: "second")
        #expect(expiries.times("first").count == 1, "expired once")
        #expect(expiries.times("second").count == 1)
    }

    @Test func an_ended_limit_never_expires_and_others_are_kept_meanwhile() async throws {
        let watch = DeadlineWatch(resolution: .milliseconds(10))
        let expiries = Expiries()
        let answered = watch.watch(until: .now + .milliseconds(30), expiries.expire("answered"))
        let earlier = watch.watch(until: .now + .milliseconds(40), expiries.expire("also answered"))
        _ = watch.watch(until: .now + .milliseconds(120), expiries.expire("silent"))
        watch.end(answered)
        watch.end(earlier)
        #expect(watch.watched == 1)
        await expiries.awaitExpiry(of: "silent")
        #expect(expiries.times("answered").isEmpty && expiries.times("also answered").isEmpty)
        #expect(expiries.times("silent").count == 1)
        // Ending a limit that already expired is harmless.
        watch.end(answered)
        #expect(watch.watched == 0)
    }

    /// How often each of many limits expired.
    final class Counts: Sendable {
        private let counts: Mutex<[Int]>
        init(_ total: Int) { counts = Mutex([Int](repeating: 0, count: total)) }
        func expired(_ index: Int) { counts.withLock { $0[index] += 1 } }
        var all: [Int] { counts.withLock { $0 } }
    }

    @Test func many_limits_at_once_each_expire_at_most_once_and_every_unanswered_one_does() async throws {
        let watch = DeadlineWatch(resolution: .milliseconds(5))
        let total = 2_000
        let counts = Counts(total)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                group.addTask {
                    let limit = watch.watch(until: .now + .milliseconds(Int64(index % 50))) { counts.expired(index) }
                    // Every other operation answers; the rest run past their limit.
                    if index.isMultiple(of: 2) { watch.end(limit) }
                }
            }
        }
        // A sweep takes its due limits out of the table before it calls them, so an empty table
        // is not yet every call made: wait for the calls themselves.
        let unanswered = (0..<total).filter { !$0.isMultiple(of: 2) }
        let giveUp = ContinuousClock.now + .seconds(10)
        while .now < giveUp {
            let expired = counts.all
            if watch.watched == 0 && unanswered.allSatisfy({ expired[$0] > 0 }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(watch.watched == 0)
        let expired = counts.all
        // An answered one may have expired first (a deadline of 0 ms), never twice.
        #expect(expired.allSatisfy { $0 <= 1 })
        #expect(unanswered.allSatisfy { expired[$0] == 1 })
    }

    /// How often an operation's work was abandoned.
    final class Abandoned: Sendable {
        private let count = Mutex(0)
        func abandon() { count.withLock { $0 += 1 } }
        var times: Int { count.withLock { $0 } }
    }

    struct Silent: Error {}

    @Test func an_answer_in_time_is_the_value_and_its_limit_ends() async throws {
        let watch = DeadlineWatch(resolution: .milliseconds(5))
        let answer = OnceAnswer<Int>()
        let abandoned = Abandoned()
        Task { _ = answer.give(.success(7)) }
        let value = try await answer.value(
            by: .now + .seconds(30),
            watch: watch,
            expired: { Silent() },
            abandoned: { abandoned.abandon() }
        )
        #expect(value == 7)
        #expect(watch.watched == 0, "its limit is no longer kept")
        #expect(abandoned.times == 0)
    }

    @Test func no_answer_by_the_limit_is_the_expired_error_and_the_work_is_abandoned_once() async throws {
        let watch = DeadlineWatch(resolution: .milliseconds(5))
        let answer = OnceAnswer<Int>()
        let abandoned = Abandoned()
        let deadline = ContinuousClock.now + .milliseconds(60)
        await #expect(throws: Silent.self) {
            try await answer.value(by: deadline, watch: watch, expired: { Silent() }, abandoned: { abandoned.abandon() })
        }
        #expect(ContinuousClock.now >= deadline, "never before its deadline")
        #expect(abandoned.times == 1)
        #expect(!answer.give(.success(7)), "the work's late answer is refused")
        #expect(abandoned.times == 1)
    }

    @Test func a_cancelled_caller_is_answered_at_once_and_the_work_is_abandoned() async throws {
        let watch = DeadlineWatch(resolution: .milliseconds(5))
        let answer = OnceAnswer<Int>()
        let abandoned = Abandoned()
        let waiting = Task {
            try await answer.value(by: .now + .seconds(30), watch: watch, expired: { Silent() }, abandoned: { abandoned.abandon() })
        }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(abandoned.times == 1)
        #expect(watch.watched == 0, "its limit is no longer kept")
    }
}

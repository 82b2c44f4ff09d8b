import GatehouseStorage
import Synchronization
import Testing

@testable import GatehousePostgres

/// The database deadline answers on time even when the work under it ignores cancellation, as a
/// PostgresNIO query already on the wire does.
@Suite struct DeadlineTests {
    /// Work that ends only when the test says so: it does not heed cancellation.
    final class StuckWork: Sendable {
        private let waiter = Mutex<CheckedContinuation<Int, Never>?>(nil)
        private let released = Mutex<Int?>(nil)

        func run() async -> Int {
            await withCheckedContinuation { continuation in
                let value: Int? = released.withLock { released in
                    if released == nil { waiter.withLock { $0 = continuation } }
                    return released
                }
                if let value { continuation.resume(returning: value) }
            }
        }

        var isReleased: Bool { released.withLock { $0 != nil } }

        /// Ends the work with `value`; a second release does nothing.
        func release(_ value: Int) {
            let continuation: CheckedContinuation<Int, Never>? = released.withLock { released in
                guard released == nil else { return nil }
                released = value
                return waiter.withLock { waiter in
                    defer { waiter = nil }
                    return waiter
                }
            }
            continuation?.resume(returning: value)
        }
    }

    @Test func work_that_ignores_cancellation_is_answered_unavailable_and_its_late_value_handed_on() async throws {
        let work = StuckWork()
        let lateValues = AsyncStream.makeStream(of: Int.self)
        // A deadline that waited for the work would end here, late, rather than hang the run.
        let safetyNet = Task {
            try? await Task.sleep(for: .seconds(5))
            work.release(7)
        }
        defer { safetyNet.cancel() }
        await #expect {
            _ = try await PostgresStore.within(.milliseconds(50), { await work.run() }, late: { lateValues.continuation.yield($0) })
        } throws: { error in
            guard case StoreError.unavailable = error else { return false }
            return true
        }
        #expect(!work.isReleased, "answered while the work was still stuck, not when it ended")
        work.release(7)
        // Given up after a while, so a `late` never called fails the test instead of hanging it.
        Task {
            try? await Task.sleep(for: .seconds(10))
            lateValues.continuation.finish()
        }
        var late = lateValues.stream.makeAsyncIterator()
        #expect(await late.next() == 7, "the value that came after the deadline went to `late`")
    }

    @Test func work_that_answers_in_time_gives_its_value() async throws {
        let value = try await PostgresStore.within(.seconds(30)) { 42 }
        #expect(value == 42)
        await #expect(throws: StoreError.self) {
            _ = try await PostgresStore.within(.seconds(30)) { () async throws -> Int in throw StoreError.invalid("refused") }
        }
    }

    @Test func a_cancelled_caller_is_answered_at_once_though_the_work_is_stuck() async throws {
        let work = StuckWork()
        let safetyNet = Task {
            try? await Task.sleep(for: .seconds(5))
            work.release(1)
        }
        defer { safetyNet.cancel() }
        let caller = Task { try await PostgresStore.within(.seconds(600)) { await work.run() } }
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
        #expect(!work.isReleased, "answered while the work was still stuck, not when it ended")
        work.release(1)
    }
}

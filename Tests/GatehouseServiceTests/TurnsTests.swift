import Foundation
import Synchronization
import Testing

@testable import GatehouseStorage

/// `Turns`: never more inside than its limit, every caller served, and a
/// waiter whose task is cancelled leaves without running.
@Suite struct TurnsTests {
    @Test func at_most_the_limit_inside_and_every_caller_runs() async throws {
        let turns = Turns(limit: 2)
        let inside = Shared((now: 0, most: 0, order: [Int]()))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 0..<6 {
                group.addTask {
                    try await turns.run {
                        inside.value.withLock {
                            $0.now += 1
                            $0.most = max($0.most, $0.now)
                            $0.order.append(number)
                        }
                        try await Task.sleep(for: .milliseconds(20))
                        inside.value.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seen = inside.value.withLock { $0 }
        #expect(seen.most == 2 && seen.now == 0)
        #expect(seen.order.sorted() == Array(0..<6), "every caller ran once")
    }

    @Test func a_cancelled_waiter_leaves_the_line_and_never_runs() async throws {
        let turns = Turns(limit: 1)
        let (held, holding) = AsyncStream<Void>.makeStream()
        let (letGo, free) = AsyncStream<Void>.makeStream()
        let first = Task {
            try await turns.run {
                holding.yield()
                for await _ in letGo {}
            }
        }
        for await _ in held { break }
        let ran = Shared(false)
        let waiter = Task { try await turns.run { ran.value.withLock { $0 = true } } }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        free.finish()
        try await first.value
        #expect(!ran.value.withLock { $0 })
        // The turn it did not take is still there for the next caller.
        #expect(try await turns.run { 7 } == 7)
    }
}

/// A `Mutex` that tasks can share.
private final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}

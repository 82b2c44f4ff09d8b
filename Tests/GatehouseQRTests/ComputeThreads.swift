import Foundation
import Synchronization
import Testing

/// Threads of their own for the decoder's tests, which compute for seconds to minutes without
/// a suspension point. On Swift's cooperative threads (two on a 2-core machine) they held every
/// thread the other tests' tasks resume on: in a parallel run beside two CPU hogs, no other test
/// took a step for 200 s, and then the waiting database tests all failed at once. On these
/// threads the kernel shares the cores between the decoding and everything else.
final class ComputeThreads: TaskExecutor, Sendable {
    static let shared = ComputeThreads(count: ProcessInfo.processInfo.activeProcessorCount)

    private let jobs = Mutex<[UnownedJob]>([])
    private let wakeUp = NSCondition()

    private init(count: Int) {
        for index in 0..<max(1, count) {
            Thread { [self] in
                Thread.current.name = "compute-\(index)"
                work()
            }.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        wakeUp.lock()
        jobs.withLock { $0.append(job) }
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func work() {
        while true {
            wakeUp.lock()
            var next = take()
            while next == nil {
                wakeUp.wait()
                next = take()
            }
            wakeUp.unlock()
            next?.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    private func take() -> UnownedJob? {
        jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}

/// `@Suite(.computeBound)`: every test of the suite runs on `ComputeThreads`.
struct ComputeBound: SuiteTrait, TestTrait, TestScoping {
    /// Without it a suite's scoping trait is not asked about the suite's tests at all.
    var isRecursive: Bool { true }

    /// Each test case (a test without arguments is one case): the body itself, never the suite.
    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(ComputeThreads.shared) { try await function() }
    }
}

extension Trait where Self == ComputeBound {
    static var computeBound: Self { ComputeBound() }
}

import Synchronization

/// The time limits of many operations in flight, kept by one sleeper.
///
/// Why not a sleeping task per operation: every database round of a busy service has a limit, and
/// a `Task.sleep` per round cost a task, a timer registered with Dispatch's manager thread (a
/// wake-up of that thread), and — since a cancelled sleep leaves its timer armed — a second
/// wake-up when the timer fires seconds after its round ended. Here a round's limit is an entry
/// in a table (added and removed under a lock), and one task looks through the table every
/// `resolution` while it holds anything: a limit is kept to within `resolution` (and behind the
/// work already waiting to run, see `sweep`), and an idle service sleeps no timer at all.
package final class DeadlineWatch: Sendable {
    /// The one every store shares: its limits are seconds, so a twentieth of one is close enough.
    package static let shared = DeadlineWatch(resolution: .milliseconds(50))

    /// One watched limit, to be ended by `end` once its operation has answered.
    package struct Watch: Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        /// Whether the sweeping task is running (it ends when the table is empty).
        var sweeping = false
    }

    private let state = Mutex(State())
    private let resolution: Duration

    package init(resolution: Duration) {
        precondition(resolution > .zero, "a deadline watch needs a positive resolution")
        self.resolution = resolution
    }

    /// Calls `expire` once, soon after `deadline` (`resolution` late at most, in a process not
    /// short of CPU), unless `end` came first. `expire` runs on the sweeping task: it must be
    /// quick and must not block.
    package func watch(until deadline: ContinuousClock.Instant, _ expire: @escaping @Sendable () -> Void) -> Watch {
        let (id, startSweeping) = state.withLock { state -> (UInt64, Bool) in
            let id = state.nextID
            state.nextID &+= 1
            state.entries[id] = Entry(deadline: deadline, expire: expire)
            let start = !state.sweeping
            state.sweeping = true
            return (id, start)
        }
        if startSweeping { Task.detached { await self.sweep() } }
        return Watch(id: id)
    }

    /// The operation answered: its limit no longer matters.
    package func end(_ watch: Watch) {
        _ = state.withLock { $0.entries.removeValue(forKey: watch.id) }
    }

    /// How many limits are being watched now.
    package var watched: Int { state.withLock { $0.entries.count } }

    private func sweep() async {
        while true {
            // Not cancellable: this task is nobody's child, and it ends by itself when idle.
            try? await Task.sleep(for: resolution)
            // Judged behind whatever waits to run: in a process short of CPU for a while, the
            // answers that came in time wait in that queue too, and a sweep that ran first would
            // call them late (seen in the test suite: seconds-long stalls failed every database
            // round that was waiting, whose answers had come).
            await Task.yield()
            let now = ContinuousClock.now
            let (due, idle) = state.withLock { state -> ([Entry], Bool) in
                let due = state.entries.filter { $0.value.deadline <= now }
                for id in due.keys { state.entries.removeValue(forKey: id) }
                // Ended in the same lock that found the table empty: a `watch` after this starts
                // a new sweep.
                if state.entries.isEmpty { state.sweeping = false }
                return (Array(due.values), !state.sweeping)
            }
            for entry in due { entry.expire() }
            if idle { return }
        }
    }
}

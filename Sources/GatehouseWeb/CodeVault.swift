import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Synchronization

/// Codes the organizer has just been given, held in memory for a short while so the page that
/// shows them can be a GET (post/redirect/get: reload and back show the same codes, and never
/// issue new ones). Gatehouse stores only hashes: these copies never reach the disk or a log, and
/// are forgotten after `lifetime` or when the process ends — then re-issuing shows a code again.
package final class CodeVault: Sendable {
    package struct Batch: Sendable {
        var eventId: String
        var tickets: [IssuedTicket]
        var createdAt: Date
    }

    package struct Pairing: Sendable {
        var eventId: String
        var gateId: String
        var name: String?
        var code: String
        var expiresAt: Date
        var createdAt: Date
    }

    package static let lifetime: TimeInterval = 30 * 60
    /// Codes held at most; the oldest batches go first beyond it.
    package static let maximumCodes = 50_000

    private struct State {
        var batches: [String: Batch] = [:]
        var pairings: [String: Pairing] = [:]
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    package init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    /// A handle no one can guess (128 bits), for the address of the page that shows them.
    package static func newHandle() -> String { Base32.encode((0..<16).map { _ in UInt8.random(in: 0...255) }).lowercased() }

    package func keep(_ tickets: [IssuedTicket], eventId: String) -> String {
        let handle = Self.newHandle()
        withCurrent { state, time in
            state.batches[handle] = Batch(eventId: eventId, tickets: tickets, createdAt: time)
            var total = state.batches.values.reduce(0) { $0 + $1.tickets.count }
            for (old, batch) in state.batches.sorted(by: { $0.value.createdAt < $1.value.createdAt }) where total > Self.maximumCodes && old != handle
            {
                state.batches[old] = nil
                total -= batch.tickets.count
            }
        }
        return handle
    }

    package func batch(_ handle: String, eventId: String) -> Batch? {
        withCurrent { state, _ in state.batches[handle].flatMap { $0.eventId == eventId ? $0 : nil } }
    }

    package func keep(_ pairing: Pairing) -> String {
        let handle = Self.newHandle()
        withCurrent { state, _ in state.pairings[handle] = pairing }
        return handle
    }

    package func pairing(_ handle: String, eventId: String) -> Pairing? {
        withCurrent { state, _ in state.pairings[handle].flatMap { $0.eventId == eventId ? $0 : nil } }
    }

    /// Runs `body` on the state with what has expired already gone.
    private func withCurrent<T>(_ body: (inout State, Date) -> T) -> T {
        let time = now()
        return state.withLock { state in
            Self.forgetOld(&state, at: time)
            return body(&state, time)
        }
    }

    private static func forgetOld(_ state: inout State, at time: Date) {
        state.batches = state.batches.filter { time.timeIntervalSince($0.value.createdAt) < lifetime }
        state.pairings = state.pairings.filter { time.timeIntervalSince($0.value.createdAt) < lifetime && $0.value.expiresAt > time }
    }
}

/// CSV imports running in the background: the page polls a job's progress while its tickets are
/// issued in batches, each one transaction, and the codes land in the vault when it is done.
package final class ImportJobs: Sendable {
    package struct Progress: Sendable, Equatable {
        var eventId: String
        var total: Int
        var issued: Int = 0
        /// The vault handle of the finished batch.
        var batch: String?
        var failure: String?
        var startedAt: Date
        /// Whether each holder is mailed their ticket; how many mails were queued, and the
        /// numbers of tickets whose holder has no address mail can go to.
        var mail = false
        var mailed = 0
        var notMailed: [Int] = []
        var isDone: Bool { batch != nil || failure != nil }
    }

    package static let chunk = 500
    private let jobs = Mutex<[String: Progress]>([:])

    package func progress(_ handle: String, eventId: String) -> Progress? {
        jobs.withLock { $0[handle].flatMap { $0.eventId == eventId ? $0 : nil } }
    }

    /// Starts issuing `requests` and returns the job's handle at once. The job is bounded (its
    /// rows were checked before it started); a shutdown in the middle leaves the tickets issued
    /// so far in the database, whose codes a re-issue shows again.
    /// With `mail`, each chunk's tickets are mailed to their holders as the chunk is issued.
    package func start(_ requests: [Gatehouse.TicketRequest], eventId: String, mail: Bool = false, gatehouse: Gatehouse, vault: CodeVault) -> String {
        let handle = CodeVault.newHandle()
        jobs.withLock { jobs in
            jobs = jobs.filter { Date().timeIntervalSince($0.value.startedAt) < CodeVault.lifetime }
            jobs[handle] = Progress(eventId: eventId, total: requests.count, startedAt: Date(), mail: mail)
        }
        Task { [self] in
            var issued: [IssuedTicket] = []
            issued.reserveCapacity(requests.count)
            do {
                var start = 0
                while start < requests.count {
                    let end = min(start + Self.chunk, requests.count)
                    let chunk = try await gatehouse.issueTickets(eventId: eventId, Array(requests[start..<end]))
                    issued += chunk
                    let count = issued.count
                    jobs.withLock { $0[handle]?.issued = count }
                    if mail {
                        let skipped = try await gatehouse.mailIssued(chunk)
                        jobs.withLock {
                            $0[handle]?.mailed += chunk.count - skipped.count
                            $0[handle]?.notMailed += skipped.map(\.number)
                        }
                    }
                    start = end
                }
                let batch = vault.keep(issued, eventId: eventId)
                jobs.withLock { $0[handle]?.batch = batch }
            } catch {
                let done = issued.count
                let kept = done > 0 ? vault.keep(issued, eventId: eventId) : nil
                jobs.withLock {
                    $0[handle]?.failure = "stopped after \(done) of \(requests.count) tickets: \(error)"
                    $0[handle]?.batch = kept
                }
            }
        }
        return handle
    }
}

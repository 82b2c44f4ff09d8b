import Foundation
import GatehouseCore
import InMemoryLogging
import Logging
import Synchronization

@testable import KioskCore

/// One change on a line, at virtual time.
struct Change: Equatable, CustomStringConvertible {
    var ms: Int64
    var line: String
    var value: Bool
    var description: String { "\(ms)ms \(line)=\(value ? 1 : 0)" }
}

/// The fake at the line-request layer: records (time, line, value) of every change.
final class Timeline: Sendable {
    private let changes = Mutex<[Change]>([])
    let timekeeper: VirtualTimekeeper
    init(_ timekeeper: VirtualTimekeeper) { self.timekeeper = timekeeper }
    func record(_ line: String, _ value: Bool) {
        let ms = timekeeper.now().wholeMilliseconds
        changes.withLock { $0.append(Change(ms: ms, line: line, value: value)) }
    }
    var all: [Change] { changes.withLock { $0 } }
    func on(_ line: String) -> [Change] { all.filter { $0.line == line } }
    /// (start, length) of each time `line` was active.
    func pulses(_ line: String) -> [(start: Int64, length: Int64)] {
        var result: [(Int64, Int64)] = []
        var since: Int64?
        for change in on(line) {
            if change.value, since == nil { since = change.ms }
            if !change.value, let start = since {
                result.append((start, change.ms - start))
                since = nil
            }
        }
        return result
    }
    func clear() { changes.withLock { $0.removeAll() } }
}

final class FakeLine: OutputLine {
    let name: String
    let timeline: Timeline
    private let level = Mutex<Bool?>(nil)
    /// errno to fail `set` with, like a chip that went away (ENODEV).
    let failure = Mutex<Int32?>(nil)

    init(_ name: String, _ timeline: Timeline) {
        self.name = name
        self.timeline = timeline
    }

    func set(_ active: Bool) throws {
        if let code = failure.withLock({ $0 }) { throw NSError(domain: NSPOSIXErrorDomain, code: Int(code)) }
        let changed = level.withLock { current -> Bool in
            defer { current = active }
            return current != active
        }
        if changed { timeline.record(name, active) }
    }
    var value: Bool? { level.withLock { $0 } }
}

func makeOutputs(_ timekeeper: VirtualTimekeeper) -> (LaneOutputs, Timeline) {
    let timeline = Timeline(timekeeper)
    return (LaneOutputs(green: FakeLine("green", timeline), red: FakeLine("red", timeline), relay: FakeLine("relay", timeline)), timeline)
}

/// A check-in client whose answers the test scripts, which takes virtual time to answer.
final class ScriptedClient: CheckinClient {
    let calls = Mutex<[(qrData: String, scanId: String)]>([])
    let directions = Mutex<[ScanDirection]>([])
    let answer: @Sendable (String) -> CheckinReply
    let timekeeper: VirtualTimekeeper
    let latency: Duration

    init(timekeeper: VirtualTimekeeper, latency: Duration = .milliseconds(12), answer: @escaping @Sendable (String) -> CheckinReply) {
        self.timekeeper = timekeeper
        self.latency = latency
        self.answer = answer
    }

    func checkin(qrData: String, scanId: String, direction: ScanDirection) async -> CheckinReply {
        calls.withLock { $0.append((qrData, scanId)) }
        directions.withLock { $0.append(direction) }
        timekeeper.advance(latency)
        return answer(qrData)
    }

    /// Not counted as a check-in: answers as the script would for a code that is not a ticket.
    func probe() async -> CheckinReply {
        answer("GATE-KIOSK-SELFTEST")
    }
}

/// Captures log entries in memory (tests never bootstrap logging globally), through swift-log's
/// own in-memory handler.
final class LogRecorder: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let handler: InMemoryLogHandler = {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        return handler
    }()
    var all: [Entry] {
        handler.entries.map { Entry(level: $0.level, message: $0.message.description, metadata: $0.metadata.mapValues(\.description)) }
    }

    var logger: Logger {
        let handler = self.handler
        return Logger(label: "test") { _ in handler }
    }
}

func ticketCode() -> String { TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text }

func answer(_ result: CheckinResult, number: Int = 7) -> CheckinReply {
    .answered(CheckinAnswer(result: result, message: "test", ticket: TicketSummary(id: "T1", number: number, holderName: "Ada", ticketType: nil)))
}

import Foundation
import GatehouseTestSupport
import Testing

/// A barrier for threads: everyone waits until the last one arrives, then all go at once.
final class StartLine: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    private var waiting = 0
    private var round = 0

    init(parties: Int) { self.parties = parties }

    func wait() {
        condition.lock()
        defer { condition.unlock() }
        let myRound = round
        waiting += 1
        if waiting == parties {
            waiting = 0
            round += 1
            condition.broadcast()
        } else {
            while round == myRound { condition.wait() }
        }
    }
}

@Suite struct RaceTests {
    /// 64 clients on 64 connections scan the same ticket at the same moment, for 100 tickets:
    /// exactly one `valid` each, the rest `already_used`, exactly one successful log row each.
    @Test func sixty_four_gates_one_ticket_one_admission() throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("race.sqlite"))
        let admin = try AdminClient(service)
        let event = try admin.createEvent("Race")
        let devices = try (0..<4).map { try admin.addDevice(event: event, gate: "gate-\($0)") }
        let tickets = try admin.issue(event: event, quantity: 100)
        let clients = 64

        let startLine = StartLine(parties: clients)
        let results = ResultsTable(tickets: tickets.count, clients: clients)
        let done = DispatchGroup()
        for client in 0..<clients {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                let connection: HTTPConnection
                do { connection = try service.connection() } catch {
                    results.fail("client \(client): \(error)")
                    // Still keeps its place at every start line, or the others would wait forever.
                    for _ in tickets { startLine.wait() }
                    return
                }
                let device = devices[client % devices.count]
                var failed = false
                for (index, ticket) in tickets.enumerated() {
                    startLine.wait()
                    guard !failed else { continue }
                    do {
                        let result = try connection.checkinResult(ticket.qrData, device: device, scanId: "c\(client)-t\(index)")
                        results.record(ticket: index, client: client, result)
                    } catch {
                        results.fail("client \(client), ticket \(index): \(error)")
                        failed = true
                    }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        done.wait()
        #expect(results.failures.isEmpty, "\(results.failures.prefix(3))")

        for index in tickets.indices {
            let row = results.row(index)
            #expect(row.filter { $0 == "valid" }.count == 1, "ticket \(index): \(row)")
            #expect(row.filter { $0 == "already_used" }.count == clients - 1, "ticket \(index)")
        }
        let log = try admin.call("GET", "/api/events/\(event)/checkins?limit=10000", expect: 200)["checkins"] as! [[String: Any]]
        #expect(log.count == tickets.count * clients)
        let successes = log.filter { $0["result"] as? String == "valid" }
        #expect(successes.count == tickets.count)
        #expect(Set(successes.compactMap { $0["ticketId"] as? String }) == Set(tickets.map(\.id)))
        #expect(try admin.call("GET", "/api/events/\(event)", expect: 200)["used"] as? Int == tickets.count)
    }
}

/// Results written by many threads.
final class ResultsTable: @unchecked Sendable {
    private let lock = NSLock()
    private var cells: [[String]]
    private(set) var failures: [String] = []

    init(tickets: Int, clients: Int) {
        cells = Array(repeating: Array(repeating: "", count: clients), count: tickets)
    }

    func record(ticket: Int, client: Int, _ result: String) { lock.withLock { cells[ticket][client] = result } }
    func fail(_ message: String) { lock.withLock { failures.append(message) } }
    func row(_ ticket: Int) -> [String] { lock.withLock { cells[ticket] } }
}

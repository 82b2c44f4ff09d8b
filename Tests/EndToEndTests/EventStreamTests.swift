import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// `GET /api/events/{id}/stream` against the real service: a client cut off again and again
/// (sometimes in the middle of a message) and reconnecting with `Last-Event-ID` gets every
/// check-in once; devices' states come at each connection; a stop ends open streams.
@Suite struct EventStreamTests {
    @Test func a_client_that_keeps_reconnecting_misses_no_check_in_and_gets_none_twice() async throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: ServiceProcess.freePort())
        let admin = try AdminClient(service)
        let event = try admin.createEvent("Stream")
        let tickets = try admin.issue(event: event, quantity: 800)
        let devices = [try admin.addDevice(event: event, gate: "north-1"), try admin.addDevice(event: event, gate: "south-1")]
        let path = "/api/events/\(event)/stream"

        // The first connection: the devices' states (never heard from: silent), no check-in yet.
        let opening = try await EventStreamReader.read(port: service.port, path: path, bearer: admin.token, lastEventID: nil, seconds: 1)
        #expect(Set(opening.filter { $0.event == "device" }.map { $0.json["gateId"] as? String }) == ["north-1", "south-1"])
        #expect(opening.filter { $0.event == "device" }.allSatisfy { $0.json["state"] as? String == "silent" && $0.id == nil })
        #expect(!opening.contains { $0.event == "checkin" })

        // 1,000 check-ins from two gates at once: 800 admissions and 200 codes shown twice.
        let scanning = Task.detached {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, device) in devices.enumerated() {
                    group.addTask {
                        try await onOwnThread {
                            let connection = try service.connection()
                            for number in stride(from: index, to: 1000, by: 2) {
                                _ = try connection.checkinResult(tickets[number % 800].qrData, device: device, scanId: "s\(number)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        var seen: [Int] = []
        var last: String?
        var connections = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while seen.count < 1000, ContinuousClock.now < deadline {
            // Cut after 0.05 to 0.4 s: often mid-message, sometimes before anything new.
            let messages = try await EventStreamReader.read(
                port: service.port,
                path: path,
                bearer: admin.token,
                lastEventID: last,
                seconds: Double.random(in: 0.05...0.4)
            )
            connections += 1
            for message in messages where message.event == "checkin" {
                seen.append(message.json["id"] as! Int)
                last = message.id
            }
        }
        try await scanning.value
        // Everything is in: one more connection brings nothing new.
        let after = try await EventStreamReader.read(port: service.port, path: path, bearer: admin.token, lastEventID: last, seconds: 1)
        #expect(!after.contains { $0.event == "checkin" })

        #expect(seen.count == 1000, "over \(connections) connections")
        #expect(Set(seen).count == seen.count, "none twice")
        let log = try admin.call("GET", "/api/events/\(event)/checkins?limit=2000", expect: 200)["checkins"] as! [[String: Any]]
        #expect(Set(log.map { $0["id"] as! Int }) == Set(seen), "every row of the log, in the order it was committed")
        #expect(seen == seen.sorted())
        #expect(connections > 3)
    }

    @Test func an_offline_conflict_comes_as_its_own_event_and_a_bad_id_is_refused() async throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: ServiceProcess.freePort())
        let admin = try AdminClient(service)
        let event = try admin.createEvent("Conflicts")
        let ticket = try admin.issue(event: event)[0]
        let north = try admin.addDevice(event: event, gate: "north-1")
        let south = try admin.addDevice(event: event, gate: "south-1")
        #expect(try admin.connection.checkinResult(ticket.qrData, device: north, scanId: "online-1") == "valid")
        // South admitted the same ticket offline, just after: its upload is a conflict.
        let upload: [String: Any] = [
            "deviceId": south.id, "gateId": "south-1",
            "checkins": [
                [
                    "scanId": "offline-1", "code": ticket.qrData, "ticketNumber": 1, "at": Int(Date().timeIntervalSince1970 * 1000),
                    "clock": "server+monotonic",
                ]
            ],
        ]
        let answer = try admin.connection.json("POST", "/api/offline-checkins", upload, bearer: south.token)
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.text.contains("conflict"), "\(answer.text)")

        let messages = try await EventStreamReader.read(
            port: service.port,
            path: "/api/events/\(event)/stream",
            bearer: admin.token,
            lastEventID: nil,
            seconds: 1
        )
        let conflicts = messages.filter { $0.event == "conflict" }
        #expect(conflicts.count == 1 && conflicts.first?.json["conflict"] as? String == "already_used", "\(messages)")
        #expect(conflicts.first?.json["offline"] as? Bool == true)

        var connection = try service.connection()
        let refused = try connection.request(
            "GET",
            "/api/events/\(event)/stream",
            headers: ["Authorization": "Bearer \(admin.token)", "Last-Event-ID": "not-an-id"]
        )
        #expect(refused.status == 400)
        connection = try service.connection()
        #expect(try connection.request("GET", "/api/events/\(event)/stream").status == 401)
        connection = try service.connection()
        #expect(try connection.request("GET", "/api/events/NOSUCHEV/stream", headers: ["Authorization": "Bearer \(admin.token)"]).status == 404)
    }

    @Test func a_stop_ends_an_open_stream() async throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: ServiceProcess.freePort())
        let admin = try AdminClient(service)
        let event = try admin.createEvent("Stop")
        let port = service.port
        let token = admin.token
        let reading = Task {
            try await EventStreamReader.read(port: port, path: "/api/events/\(event)/stream", bearer: token, lastEventID: nil, seconds: 60)
        }
        try await Task.sleep(for: .seconds(1))
        let started = ContinuousClock.now
        service.stop()
        _ = try await reading.value
        #expect(ContinuousClock.now - started < .seconds(20), "the stream ended with the service, not at curl's limit")
        #expect(service.process.terminationStatus == 0)
    }
}

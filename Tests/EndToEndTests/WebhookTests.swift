import Crypto
import Foundation
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Webhooks against the real service and a real HTTP receiver (Python's http.server on
/// loopback): every check-in reaches the receiver signed, and a receiver that is down for 30 s
/// gets every one once it is back, none twice.
@Suite struct WebhookTests {
    /// An HTTP receiver that writes each POST (signature header and body) as a JSON line to
    /// `log`, answering `status`.
    final class Receiver: @unchecked Sendable {
        let process = Process()
        let port: Int
        let log: String

        static let script = """
            import http.server, json, sys
            port, log, status = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    with open(log, "a") as out:
                        out.write(json.dumps({"signature": self.headers.get("Gatehouse-Signature"),
                                              "webhook": self.headers.get("Gatehouse-Webhook"),
                                              "body": body.decode()}) + "\\n")
                    self.send_response(status)
                    self.end_headers()
                def log_message(self, *args):
                    pass
            http.server.HTTPServer.allow_reuse_address = True
            http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
            """

        init(port: Int, log: String, status: Int = 204) throws {
            self.port = port
            self.log = log
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", Self.script, String(port), log, String(status)]
            try process.run()
            // Listening once a connection is accepted.
            for _ in 0..<100 {
                if (try? HTTPConnection(port: port)) != nil { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        /// SIGKILL: a child of the test process inherits its blocked SIGTERM.
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        deinit { if process.isRunning { stop() } }

        /// Every delivery received so far: its signature header, webhook header and body.
        static func deliveries(_ log: String) -> [[String: String]] {
            guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
            }
        }
    }

    /// The check-in events of `deliveries`, checking each delivery's signature with `secret`.
    static func checkins(_ deliveries: [[String: String]], secret: String) -> (ids: [Int], badSignatures: Int) {
        var ids: [Int] = []
        var bad = 0
        for delivery in deliveries {
            let body = delivery["body"] ?? ""
            let parts = Dictionary(
                (delivery["signature"] ?? "").split(separator: ",").compactMap { part -> (String, String)? in
                    let pair = part.split(separator: "=", maxSplits: 1)
                    return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
                },
                uniquingKeysWith: { a, _ in a }
            )
            let expected = HMAC<SHA256>.authenticationCode(
                for: Array("\(parts["t"] ?? "").\(body)".utf8),
                using: SymmetricKey(data: Array(secret.utf8))
            ).map { String(format: "%02x", $0) }.joined()
            if parts["v1"] != expected { bad += 1 }
            let payload = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            for event in payload?["events"] as? [[String: Any]] ?? [] where event["type"] as? String == "checkin" {
                ids.append((event["checkin"] as? [String: Any])?["id"] as? Int ?? -1)
            }
        }
        return (ids, bad)
    }

    @Test func a_receiver_down_for_30_seconds_gets_every_check_in_once_it_is_back() async throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: ServiceProcess.freePort())
        var admin = try AdminClient(service)
        let event = try admin.createEvent("Webhooks")
        let tickets = try admin.issue(event: event, quantity: 60)
        let device = try admin.addDevice(event: event, gate: "north-1")
        let port = ServiceProcess.freePort()
        let log = folder.file("received.jsonl")
        var receiver: Receiver? = try Receiver(port: port, log: log)
        let secret = "a-shared-secret-of-the-venue"
        let added = try admin.call(
            "POST",
            "/api/events/\(event)/webhooks",
            ["url": "http://127.0.0.1:\(port)/gatehouse", "secret": secret],
            expect: 201
        )
        let webhookId = try #require((added["webhook"] as? [String: Any])?["id"] as? String)
        #expect(added["secret"] as? String == secret)

        for number in 0..<20 { #expect(try admin.connection.checkinResult(tickets[number].qrData, device: device) == "valid") }
        try await waitUntil(limit: .seconds(15)) { Self.checkins(Receiver.deliveries(log), secret: secret).ids.count == 20 }
        let first = Receiver.deliveries(log)
        #expect(first.allSatisfy { $0["webhook"] == webhookId })
        #expect(first.contains { ($0["body"] ?? "").contains("\"type\":\"device\"") }, "the device's state came with them")

        // The receiver goes away for 30 s; the gate goes on.
        receiver?.stop()
        receiver = nil
        for number in 20..<60 { _ = try admin.connection.checkinResult(tickets[number].qrData, device: device) }
        _ = try admin.connection.checkinResult(tickets[0].qrData, device: device)  // a refusal is logged too
        try await Task.sleep(for: .seconds(30))
        // A new connection: the service closed the idle one meanwhile.
        admin = try AdminClient(service)
        let listed = try admin.call("GET", "/api/events/\(event)/webhooks", expect: 200)["webhooks"] as! [[String: Any]]
        #expect((listed.first?["failures"] as? Int ?? 0) > 0 && listed.first?["lastError"] != nil, "\(listed)")
        #expect(listed.first?["secret"] == nil, "the secret is shown once")

        receiver = try Receiver(port: port, log: log)
        // Back-off is at most 30 s between tries.
        try await waitUntil(limit: .seconds(45)) { Self.checkins(Receiver.deliveries(log), secret: secret).ids.count >= 61 }
        try await Task.sleep(for: .seconds(2))
        let (ids, bad) = Self.checkins(Receiver.deliveries(log), secret: secret)
        #expect(bad == 0, "every delivery is signed with the secret")
        #expect(ids.count == 61 && Set(ids).count == 61, "every check-in once: \(ids.count)")
        let logged = try admin.call("GET", "/api/events/\(event)/checkins?limit=100", expect: 200)["checkins"] as! [[String: Any]]
        #expect(Set(logged.map { $0["id"] as! Int }) == Set(ids))
        #expect(ids == ids.sorted(), "in the order they were logged")
        let settled = try admin.call("GET", "/api/events/\(event)/webhooks", expect: 200)["webhooks"] as! [[String: Any]]
        #expect(settled.first?["failures"] as? Int == 0 && settled.first?["deliveredAt"] != nil)

        // Deleted: nothing more is posted.
        _ = try admin.connection.request("DELETE", "/api/webhooks/\(webhookId)", headers: ["Authorization": "Bearer \(admin.token)"])
        let count = Receiver.deliveries(log).count
        _ = try admin.connection.checkinResult(tickets[1].qrData, device: device)
        try await Task.sleep(for: .seconds(2))
        #expect(Receiver.deliveries(log).count == count)
        receiver?.stop()
    }

    @Test func a_bad_url_or_secret_is_refused() async throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: ServiceProcess.freePort())
        let admin = try AdminClient(service)
        let event = try admin.createEvent("Refusals")
        for url in ["ftp://example.org/x", "https://user:pw@example.org/x", "not a url", "http:///nohost", String(repeating: "a", count: 3000)] {
            _ = try admin.call("POST", "/api/events/\(event)/webhooks", ["url": url], expect: 400)
        }
        _ = try admin.call("POST", "/api/events/\(event)/webhooks", ["url": "https://example.org/x", "secret": "short"], expect: 400)
        _ = try admin.call("POST", "/api/events/EZZZZZZZ/webhooks", ["url": "https://example.org/x"], expect: 404)
        let made = try admin.call("POST", "/api/events/\(event)/webhooks", ["url": "https://example.org/x"], expect: 201)
        #expect((made["secret"] as? String)?.hasPrefix("whsec_") == true)
        let response = try admin.connection.request("DELETE", "/api/webhooks/WNOSUCHHOOK", headers: ["Authorization": "Bearer \(admin.token)"])
        #expect(response.status == 404)
    }
}

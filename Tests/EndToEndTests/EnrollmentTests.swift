import Foundation
import GatehouseTestSupport
import Testing

/// `gatehouse device pair` / `POST /api/pairings` and `gate-kiosk enroll`, against the real service.
@Suite struct EnrollmentTests {
    func kiosk(_ arguments: [String]) throws -> CommandRun {
        try CommandRun.run(ServiceProcess.builtExecutable("gate-kiosk", override: "GATE_KIOSK_BIN"), arguments)
    }

    @Test func a_code_enrolls_one_kiosk_and_nothing_else() throws {
        let folder = try TemporaryDirectory()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"))
        let admin = try AdminClient(service)
        let event = try admin.createEvent()
        let server = "http://127.0.0.1:\(service.port)"
        let pairing = try admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "north-1", "name": "North 1"], expect: 201)
        let code = pairing["code"] as! String
        try "# technician's notes stay\nframe_rate = 20\n".write(toFile: folder.file("gate-kiosk.conf"), atomically: true, encoding: .utf8)
        // The technician keeps this config private: enrolling must not make it world-readable.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: folder.file("gate-kiosk.conf"))

        let good = try kiosk([
            "enroll", "--server", server, "--code", code, "--token-file", folder.file("device-token"), "--config", folder.file("gate-kiosk.conf"),
        ])
        #expect(good.status == 0, "\(good.errors)")
        #expect(good.output.contains("gate north-1"))
        let mode = try FileManager.default.attributesOfItem(atPath: folder.file("device-token"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let token = try String(contentsOfFile: folder.file("device-token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let config = try String(contentsOfFile: folder.file("gate-kiosk.conf"), encoding: .utf8)
        #expect(config.contains("# technician's notes stay") && config.contains("frame_rate = 20"))
        #expect(try FileManager.default.attributesOfItem(atPath: folder.file("gate-kiosk.conf"))[.posixPermissions] as? Int == 0o600)
        #expect(config.contains("server_url = \(server)") && config.contains("gate_id = north-1"))
        let deviceId = config.split(separator: "\n").first { $0.hasPrefix("device_id = ") }!.dropFirst("device_id = ".count)
        // The stored token checks tickets in.
        let ticket = try admin.issue(event: event)[0]
        let device = AdminClient.DeviceCredentials(id: String(deviceId), token: token, gate: "north-1")
        #expect(try service.connection().checkinResult(ticket.qrData, device: device) == "valid")

        // The same code again: refused, nothing written.
        let again = try kiosk([
            "enroll", "--server", server, "--code", code, "--token-file", folder.file("second-token"), "--config", folder.file("second.conf"),
        ])
        #expect(again.status == 1 && again.errors.contains("already used"))
        #expect(
            !FileManager.default.fileExists(atPath: folder.file("second-token"))
                && !FileManager.default.fileExists(atPath: folder.file("second.conf"))
        )
        // An enrolled kiosk is not re-enrolled by accident (the code would be spent for nothing).
        let other = try admin.call("POST", "/api/pairings", ["eventId": event, "gateId": "north-2"], expect: 201)["code"] as! String
        let guarded = try kiosk([
            "enroll", "--server", server, "--code", other, "--token-file", folder.file("device-token"), "--config", folder.file("gate-kiosk.conf"),
        ])
        #expect(guarded.status == 1 && guarded.errors.contains("--force"))
        #expect(try String(contentsOfFile: folder.file("device-token"), encoding: .utf8).contains(token))
        // A wrong code: refused with a clear message, nothing written.
        let wrong = try kiosk([
            "enroll", "--server", server, "--code", "ZZZZ-ZZZZ-ZZZZ", "--token-file", folder.file("third-token"), "--config",
            folder.file("third.conf"),
        ])
        #expect(wrong.status == 1 && wrong.errors.contains("unknown pairing code"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("third-token")))
        // No service: exit 69, nothing written.
        let away = try kiosk([
            "enroll", "--server", "http://127.0.0.1:\(ServiceProcess.freePort())", "--code", other, "--token-file", folder.file("fourth-token"),
            "--config", folder.file("fourth.conf"),
        ])
        #expect(away.status == 69 && away.errors.contains("cannot reach the service"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("fourth-token")))
        // A host name that only starts like a loopback address is another host: plain http to it
        // would carry the code and the token over the network. Refused before anything is sent.
        let lookalike = try kiosk([
            "enroll", "--server", "http://127.0.0.1.gate-login.example:\(service.port)", "--code", other, "--token-file",
            folder.file("fifth-token"), "--config", folder.file("fifth.conf"),
        ])
        #expect(lookalike.status == 1 && lookalike.errors.contains("plain http to another host"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("fifth-token")))
    }

    // (Expiry and the guess allowance of POST /api/enroll: EnrollmentRouteTests, in-process.)

    @Test func the_cli_makes_pairing_codes() throws {
        let folder = try TemporaryDirectory()
        let database = folder.file("cli.sqlite")
        func gatehouse(_ arguments: [String]) throws -> (Int32, String, String) {
            let run = try CommandRun.run(ServiceProcess.binary, arguments + ["--db", database])
            return (run.status, run.output, run.errors)
        }
        let created = try gatehouse(["event", "create", "--name", "Pairing"])
        let event = (try JSONSerialization.jsonObject(with: Data(created.1.utf8)) as! [String: Any])["id"] as! String
        let paired = try gatehouse(["device", "pair", "--event", event, "--gate", "east-3", "--ttl", "10m"])
        #expect(paired.0 == 0 && paired.1.contains("Pairing code for gate east-3: "))
        #expect(paired.1.range(of: #"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}"#, options: .regularExpression) != nil)
        #expect(try gatehouse(["device", "pair", "--event", event, "--gate", "g", "--ttl", "soon"]).2.contains("--ttl"))
        #expect(try gatehouse(["device", "pair", "--event", "ENOEVENT", "--gate", "g"]).2.contains("no event ENOEVENT"))
    }
}

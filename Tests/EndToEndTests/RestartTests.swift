import Foundation
import GatehouseTestSupport
import Testing

@Suite struct RestartTests {
    /// What the service said stays true after a graceful stop and after a crash (SIGKILL).
    @Test func answers_survive_restart_and_crash() throws {
        let folder = try TemporaryDirectory()
        let database = folder.file("r.sqlite")
        var service = try ServiceProcess(databasePath: database)
        var admin = try AdminClient(service)
        let event = try admin.createEvent()
        let device = try admin.addDevice(event: event)
        let tickets = try admin.issue(event: event, quantity: 3)
        #expect(try service.connection().checkinResult(tickets[0].qrData, device: device) == "valid")
        service.stop()

        service = try ServiceProcess(databasePath: database)
        admin = try AdminClient(service)
        #expect(try admin.call("GET", "/api/tickets/\(tickets[0].id)", expect: 200)["status"] as? String == "used")
        #expect(try service.connection().checkinResult(tickets[0].qrData, device: device) == "already_used")
        // A valid answer, then a crash right after: the admission was on disk before the answer.
        #expect(try service.connection().checkinResult(tickets[1].qrData, device: device) == "valid")
        service.kill()

        service = try ServiceProcess(databasePath: database)
        admin = try AdminClient(service)
        #expect(try service.connection().checkinResult(tickets[1].qrData, device: device) == "already_used")
        #expect(try service.connection().checkinResult(tickets[2].qrData, device: device) == "valid")
        let log = try admin.call("GET", "/api/events/\(event)/checkins", expect: 200)["checkins"] as! [[String: Any]]
        #expect(log.filter { $0["result"] as? String == "valid" }.count == 3)
        service.stop()
        #expect(service.process.terminationStatus == 0, "a graceful stop exits 0")
    }

    @Test func first_start_makes_a_private_admin_token() throws {
        let folder = try TemporaryDirectory()
        let process = Process()
        process.executableURL = ServiceProcess.binary
        process.arguments = ["serve", "--db", folder.file("data/g.sqlite"), "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "GATEHOUSE_ADMIN_TOKEN")
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let tokenFile = folder.file("data/admin-token")
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: tokenFile) { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 0.2)
        process.terminate()
        process.waitUntilExit()
        let attributes = try FileManager.default.attributesOfItem(atPath: tokenFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("gha_"))
        let printed = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(printed.contains(token), "printed once at first start")
    }

    /// The first owner's set-password link is a credential: where standard error is no terminal
    /// (systemd's journal, a log file) it is not written there, and the command line makes one.
    @Test func the_first_owners_link_stays_out_of_logs_and_the_command_line_makes_one() throws {
        let folder = try TemporaryDirectory()
        let database = folder.file("o.sqlite")
        let service = try ServiceProcess(databasePath: database)
        defer { service.stop() }
        var listed = ""
        for _ in 0..<200 where !listed.contains("owner@gatehouse.local") {
            listed = try CommandRun.run(ServiceProcess.binary, ["user", "list", "--db", database]).output
            if !listed.contains("owner@gatehouse.local") { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(listed.contains("owner@gatehouse.local\towner"), "the first owner is made: \(listed)")
        #expect(!service.log.contains("token="), "a set-password link on a standard error that is no terminal: \(service.log)")
        let made = try CommandRun.run(ServiceProcess.binary, ["user", "password", "--email", "owner@gatehouse.local", "--db", database])
        let link = try #require(made.output.range(of: #"token=[A-Z0-9]+"#, options: .regularExpression), "\(made.output)\(made.errors)")
        let token = made.output[link].dropFirst("token=".count)
        #expect(try service.connection().request("GET", "/signin/password?token=\(token)").status == 200)
    }
}

/// `Type=notify`: the service tells systemd when it listens and when it stops.
@Suite struct SystemdNotifyTests {
    @Test func ready_once_listening_and_stopping_on_sigterm() throws {
        let folder = try TemporaryDirectory()
        let sink = try DatagramSink()
        let service = try ServiceProcess(databasePath: folder.file("n.sqlite"), extraEnvironment: ["NOTIFY_SOCKET": sink.path])
        let ready = String(decoding: try #require(sink.receive(), "READY=1 arrives"), as: UTF8.self)
        #expect(ready.hasPrefix("READY=1\nSTATUS=Listening on 127.0.0.1:\(service.port)"), "\(ready)")
        #expect(try service.connection().request("GET", "/healthz").status == 200, "ready means it answers")
        service.stop()
        let stopping = String(decoding: try #require(sink.receive(), "STOPPING=1 arrives"), as: UTF8.self)
        #expect(stopping.hasPrefix("STOPPING=1"), "\(stopping)")
        #expect(service.process.terminationStatus == 0, "a graceful stop exits 0")
    }
}

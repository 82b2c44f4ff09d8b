// The V4L2 shim includes <sys/time.h> too; name it so `timeval` resolves the same in every build order.
import CV4L2
import Foundation
import GatehouseCore
import GatehouseTestSupport
import KioskCore
import KioskDryRun
import Logging
import SystemdNotify
import Testing

@testable import KioskEnrollment
@testable import KioskHardware
@testable import SystemdJournal

#if canImport(Glibc)
import Glibc
#endif

@Suite struct JournalTests {
    @Test func entries_carry_message_priority_and_our_fields() throws {
        let sink = try DatagramSink()
        let factory = KioskLogging.makeHandlerFactory(environment: ["GATE_KIOSK_JOURNAL_SOCKET": sink.path], level: .info)
        let logger = Logger(label: "gate-kiosk", factory: factory)
        logger.notice(
            "Check-in decided",
            metadata: ["gate.id": "north-1", "checkin.result": "valid", "ticket.number": "17", "checkin.latency_ms": "23"]
        )
        let fields = journalFields(try #require(sink.receive()))
        #expect(fields["MESSAGE"] == "Check-in decided")
        #expect(fields["PRIORITY"] == "5")
        #expect(fields["SYSLOG_IDENTIFIER"] == "gate-kiosk")
        #expect(
            fields["GATE_ID"] == "north-1" && fields["CHECKIN_RESULT"] == "valid" && fields["TICKET_NUMBER"] == "17"
                && fields["CHECKIN_LATENCY_MS"] == "23"
        )

        logger.error("Two\nlines", metadata: ["_private": "x", "9lives": "y"])
        let multi = journalFields(try #require(sink.receive()))
        #expect(multi["MESSAGE"] == "Two\nlines" && multi["PRIORITY"] == "3")
        #expect(multi["PRIVATE"] == "x" && multi["LIVES"] == "y", "field names made valid")
        logger.debug("not sent below the level")
        logger.info("sent")
        #expect(journalFields(try #require(sink.receive()))["MESSAGE"] == "sent")
    }
}

@Suite struct NotifierTests {
    @Test(arguments: [false, true])
    func messages_reach_the_notify_socket(abstract: Bool) throws {
        let sink = try DatagramSink(abstract: abstract)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": "4000000"])
        #expect(notifier.watchdogInterval == .seconds(2))
        notifier.ready(status: "Scanning\n(640×480)")
        #expect(String(decoding: try #require(sink.receive()), as: UTF8.self) == "READY=1\nSTATUS=Scanning (640×480)")
        notifier.watchdog()
        #expect(String(decoding: try #require(sink.receive()), as: UTF8.self) == "WATCHDOG=1")
    }

    @Test func without_systemd_it_does_nothing() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isActive && notifier.watchdogInterval == nil)
        notifier.ready(status: "x")
        #expect(
            SystemdNotifier(environment: ["WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"]).watchdogInterval == nil,
            "another process's watchdog"
        )
    }
}

@Suite struct GPIOTests {
    /// The real libgpiod path, exercised up to the kernel: no chip here, and the error says so.
    @Test func the_real_libgpiod_names_a_missing_chip() {
        // The shim names the API of the library it was built against: this machine's libgpiod.
        #expect(GpiodLineRequester.apiVersion == Self.installedLibgpiodMajorVersion())
        #expect {
            _ = try GpiodLineRequester().requestOutput(
                "relay",
                wiring: LineWiring(chip: "gatehouse-no-such-chip", offset: 22, activeLow: true),
                initial: false
            )
        } throws: { error in
            guard let error = error as? GPIOError else { return false }
            return error.operation == "request" && "\(error)".contains("relay (gatehouse-no-such-chip line 22)")
        }
    }

    /// libgpiod's major version as pkg-config reports it (the build finds the library the same way).
    static func installedLibgpiodMajorVersion() -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pkg-config", "--modversion", "libgpiod"]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: ".").first.flatMap { Int($0) }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/gpiochip0"), "no /dev/gpiochip0 on this machine"))
    func a_real_chip_rejects_a_line_it_does_not_have() {
        #expect(throws: GPIOError.self) {
            _ = try GpiodLineRequester().requestOutput("green", wiring: LineWiring(chip: "gpiochip0", offset: 1023, activeLow: false), initial: false)
        }
    }

    /// The fake at the line-request layer (the dry-run recorder): requests start safe and only
    /// changes are recorded.
    @Test func recorded_lines_start_safe_and_log_changes() throws {
        let folder = NSTemporaryDirectory() + "/gpio-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let timeline = try GPIOTimeline(logPath: folder + "/gpio.log", timekeeper: SystemTimekeeper(), printToTerminal: false)
        let outputs = try LaneOutputs.request(
            using: RecordedLineRequester(timeline: timeline),
            green: .init(chip: "c", offset: 1, activeLow: false),
            red: .init(chip: "c", offset: 2, activeLow: false),
            relay: .init(chip: "c", offset: 3, activeLow: true)
        )
        try outputs.apply(OutputState(green: true, relay: true))
        try outputs.apply(OutputState(green: true, relay: true))
        try outputs.apply(.safe)
        let lines = try String(contentsOfFile: folder + "/gpio.log", encoding: .utf8).split(separator: "\n").map { line -> (String, Int) in
            let json = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return (json["line"] as! String, json["value"] as! Int)
        }
        #expect(lines.map { "\($0.0)=\($0.1)" } == ["green=0", "red=0", "relay=0", "green=1", "relay=1", "relay=0", "green=0"])
    }
}

@Suite struct CurlClientTests {
    /// Nothing listens: the answer is "unreachable" within the deadline, never a hang.
    /// A check-in client for a service on this port of 127.0.0.1.
    static func client(port: Int, deadline: Duration) throws -> CurlCheckinClient {
        try CurlCheckinClient(
            settings: .init(
                serverURL: "http://127.0.0.1:\(port)",
                deviceID: "D1",
                gateID: "g",
                token: "t",
                connectTimeout: .milliseconds(200),
                deadline: deadline
            )
        )
    }

    @Test func a_dead_service_is_unreachable_within_the_deadline() async throws {
        let (fd, port) = ServiceProcess.loopbackSocket()
        close(fd)  // a port that was free a moment ago: connection refused
        let client = try Self.client(port: port, deadline: .milliseconds(600))
        let started = ContinuousClock.now
        let outcome = await client.checkin(qrData: "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ", scanId: "s1")
        // Generous bound: the point is "answers, never hangs", on a busy 2-core CI machine too.
        #expect(ContinuousClock.now - started < .seconds(5))
        guard case .unreachable = outcome else {
            Issue.record("expected unreachable, got \(outcome)")
            return
        }
    }

    /// A listener that accepts and never answers: the deadline ends the wait.
    @Test func a_silent_service_times_out_at_the_deadline() async throws {
        let (fd, port) = ServiceProcess.loopbackSocket(listening: 8)
        defer { close(fd) }
        let client = try Self.client(port: port, deadline: .milliseconds(400))
        let started = ContinuousClock.now
        let outcome = await client.checkin(qrData: "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ", scanId: "s1")
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(350) && elapsed < .seconds(5), "\(elapsed)")
        guard case .unreachable(let why) = outcome else {
            Issue.record("expected unreachable, got \(outcome)")
            return
        }
        #expect(why.lowercased().contains("timeout") || why.lowercased().contains("timed out"))
    }

    @Test func the_token_file_must_be_one_line() throws {
        let path = NSTemporaryDirectory() + "/token-\(UUID().uuidString)"
        defer { unlink(path) }
        #expect(throws: CurlError.self) { try DeviceToken.read(path: path) }
        try "ghd_ABC\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try DeviceToken.read(path: path) == "ghd_ABC")
        try "two words\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: CurlError.self) { try DeviceToken.read(path: path) }
    }
}

@Suite struct EnrollmentHostTests {
    /// Plain http is allowed only where it cannot leave the machine: addresses are parsed, names
    /// other than `localhost` are not loopback however they begin.
    @Test func only_real_loopback_hosts_count_as_loopback() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            #expect(Enrollment.isLoopback(host), "\(host)")
        }
        for host in [
            "127.0.0.1.gate-login.example", "localhost.example", "128.0.0.1", "10.0.0.1", "::2", "[::1].example", "127.0.0.1x", "",
            "127.example",
        ] {
            #expect(!Enrollment.isLoopback(host), "\(host)")
        }
    }
}

import Foundation
import GatehouseTestSupport
import Testing

/// What the CLIs write to files and terminals when the data comes from someone else: a
/// service's answer, a holders CSV, an image.
@Suite struct HostileAnswersAndFilesTests {
    func kiosk(_ arguments: [String]) throws -> CommandRun {
        try CommandRun.run(ServiceProcess.builtExecutable("gate-kiosk", override: "GATE_KIOSK_BIN"), arguments)
    }

    @Test func enroll_refuses_an_answer_that_would_add_lines_to_the_config() throws {
        let folder = try TemporaryDirectory()
        let original = "# technician's notes\nframe_rate = 20\n"
        try original.write(toFile: folder.file("gate-kiosk.conf"), atomically: true, encoding: .utf8)
        let hostile = [
            #"{"token":"ghd_AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH","deviceId":"DAAAA\nserver_url = http://evil.example","gateId":"north-1","eventId":"EAAAAAAA"}"#,
            #"{"token":"ghd_AAAA\nserver_url = http://evil.example","deviceId":"DAAAA","gateId":"north-1","eventId":"EAAAAAAA"}"#,
            #"{"token":"ghd_AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH","deviceId":"DAAAA","gateId":"north-1 # x\r","eventId":"EAAAAAAA"}"#,
        ]
        for body in hostile {
            let server = try CannedHTTPServer(status: 201, body: body)
            let run = try kiosk([
                "enroll", "--server", "http://127.0.0.1:\(server.port)", "--code", "AAAA-BBBB-CCCC", "--token-file", folder.file("device-token"),
                "--config", folder.file("gate-kiosk.conf"),
            ])
            #expect(run.status != 0, "refused: \(run.errors)")
            #expect(try String(contentsOfFile: folder.file("gate-kiosk.conf"), encoding: .utf8) == original, "config untouched")
            #expect(!FileManager.default.fileExists(atPath: folder.file("device-token")), "no token saved")
        }
    }

    @Test func enroll_prints_the_services_words_without_terminal_escapes() throws {
        let folder = try TemporaryDirectory()
        let server = try CannedHTTPServer(status: 404, body: #"{"detail":"unknown \u001b[2J\u001b[31mcode\u0007"}"#)
        let run = try kiosk([
            "enroll", "--server", "http://127.0.0.1:\(server.port)", "--code", "AAAA-BBBB-CCCC", "--token-file", folder.file("t"), "--config",
            folder.file("c"),
        ])
        #expect(run.status == 1)
        #expect(run.errors.contains("unknown"), "\(run.errors)")
        #expect(!run.errors.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 }, "no raw escape reaches the terminal")
    }

    @Test func enroll_over_plain_http_to_another_host_needs_insecure() throws {
        let folder = try TemporaryDirectory()
        // Refused before any connection is made (192.0.2.0/24 is documentation space).
        let run = try kiosk([
            "enroll", "--server", "http://192.0.2.10:8080", "--code", "AAAA-BBBB-CCCC", "--token-file", folder.file("t"), "--config",
            folder.file("c"),
        ])
        #expect(run.status == 1)
        #expect(run.errors.contains("--insecure") && run.errors.contains("https://"), "\(run.errors)")
    }

    @Test func manifest_cells_never_run_as_formulas_and_a_failed_issue_leaves_no_manifest() throws {
        let folder = try TemporaryDirectory()
        let db = folder.file("g.sqlite")
        let gatehouse = ServiceProcess.binary
        let event = try CommandRun.run(gatehouse, ["event", "create", "--db", db, "--name", "Gala"])
        let eventId = try #require((try JSONSerialization.jsonObject(with: Data(event.output.utf8)) as? [String: Any])?["id"] as? String)
        // An unknown event: nothing is issued, and the same folder works for the retry.
        let failed = try CommandRun.run(
            gatehouse,
            ["tickets", "issue", "--db", db, "--event", "ENOEVENT", "--count", "2", "--out", folder.file("out")]
        )
        #expect(failed.status != 0)
        #expect(!FileManager.default.fileExists(atPath: folder.file("out/manifest.csv")))
        let hostileNames = ["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "Plain Name"]
        let csv =
            "holderName,email\n" + hostileNames.map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\",a@example.org" }.joined(separator: "\n")
            + "\n"
        try csv.write(toFile: folder.file("holders.csv"), atomically: true, encoding: .utf8)
        let issued = try CommandRun.run(
            gatehouse,
            ["tickets", "issue", "--db", db, "--event", eventId, "--csv", folder.file("holders.csv"), "--out", folder.file("out")]
        )
        #expect(issued.status == 0, "\(issued.errors)")
        let manifest = try String(contentsOfFile: folder.file("out/manifest.csv"), encoding: .utf8)
        for line in manifest.split(separator: "\n").dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            for cell in cells {
                let text = cell.hasPrefix("\"") ? cell.dropFirst() : cell
                #expect(!"=+-@\t\r".contains(text.first ?? "x"), "a cell a spreadsheet would run: \(cell)")
            }
        }
        #expect(manifest.contains("\"'=cmd|' /C calc'!A0\""))
        #expect(manifest.contains("Plain Name,"))
    }

    @Test func a_huge_csv_line_is_refused_with_its_line_number() throws {
        let folder = try TemporaryDirectory()
        let db = folder.file("g.sqlite")
        let event = try CommandRun.run(ServiceProcess.binary, ["event", "create", "--db", db, "--name", "Gala"])
        let eventId = try #require((try JSONSerialization.jsonObject(with: Data(event.output.utf8)) as? [String: Any])?["id"] as? String)
        try #require(FileManager.default.createFile(atPath: folder.file("big.csv"), contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: folder.file("big.csv")))
        handle.write(Data("holderName\nAda\n".utf8))
        let block = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<50 { handle.write(block) }
        try handle.close()
        let run = try CommandRun.run(
            ServiceProcess.binary,
            ["tickets", "issue", "--db", db, "--event", eventId, "--csv", folder.file("big.csv"), "--out", folder.file("out")]
        )
        #expect(run.status != 0)
        #expect(run.errors.contains("line 3") && run.errors.contains("longer than"), "\(run.errors)")
    }

    @Test func decode_refuses_an_image_too_large_to_scan() throws {
        let folder = try TemporaryDirectory()
        var pgm = Array("P5\n8000 8000\n255\n".utf8)
        pgm += [UInt8](repeating: 255, count: 8000 * 8000)
        try Data(pgm).write(to: URL(fileURLWithPath: folder.file("huge.pgm")))
        let run = try kiosk(["decode", folder.file("huge.pgm")])
        #expect(run.status == 2)
        #expect(run.errors.contains("at most") && run.errors.contains("4096"), "\(run.errors)")
    }
}

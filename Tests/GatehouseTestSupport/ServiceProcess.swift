import Foundation

/// The real `gatehouse` binary, started as a child process on a free port.
public final class ServiceProcess: @unchecked Sendable {
    public let process = Process()
    public private(set) var port = 0
    public let databasePath: String
    public let adminToken: String
    private let output = Pipe()
    private let logFile: String

    /// Where the build put the `gatehouse` binary: beside the test bundle, or `$GATEHOUSE_BIN`.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["GATEHOUSE_BIN"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test bundle may be a folder (…/gatehousePackageTests.xctest/…) or a file.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("gatehouse")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/gatehouse")
    }

    public init(databasePath: String, adminToken: String = "test-admin-token-0123456789", extraEnvironment: [String: String] = [:]) throws {
        self.databasePath = databasePath
        self.adminToken = adminToken
        logFile = databasePath + ".service.log"
        process.executableURL = Self.binary
        process.arguments = ["serve", "--db", databasePath, "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["GATEHOUSE_ADMIN_TOKEN"] = adminToken
        environment.merge(extraEnvironment) { $1 }
        process.environment = environment
        process.standardOutput = output
        FileManager.default.createFile(atPath: logFile, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logFile)
        try process.run()
        port = try waitForPort()
    }

    /// Reads stdout until the service prints its "listening on" line.
    private func waitForPort() throws -> Int {
        var seen = ""
        let deadline = Date().addingTimeInterval(30)
        let handle = output.fileHandleForReading
        while Date() < deadline {
            let data = handle.availableData
            if data.isEmpty {
                throw HTTPClientError("gatehouse exited before listening; its log: \(log)")
            }
            seen += String(decoding: data, as: UTF8.self)
            if let range = seen.range(of: #"listening on http://[^:]+:(\d+)"#, options: .regularExpression) {
                let text = seen[range]
                if let port = Int(text.split(separator: ":").last ?? "") { return port }
            }
        }
        throw HTTPClientError("gatehouse did not start within 30 s; its log: \(log)")
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    public func connection() throws -> HTTPConnection { try HTTPConnection(port: port) }

    /// SIGTERM and wait: a graceful stop.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL: a crash, nothing flushed on the way out.
    public func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }
}

/// A fresh folder under the system's temporary folder, removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init() throws {
        var template = Array((NSTemporaryDirectory() + "/gatehouse-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw HTTPClientError("mkdtemp failed") }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

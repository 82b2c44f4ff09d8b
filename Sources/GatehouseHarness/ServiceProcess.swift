import Foundation

/// The real `gatehouse` binary, started as a child process on a free port.
public final class ServiceProcess: @unchecked Sendable {
    public let process = Process()
    public private(set) var port = 0
    public let databasePath: String
    /// The address it listens on (a test's network namespace may need another than loopback).
    public let host: String
    public let adminToken: String
    private let output = Pipe()
    private let logFile: String

    /// Where the build put the `gatehouse` binary: beside the test bundle, or `$GATEHOUSE_BIN`.
    public static var binary: URL { builtExecutable("gatehouse", override: "GATEHOUSE_BIN") }

    /// A product of this package's build, found beside the test bundle.
    public static func builtExecutable(_ name: String, override: String) -> URL {
        if let path = ProcessInfo.processInfo.environment[override] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test bundle may be a folder (…/gatehousePackageTests.xctest/…) or a file.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/" + name)
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (for a service restarted on the same port).
    public static func freePort() -> Int {
        let (fd, port) = loopbackSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to a free port on 127.0.0.1 (listening when `backlog` is given).
    public static func loopbackSocket(listening backlog: Int32? = nil) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        if let backlog { listen(fd, backlog) }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// `fileLimit` runs the service under `ulimit -n` (soft and hard), as a unit's LimitNOFILE would.
    public init(
        databasePath: String,
        adminToken: String = "test-admin-token-0123456789",
        port: Int = 0,
        extraEnvironment: [String: String] = [:],
        extraArguments: [String] = [],
        fileLimit: Int? = nil,
        host: String = "127.0.0.1"
    ) throws {
        self.host = host
        self.databasePath = databasePath
        self.adminToken = adminToken
        // A PostgreSQL URL is no place for a file: logs then go to a temporary file.
        logFile =
            databasePath.contains("://") ? NSTemporaryDirectory() + "/gatehouse-service-\(UUID().uuidString).log" : databasePath + ".service.log"
        let arguments = ["serve", "--db", databasePath, "--port", String(port), "--host", host] + extraArguments
        if let fileLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(fileLimit) && exec \"$0\" \"$@\"", Self.binary.path] + arguments
        } else {
            process.executableURL = Self.binary
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["GATEHOUSE_ADMIN_TOKEN"] = adminToken
        environment.merge(extraEnvironment) { $1 }
        process.environment = environment
        process.standardOutput = output
        guard FileManager.default.createFile(atPath: logFile, contents: nil) else {
            throw HTTPClientError("cannot create the service's log file \(logFile)")
        }
        process.standardError = FileHandle(forWritingAtPath: logFile)
        try process.run()
        self.port = try waitForPort()
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

    /// The service's open file descriptors, from /proc.
    public var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count) ?? -1
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// The service's resident memory in MB (VmRSS), from /proc.
    public var residentMegabytes: Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }

    public func connection() throws -> HTTPConnection { try HTTPConnection(port: port, host: host) }

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

/// A finished run of one of our binaries: exit status and what it printed.
public struct CommandRun: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String

    /// Runs `executable` to the end, capturing stdout and stderr; `input` is its standard input.
    public static func run(
        _ executable: URL,
        _ arguments: [String],
        directory: String? = nil,
        environment: [String: String] = [:],
        input: String? = nil
    ) throws -> CommandRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        // Read both pipes while the process runs, so a full pipe never blocks it.
        let errorData = ErrorCollector(errors.fileHandleForReading)
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return CommandRun(status: process.terminationStatus, output: out, errors: errorData.text())
    }
}

/// Reads a pipe to its end on a background thread.
private final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }
    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

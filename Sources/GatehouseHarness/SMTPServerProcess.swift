import Foundation

/// An SMTP server for tests, on 127.0.0.1: either Debian's aiosmtpd storing every message it
/// accepts in a maildir, or a small misbehaving one (silent, busy, garbage, refusing, hanging up
/// mid-message) for the sender's bad days. Stopped when released.
public final class SMTPServerProcess: @unchecked Sendable {
    public enum Behaviour: String, Sendable, CaseIterable {
        /// Accepts the connection and never says a word.
        case silent
        /// Greets with 421: busy, come back later.
        case busy
        /// Greets with a line that is not SMTP.
        case garbage
        /// Speaks SMTP but refuses the recipient with 550.
        case refuse
        /// Closes the connection in the middle of the message's data.
        case drop
    }

    public let port: Int
    /// Where aiosmtpd keeps what it accepted (`new/` holds one file per message).
    public let maildir: String?
    private let process: Process

    /// aiosmtpd with a maildir (`python3-aiosmtpd`), without TLS.
    public init(maildir: String, port: Int = ServiceProcess.freePort()) throws {
        self.port = port
        self.maildir = maildir
        process = try Self.python(["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "-c", "aiosmtpd.handlers.Mailbox", maildir])
        try waitUntilListening()
    }

    /// A server that misbehaves as `behaviour` says, on every connection.
    public init(behaviour: Behaviour, port: Int = ServiceProcess.freePort()) throws {
        self.port = port
        maildir = nil
        process = try Self.python(["-c", Self.misbehaving, behaviour.rawValue, String(port)])
        try waitUntilListening()
    }

    /// Debian's Python (the one with python3-aiosmtpd), quiet.
    private static func python(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    deinit {
        // SIGKILL: the child inherits the test runner's signal mask, in which SIGTERM is blocked,
        // and a test server has nothing to save.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The messages accepted so far, oldest first.
    public func messages() throws -> [Data] {
        guard let maildir else { return [] }
        let folder = (maildir as NSString).appendingPathComponent("new")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let files = try names.map { name -> (Date, Data) in
            let path = (folder as NSString).appendingPathComponent(name)
            let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date ?? .distantPast
            return (modified, try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        return files.sorted { $0.0 < $1.0 }.map(\.1)
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            guard process.isRunning else { throw HTTPClientError("the test SMTP server exited at start (is python3-aiosmtpd installed?)") }
            if (try? HTTPConnection(port: port)) != nil { return }
            usleep(50_000)
        }
        throw HTTPClientError("the test SMTP server did not listen on \(port) within 20 s")
    }

    private static let misbehaving = """
        import socket, sys, time
        mode, port = sys.argv[1], int(sys.argv[2])
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(8)
        while True:
            client, _ = server.accept()
            lines = client.makefile("rb")
            say = lambda text: client.sendall(text.encode() + b"\\r\\n")
            try:
                if mode == "silent":
                    lines.readline()
                elif mode == "busy":
                    say("421 4.3.2 Service not available, closing channel")
                elif mode == "garbage":
                    say("hello, this is not SMTP at all")
                    lines.readline()
                else:
                    say("220 test ESMTP")
                    while True:
                        command = lines.readline().decode(errors="replace").strip().upper()
                        if not command:
                            break
                        if command.startswith("EHLO") or command.startswith("HELO"):
                            say("250-test")
                            say("250 8BITMIME")
                        elif command.startswith("MAIL"):
                            say("250 2.1.0 Ok")
                        elif command.startswith("RCPT"):
                            say("550 5.1.1 <zoe@example.org>: Recipient address rejected: no such user" if mode == "refuse" else "250 2.1.5 Ok")
                        elif command == "DATA":
                            say("354 End data with <CR><LF>.<CR><LF>")
                            lines.readline()
                            break
                        elif command == "QUIT":
                            say("221 2.0.0 Bye")
                            break
                        else:
                            say("502 5.5.2 Error: command not recognized")
            except OSError:
                pass
            lines.close()
            client.close()
        """
}

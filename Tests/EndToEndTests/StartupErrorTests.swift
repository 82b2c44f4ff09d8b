import Foundation
import GatehouseTestSupport
import Testing

private var postgresURL: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES"] }
private var mysqlURL: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_MYSQL"] }
private var passwordRole: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES_PASSWORD_ROLE"] }

/// `gatehouse serve` and the admin CLI refuse databases they cannot serve, at once, with one
/// line naming the cause — and write nothing while doing so.
@Suite struct StartupErrorTests {
    struct Outcome {
        var run: CommandRun
        var seconds: Double
        var folderAfter: [String]
        var lines: [String] { run.errors.split(separator: "\n").map(String.init).filter { $0.hasPrefix("gatehouse:") } }
    }

    /// Runs the binary in an empty folder, both as `serve` and as an admin command.
    static func attempt(_ db: String, viaEnvironment: Bool = false, command: [String] = ["serve", "--port", "0"]) throws -> Outcome {
        let folder = try TemporaryDirectory()
        let started = Date()
        let arguments = viaEnvironment ? command : command + ["--db", db]
        var environment = ["GATEHOUSE_ADMIN_TOKEN": "test-admin-token-0123456789"]
        if viaEnvironment { environment["GATEHOUSE_DB"] = db }
        let run = try CommandRun.run(ServiceProcess.binary, arguments, directory: folder.path, environment: environment)
        let after = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return Outcome(run: run, seconds: Date().timeIntervalSince(started), folderAfter: after)
    }

    @Test(arguments: [
        "mssql://gatehouse:secret@127.0.0.1:1433/gh", "redis://:secret@127.0.0.1:6379/0", "http://gatehouse:secret@db.internal/gh",
        "sqlite://u:secret@db.internal/gh.sqlite", "sqlite:gh.sqlite", "mongodb+srv://u:secret@cluster/gh",
    ])
    func unknown_database_urls_are_refused_with_the_accepted_forms(_ db: String) throws {
        for viaEnvironment in [false, true] {
            for command in [["serve", "--port", "0"], ["event", "list"]] {
                let outcome = try Self.attempt(db, viaEnvironment: viaEnvironment, command: command)
                #expect(outcome.run.status == 64, "\(command) \(db): exit \(outcome.run.status)")
                #expect(outcome.lines.count == 1, "one error line: \(outcome.run.errors)")
                #expect(outcome.run.errors.contains("Accepted:") && outcome.run.errors.contains("postgres://"))
                #expect(!(outcome.run.errors + outcome.run.output).contains("secret"), "no password in any output")
                #expect(!outcome.run.output.contains("listening"))
                #expect(outcome.folderAfter.isEmpty, "nothing written: \(outcome.folderAfter)")
            }
        }
    }

    @Test func a_sqlite_url_names_an_existing_folder_and_never_creates_one() throws {
        let folder = try TemporaryDirectory()
        let missing = try Self.attempt("sqlite://\(folder.path)/no/such/folder/gh.sqlite", command: ["event", "list"])
        #expect(missing.run.status == 1)
        #expect(missing.lines.count == 1 && missing.run.errors.contains("does not exist"), "\(missing.run.errors)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("no")))
        let good = try Self.attempt("sqlite://\(folder.path)/gh.sqlite", command: ["event", "list"])
        #expect(good.run.status == 0, "\(good.run.errors)")
        #expect(FileManager.default.fileExists(atPath: folder.file("gh.sqlite")))
        // The database holds names and e-mail addresses: only its owner may read it.
        var info = stat()
        #expect(stat(folder.file("gh.sqlite"), &info) == 0 && info.st_mode & 0o077 == 0, "mode \(String(info.st_mode & 0o777, radix: 8))")
    }

    @Test func a_mail_key_that_cannot_be_kept_stops_the_start_with_the_fix() throws {
        let folder = try TemporaryDirectory()
        let run = try CommandRun.run(
            ServiceProcess.binary,
            ["serve", "--port", "0", "--db", folder.file("gh.sqlite"), "--data-dir", "/proc/gatehouse-nowhere"],
            environment: ["GATEHOUSE_ADMIN_TOKEN": "test-admin-token-0123456789"]
        )
        #expect(run.status == 64, "\(run.errors)")
        #expect(run.errors.contains("mail-key") && run.errors.contains("writable --data-dir"), "\(run.errors)")
        #expect(!run.output.contains("listening"))
        // With a key of the wrong form in the credential, the start names the file and the form.
        try FileManager.default.createDirectory(atPath: folder.file("credentials"), withIntermediateDirectories: true)
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: folder.file("credentials/mail-key")))
        let wrong = try CommandRun.run(
            ServiceProcess.binary,
            ["serve", "--port", "0", "--db", folder.file("gh.sqlite")],
            environment: ["GATEHOUSE_ADMIN_TOKEN": "test-admin-token-0123456789", "CREDENTIALS_DIRECTORY": folder.file("credentials")]
        )
        #expect(wrong.status == 64 && wrong.errors.contains("32-byte key in base64"), "\(wrong.errors)")
    }

    @Test func a_plain_path_makes_a_private_folder() throws {
        let folder = try TemporaryDirectory()
        let run = try CommandRun.run(ServiceProcess.binary, ["event", "list", "--db", folder.file("new/gh.sqlite")])
        #expect(run.status == 0, "\(run.errors)")
        var info = stat()
        #expect(stat(folder.file("new"), &info) == 0 && info.st_mode & 0o777 == 0o700, "folder mode \(String(info.st_mode & 0o777, radix: 8))")
        for file in ["gh.sqlite", "gh.sqlite-wal", "gh.sqlite-shm"] where FileManager.default.fileExists(atPath: folder.file("new/\(file)")) {
            #expect(
                stat(folder.file("new/\(file)"), &info) == 0 && info.st_mode & 0o077 == 0,
                "\(file) mode \(String(info.st_mode & 0o777, radix: 8))"
            )
        }
    }

    /// Each `db` refused by `serve` and by an admin command alike: exit 1 within 10 s, one line
    /// holding each expected text, no password, nothing written.
    static func expectRefused(_ cases: [(db: String, expected: [String])], passwords: [String]) throws {
        for (db, expected) in cases {
            for command in [["serve", "--port", "0"], ["event", "list"]] {
                let outcome = try Self.attempt(db, command: command)
                #expect(outcome.run.status == 1, "\(db): exit \(outcome.run.status)")
                #expect(outcome.seconds < 10, "\(db): stopped after \(outcome.seconds) s")
                #expect(outcome.lines.count == 1, "\(db): one error line, got: \(outcome.run.errors)")
                for text in expected { #expect(outcome.run.errors.contains(text), "\(db): '\(text)' in \(outcome.run.errors)") }
                for password in passwords {
                    #expect(!(outcome.run.errors + outcome.run.output).contains(password), "no password in any output")
                }
                #expect(!outcome.run.errors.contains("Connection creation failed"), "no retry chatter")
                #expect(outcome.folderAfter.isEmpty, "nothing written: \(outcome.folderAfter)")
            }
        }
    }

    /// A server that accepts TCP connections and never says a word.
    final class SilentListener: @unchecked Sendable {
        let fd: Int32
        let port: Int
        init() throws {
            (fd, port) = ServiceProcess.loopbackSocket(listening: 16)
            guard fd >= 0 else { throw HTTPClientError("socket: errno \(errno)") }
        }
        deinit { close(fd) }
    }

    @Test(.enabled(if: postgresURL != nil, "no PostgreSQL: run under scripts/with-postgres.sh (make test does)"))
    func postgres_refusals_are_named_in_the_servers_words() throws {
        let url = URLComponents(string: postgresURL!)!
        let place = "\(url.host!):\(url.port!)"
        let silent = try SilentListener()
        var cases: [(db: String, expected: [String])] = [
            ("postgres://gatehouse@\(place)/no_such_db?sslmode=disable", ["database \"no_such_db\" does not exist", "createdb"]),
            ("postgres://nobody@\(place)/gatehouse_test?sslmode=disable", ["role \"nobody\" does not exist"]),
            ("postgres://gatehouse@127.0.0.1:\(ServiceProcess.freePort())/gh?sslmode=disable", ["connection refused at 127.0.0.1:"]),
            ("postgres://gatehouse@127.0.0.1:\(silent.port)/gh?sslmode=disable", ["no answer from 127.0.0.1:\(silent.port) within 3 s"]),
            ("postgres://gatehouse@\(place)/gatehouse_test?sslmode=require", ["does not offer TLS", "sslmode"]),
        ]
        if let passwordRole {
            cases.append(("postgres://gatehouse_pw:wrong-password@\(passwordRole)", ["password authentication failed for user \"gatehouse_pw\""]))
            cases.append(("postgres://gatehouse_pw@\(passwordRole)", ["asks user \"gatehouse_pw\" for a password"]))
        }
        try Self.expectRefused(cases, passwords: ["wrong-password"])
        withExtendedLifetime(silent) {}
        if let passwordRole {
            let right = try Self.attempt("postgres://gatehouse_pw:right-password@\(passwordRole)", command: ["event", "list"])
            // The role may connect but not create the schema: that too is named, not a timeout.
            #expect(right.run.status == 0 || right.run.errors.contains("permission denied"), "\(right.run.errors)")
        }
    }

    @Test(.enabled(if: mysqlURL != nil, "no MariaDB: run under scripts/with-mariadb.sh (make test does)"))
    func mysql_refusals_are_named_in_the_servers_words() throws {
        let url = URLComponents(string: mysqlURL!)!
        let place = "\(url.host!):\(url.port!)"
        let silent = try SilentListener()
        let cases: [(db: String, expected: [String])] = [
            ("mysql://gatehouse:wrong-password@\(place)/gatehouse_test?ssl-mode=disabled", ["Access denied for user 'gatehouse'", "wrong password"]),
            ("mysql://root:root-password@\(place)/no_such_db?ssl-mode=disabled", ["Unknown database 'no_such_db'", "CREATE DATABASE"]),
            ("mysql://gatehouse:test-password@\(place)/mysql?ssl-mode=disabled", ["Access denied for user 'gatehouse'", "GRANT"]),
            (
                "mysql://gatehouse:wrong-password@127.0.0.1:\(ServiceProcess.freePort())/gh?ssl-mode=disabled",
                ["at 127.0.0.1:", "is MySQL/MariaDB running there"]
            ),
            ("mysql://gatehouse:wrong-password@127.0.0.1:\(silent.port)/gh?ssl-mode=disabled", ["at 127.0.0.1:\(silent.port)"]),
            ("mysql://gatehouse:test-password@\(place)/gatehouse_test?ssl-mode=required", ["the server does not offer it", "ssl-mode"]),
        ]
        try Self.expectRefused(cases, passwords: ["wrong-password", "root-password", "test-password"])
        withExtendedLifetime(silent) {}
        // A URL that can never work is a usage error (64) naming the part, before any connection.
        let bad = try Self.attempt("mysql://gatehouse:wrong-password@\(place)/gatehouse_test?ssl-mode=sometimes", command: ["event", "list"])
        #expect(
            bad.run.status == 64 && bad.run.errors.contains("ssl-mode 'sometimes'") && !bad.run.errors.contains("wrong-password"),
            "\(bad.run.errors)"
        )
        let good = try Self.attempt(mysqlURL!, command: ["event", "list"])
        #expect(good.run.status == 0, "\(good.run.errors)")
    }
}

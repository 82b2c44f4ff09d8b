import Foundation
import GatehouseStorage
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Why PostgreSQL cannot be used, in the server's own words plus what to do about it.
///
/// Why: the pool only reports "no connection within 3 s" while it retries in the background, so a
/// missing database, a wrong password and a closed port all looked alike. One direct connection
/// attempt with a typed error names the real cause; start-up makes it first, `/healthz` when the
/// pool cannot serve.
public struct PostgresFailure: Error, CustomStringConvertible, Equatable, Sendable {
    public var cause: String
    public var hint: String?

    public var description: String { hint.map { "\(cause) (\($0))" } ?? cause }
}

enum PostgresDiagnosis {
    /// Opens one connection to `target` and closes it: nil when that works, else the cause.
    static func probe(_ target: PostgresTarget, logger: Logger) async -> PostgresFailure? {
        switch await connect(target, logger: logger) {
        case .success(let connection):
            try? await connection.close()
            return nil
        case .failure(let failure):
            return failure
        }
    }

    /// One direct connection to `target` (no pool), or the cause it could not be made.
    static func connect(_ target: PostgresTarget, logger: Logger) async -> Result<PostgresConnection, PostgresFailure> {
        let configuration: PostgresConnection.Configuration
        do { configuration = try target.connectionConfiguration() } catch {
            return .failure(PostgresFailure(cause: "TLS set-up failed: \(error)", hint: nil))
        }
        // Our own deadline too: a peer that accepts TCP but never answers the start-up message.
        let limit = PostgresTarget.connectTimeout
        let quiet = Logger(label: logger.label, factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            return .success(
                try await PostgresStore.within(
                    limit + .milliseconds(500),
                    { try await PostgresConnection.connect(configuration: configuration, id: 0, logger: quiet) },
                    late: { try? await $0.close() }
                )
            )
        } catch {
            return .failure(describe(error, target: target))
        }
    }

    static func describe(_ error: any Error, target: PostgresTarget) -> PostgresFailure {
        let place = target.place
        let seconds = PostgresTarget.connectTimeout.components.seconds
        if let store = error as? StoreError, case .unavailable = store {
            return PostgresFailure(
                cause: "no answer from \(place) within \(seconds) s",
                hint: "is PostgreSQL running there, and does a firewall let the port through?"
            )
        }
        guard let error = error as? PSQLError else { return network(error, place: place, seconds: seconds) }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? "refused"
            return PostgresFailure(
                cause: "PostgreSQL at \(place) refused: \(message) (SQLSTATE \(state))",
                hint: hint(state: state, message: message, target: target)
            )
        case .sslUnsupported:
            return PostgresFailure(
                cause: "PostgreSQL at \(place) does not offer TLS, but the URL says sslmode=require",
                hint: "enable ssl on the server, or use sslmode=prefer or sslmode=disable on a trusted network"
            )
        case .authMechanismRequiresPassword:
            return PostgresFailure(
                cause: "PostgreSQL at \(place) asks user \"\(target.username)\" for a password, and none was given",
                hint: "put it in the URL (postgres://user:password@host/db, percent-encoded) or in $PGPASSWORD"
            )
        case .unsupportedAuthMechanism, .saslError:
            return PostgresFailure(
                cause: "PostgreSQL at \(place): authentication failed (\(error.code))",
                hint: "use scram-sha-256 or md5 in pg_hba.conf"
            )
        case .connectionError:
            return network(error.underlying ?? error, place: place, seconds: seconds)
        default:
            if let underlying = error.underlying { return network(underlying, place: place, seconds: seconds) }
            return PostgresFailure(cause: "PostgreSQL at \(place): \(error.code)", hint: nil)
        }
    }

    static func hint(state: String, message: String, target: PostgresTarget) -> String? {
        switch state {
        case "3D000": return "create it: createdb -O \(target.username) \(target.database)"
        case "28P01": return "check the password in the URL (percent-encoded) or in $PGPASSWORD"
        case "28000":
            if message.contains("no encryption") { return "the server accepts this user only over TLS: add ?sslmode=require" }
            if message.contains("role") { return "create the role: createuser --pwprompt \(target.username)" }
            return "add a line for this user, database and address to pg_hba.conf"
        case "42501": return "grant it: GRANT CONNECT, CREATE ON DATABASE \(target.database) TO \(target.username)"
        case "53300": return "the server has no free connection slots: raise max_connections or lower --pool-size"
        case "57P03": return "the server is starting up or shutting down; try again shortly"
        default: return nil
        }
    }

    /// A failure below PostgreSQL's protocol: refused, unresolvable, timed out. NIO reports
    /// these as several error types; their descriptions are what tells them apart.
    static func network(_ error: any Error, place: String, seconds: Int64) -> PostgresFailure {
        let text = String(describing: error)
        if let io = error as? IOError, io.errnoCode == ENOENT {
            return PostgresFailure(cause: "no PostgreSQL socket at \(place)", hint: "check the ?host= folder and the port")
        }
        if (error as? IOError)?.errnoCode == ECONNREFUSED || text.localizedCaseInsensitiveContains("refused") {
            return PostgresFailure(
                cause: "connection refused at \(place)",
                hint: "is PostgreSQL running and listening there (listen_addresses, port)?"
            )
        }
        if text.contains("UnknownHost") || text.contains("resolution") {
            return PostgresFailure(cause: "cannot resolve the host of \(place)", hint: "check the host name in the URL")
        }
        if text.localizedCaseInsensitiveContains("timeout") || text.localizedCaseInsensitiveContains("timed out") {
            return PostgresFailure(
                cause: "no answer from \(place) within \(seconds) s",
                hint: "is PostgreSQL running there, and does a firewall let the port through?"
            )
        }
        return PostgresFailure(cause: "cannot connect to \(place): \(text)", hint: nil)
    }
}

import Foundation
import GatehouseService
import PostgresNIO

/// Turns `postgres://user:password@host:5432/database?sslmode=…` into a client configuration.
/// `?host=/var/run/postgresql` (a folder) connects through the Unix socket there instead.
public enum PostgresURL {
    static func configuration(_ text: String, poolSize: Int) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw InvalidInputError("--db: '\(redacted(text))' is not a postgres:// URL")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let username = components.percentEncodedUser?.removingPercentEncoding ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        let password = components.percentEncodedPassword?.removingPercentEncoding ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        var database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if database.isEmpty { database = username }
        let port = components.port ?? 5432
        var configuration: PostgresClient.Configuration
        if let socketFolder = query["host"], socketFolder.hasPrefix("/") {
            configuration = .init(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch query["sslmode"] ?? "prefer" {
            case "disable": tls = .disable
            case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
            case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
            case let mode: throw InvalidInputError("--db: sslmode '\(mode)' is not one of disable, prefer, require")
            }
            configuration = .init(host: components.host ?? "localhost", port: port, username: username, password: password, database: database, tls: tls)
        }
        guard (1...200).contains(poolSize) else { throw InvalidInputError("pool size must be between 1 and 200, not \(poolSize)") }
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }

    /// The URL with its password replaced, for error messages and logs.
    public static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? "postgres://…"
    }
}

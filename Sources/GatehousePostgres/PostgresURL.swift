import Foundation
import GatehouseStorage
import NIOSSL
import PostgresNIO

/// Where a `postgres://user:password@host:5432/database?sslmode=…` URL points.
/// `?host=/var/run/postgresql` (a folder) connects through the Unix socket there instead.
public struct PostgresTarget: Sendable {
    enum Endpoint: Sendable {
        case tcp(host: String, port: Int)
        case socket(path: String)
    }

    enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    var endpoint: Endpoint
    var username: String
    var password: String?
    var database: String
    var tls: TLSMode

    /// `host:port` or the socket path, for messages (never the password).
    var place: String {
        switch endpoint {
        case .tcp(let host, let port): return "\(host):\(port)"
        case .socket(let path): return path
        }
    }

    init(url text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? "") else {
            throw InvalidInputError("--db: '\(PostgresURL.redacted(text))' is not a postgres:// URL")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        username = components.percentEncodedUser?.removingPercentEncoding ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        password = components.percentEncodedPassword?.removingPercentEncoding ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = database.removingPercentEncoding ?? database
        if database.isEmpty { database = username }
        let port = components.port ?? 5432
        if let socketFolder = query["host"], socketFolder.hasPrefix("/") {
            endpoint = .socket(path: "\(socketFolder)/.s.PGSQL.\(port)")
        } else {
            endpoint = .tcp(host: components.host ?? "localhost", port: port)
        }
        switch query["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "require", "verify-ca", "verify-full": tls = .require
        case "prefer", "allow": tls = .prefer
        case let mode: throw InvalidInputError("--db: sslmode '\(mode)' is not one of disable, prefer, require")
        }
    }

    /// How long connecting may take, at start-up and for each pooled connection.
    static let connectTimeout: Duration = .seconds(3)

    func clientConfiguration(poolSize: Int) throws -> PostgresClient.Configuration {
        guard (1...200).contains(poolSize) else { throw InvalidInputError("pool size must be between 1 and 200, not \(poolSize)") }
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = Self.connectTimeout
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            switch self.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = TimeAmount.seconds(Int64(Self.connectTimeout.components.seconds))
        return configuration
    }
}

public enum PostgresURL {
    static func configuration(_ text: String, poolSize: Int) throws -> PostgresClient.Configuration {
        try PostgresTarget(url: text).clientConfiguration(poolSize: poolSize)
    }

    /// The URL with its password replaced, for error messages and logs.
    public static func redacted(_ text: String) -> String { DatabaseLocation.redacted(text) }
}

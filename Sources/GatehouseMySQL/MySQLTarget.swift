import CMariaDB
import Foundation
import GatehouseStorage

/// Where a `mysql://user:password@host:3306/database?ssl-mode=…` URL points (`mariadb://` too).
/// `?socket=/run/mysqld/mysqld.sock` connects through that Unix socket instead of TCP.
///
/// Every part is checked here, before anything connects, and every message names the part
/// (`--db: the port …`) and shows the URL with its password replaced.
public struct MySQLTarget: Sendable, Equatable {
    enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case socket(path: String)
    }

    /// MySQL's own `--ssl-mode` names, lowercased.
    enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disabled, preferred, required
        case verifyCA = "verify-ca"
        case verifyIdentity = "verify-identity"

        /// The shim's numbers: 0 none, 1 when offered, 2 required, 3 required and verified.
        var level: Int32 {
            switch self {
            case .disabled: return 0
            case .preferred: return 1
            case .required: return 2
            case .verifyCA, .verifyIdentity: return 3
            }
        }
    }

    var endpoint: Endpoint
    var user: String
    var password: String?
    var database: String
    var tls: TLSMode
    var tlsCA: String?

    /// How long connecting may take, and how long the server may stay silent on a connection,
    /// before the connector gives up (the service's own limit per operation is shorter).
    static let connectTimeoutSeconds: UInt32 = 3
    static let ioTimeoutSeconds: UInt32 = 10

    /// `host:port` or the socket path, for messages (never the password).
    var place: String {
        switch endpoint {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .socket(let path): return path
        }
    }

    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(InvalidInputError) {
        let shown = DatabaseLocation.redacted(text)
        func refuse(_ problem: String) -> InvalidInputError { InvalidInputError("--db '\(shown)': \(problem)") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw refuse("contains control characters")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["mysql", "mariadb"].contains(scheme) else {
            throw refuse(
                "is not a valid mysql://user:password@host:3306/database URL (characters such as @ : / ? # in the password must be percent-encoded)"
            )
        }
        func decoded(_ part: String?, _ name: String) throws(InvalidInputError) -> String? {
            guard let part else { return nil }
            guard let value = part.removingPercentEncoding else { throw refuse("the \(name) has a broken percent-encoding") }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw refuse("the \(name) contains control characters (a percent-encoded NUL or newline)")
            }
            return value
        }

        guard let user = try decoded(components.percentEncodedUser, "user name"), !user.isEmpty else {
            throw refuse("names no user (mysql://USER:password@host/database)")
        }
        guard user.count <= 80 else { throw refuse("the user name is longer than 80 characters") }
        self.user = user
        // The URL's password, else MYSQL_PWD (the mysql client's variable), else none.
        password = try decoded(components.percentEncodedPassword, "password") ?? environment["MYSQL_PWD"]

        let path = components.percentEncodedPath
        guard path.hasPrefix("/"), let database = try decoded(String(path.dropFirst()), "database name"), !database.isEmpty else {
            throw refuse("names no database (mysql://user:password@host/DATABASE)")
        }
        guard database.count <= 64, !database.contains(where: { "/\\.".contains($0) }), database.last != " " else {
            throw refuse("the database name must be 1 to 64 characters without / \\ . or a trailing space")
        }
        self.database = database

        var query: [String: String] = [:]
        for item in components.percentEncodedQueryItems ?? [] {
            guard query[item.name] == nil else { throw refuse("the parameter \(item.name) is given twice") }
            query[item.name] = try decoded(item.value ?? "", "parameter \(item.name)")
        }
        let known: Set<String> = ["ssl-mode", "sslmode", "ssl-ca", "socket"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw refuse("the parameter '\(unknown)' is not one of ssl-mode, ssl-ca, socket")
        }

        if let socket = query["socket"] {
            guard socket.hasPrefix("/"), socket.utf8.count <= 107 else {
                throw refuse("the socket must be an absolute path of at most 107 bytes")
            }
            guard components.port == nil else { throw refuse("gives both a socket and a port") }
            endpoint = .socket(path: socket)
        } else {
            guard let host = try decoded(components.percentEncodedHost, "host"), !host.isEmpty else {
                throw refuse("names no host (mysql://user:password@HOST:3306/database, or ?socket=/path)")
            }
            let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            guard bareHost.utf8.count <= 253, bareHost.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:_".contains($0)) }) else {
                throw refuse("the host must be a name or an address (letters, digits, - . : _)")
            }
            let port = components.port ?? 3306
            guard (1...65535).contains(port) else { throw refuse("the port must be between 1 and 65535") }
            endpoint = .tcp(host: bareHost, port: port)
        }

        let mode = (query["ssl-mode"] ?? query["sslmode"] ?? "preferred").lowercased().replacingOccurrences(of: "_", with: "-")
        guard let tls = TLSMode(rawValue: mode) else {
            throw refuse("ssl-mode '\(mode)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.tls = tls
        if let ca = query["ssl-ca"] {
            guard ca.hasPrefix("/") else { throw refuse("ssl-ca must be an absolute path to a PEM file") }
            tlsCA = ca
        }
        if tls == .verifyCA || tls == .verifyIdentity, tlsCA == nil {
            throw refuse("ssl-mode=\(tls.rawValue) needs ssl-ca=/path/to/ca.pem to verify the server against")
        }
    }

    /// The connector's view of this target, its strings alive while `body` runs.
    func withCTarget<T>(_ body: (inout gh_mysql_target) -> T) -> T {
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { for copy in owned { free(copy) } }
        func c(_ text: String?) -> UnsafePointer<CChar>? {
            guard let text, let copy = strdup(text) else { return nil }
            owned.append(copy)
            return UnsafePointer(copy)
        }
        var target = gh_mysql_target()
        switch endpoint {
        case .tcp(let host, let port):
            target.host = c(host)
            target.port = UInt32(port)
        case .socket(let path):
            target.host = c("localhost")
            target.unix_socket = c(path)
        }
        target.user = c(user)
        target.password = c(password)
        target.database = c(database)
        target.tls = tls.level
        target.tls_ca = c(tlsCA)
        target.connect_timeout_seconds = Self.connectTimeoutSeconds
        target.read_timeout_seconds = Self.ioTimeoutSeconds
        target.write_timeout_seconds = Self.ioTimeoutSeconds
        return body(&target)
    }
}

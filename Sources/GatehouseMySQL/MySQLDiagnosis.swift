import Foundation
import GatehouseStorage
import Logging

/// Why MySQL cannot be used, in the server's words plus what to do about it, and the server
/// settings that weaken the durability promise.
enum MySQLDiagnosis {
    static func describe(_ error: MySQLError, target: MySQLTarget) -> String {
        let place = target.place
        let hint: String?
        switch error.number {
        case 1045: hint = "wrong password, or the user '\(target.user)' may not connect from this host"
        case 1044: hint = "GRANT the user '\(target.user)' its rights on `\(target.database)` (see docs/operations.md)"
        case 1049: hint = "CREATE DATABASE `\(target.database)` CHARACTER SET utf8mb4 on the server first"
        case 2002, 2003:
            if case .socket = target.endpoint {
                hint = "is MySQL/MariaDB running, and is this the server's socket?"
            } else {
                hint = "is MySQL/MariaDB running there, and does a firewall let the port through?"
            }
        case 2005: hint = "the host name does not resolve"
        case 2026: hint = "check ssl-mode and ssl-ca, and the server's TLS set-up (ssl_cert, ssl_key)"
        case 2013: hint = "the server did not finish the handshake within \(MySQLTarget.connectTimeoutSeconds) s"
        default: hint = nil
        }
        let cause = "MySQL at \(place) refused or failed the connection: \(error.message) (error \(error.number))"
        return hint.map { "\(cause) (\($0))" } ?? cause
    }

    /// Refuses a server without InnoDB or utf8mb4, and warns when the server acknowledges commits
    /// before they reach its disk (a `valid` answer could then be lost in a power cut).
    static func checkServer(_ db: MySQLConnection, logger: Logger) throws {
        let flush = try db.firstRow("SELECT @@innodb_flush_log_at_trx_commit", [], { $0.int(0) }) ?? 1
        if flush != 1 {
            logger.warning(
                "MySQL acknowledges commits before they are on disk",
                metadata: [
                    "db.setting": "innodb_flush_log_at_trx_commit=\(flush)",
                    "db.consequence": "check-ins answered valid in the last second before a server crash can be lost",
                ]
            )
        }
        let charset = try db.firstRow("SELECT @@character_set_client", [], { $0.text(0) }) ?? ""
        guard charset == "utf8mb4" else {
            throw StoreError.unavailable("the MySQL connection uses the character set \(charset), not utf8mb4")
        }
    }
}

import Foundation
import GatehousePostgres
import GatehouseService
import Logging

/// Opens the store a `--db` value names: a postgres:// URL means PostgreSQL, anything else is
/// a SQLite file path (the embedded default).
enum StoreOpener {
    static let defaultDatabase = "gatehouse-data/gatehouse.sqlite"

    /// The database named by `--db`, else `$GATEHOUSE_DB`, else the default file.
    static func location(flag: String?, environment: [String: String]) -> String {
        flag ?? environment["GATEHOUSE_DB"] ?? defaultDatabase
    }

    /// The location with any password hidden, for messages.
    static func redacted(_ location: String) -> String {
        isPostgres(location) ? PostgresURL.redacted(location) : location
    }

    static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    static func open(_ location: String, poolSize: Int = 8, logger: Logger = Logger(label: "gatehouse")) async throws -> any GatehouseStore {
        if isPostgres(location) {
            return try await PostgresStore.connect(url: location, poolSize: poolSize, logger: logger)
        }
        let directory = (location as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        return try SQLiteStore(path: location)
    }

    /// The folder for files that belong with the database (the admin token): the SQLite file's
    /// folder, or `--data-dir` / `$GATEHOUSE_DATA_DIR` / `gatehouse-data` for PostgreSQL.
    static func dataDirectory(for location: String, flag: String?, environment: [String: String]) -> String {
        if let flag { return flag }
        if let folder = environment["GATEHOUSE_DATA_DIR"] { return folder }
        if isPostgres(location) { return "gatehouse-data" }
        let directory = (location as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }
}

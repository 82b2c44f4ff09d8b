import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseSQLite
import GatehouseStorage
import GatehouseWeb
import Logging

#if MySQL
import GatehouseMySQL
#endif
#if PostgreSQL
import GatehousePostgres
#endif

/// Opens the store a `--db` value names (see `DatabaseLocation` for the accepted forms): connected
/// and migrated, its `services` not yet running.
public enum StoreOpener {
    public static let defaultDatabase = "gatehouse-data/gatehouse.sqlite"

    /// The database named by `--db`, else `$GATEHOUSE_DB`, else the default file.
    public static func location(flag: String?, environment: [String: String]) throws(DatabaseLocationError) -> DatabaseLocation {
        try DatabaseLocation.parse(flag ?? environment["GATEHOUSE_DB"] ?? defaultDatabase)
    }

    public static func open(
        _ location: DatabaseLocation,
        poolSize: Int = 8,
        limits: DatabaseLimits = .standard,
        logger: Logger = Logger(label: "gatehouse")
    ) async throws -> any GatehouseStore {
        switch location {
        case .postgres(let url):
            #if PostgreSQL
            return try await PostgresStore.open(url: url, poolSize: poolSize, limits: limits, logger: logger)
            #else
            _ = url
            throw InvalidInputError("this gatehouse was built without PostgreSQL (the PostgreSQL package trait): use a build with it, or SQLite")
            #endif
        case .mysql(let url):
            #if MySQL
            return try await MySQLStore.open(url: url, poolSize: poolSize, limits: limits, logger: logger)
            #else
            _ = url
            throw InvalidInputError("this gatehouse was built without MySQL/MariaDB (the MySQL package trait): use a build with it, or SQLite")
            #endif
        case .sqlite(let path, let createFolder):
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
                // Only a plain path makes its folder; a sqlite:/// URL names a file in a folder that exists.
                guard createFolder else { throw StoreError.unavailable("the folder \(directory) does not exist") }
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            return try SQLiteStore(path: path)
        }
    }

    /// The location for messages: a path as it is, a URL without its password.
    public static func describe(_ location: DatabaseLocation) -> String {
        switch location {
        case .sqlite(let path, _): return path
        case .postgres(let url), .mysql(let url): return DatabaseLocation.redacted(url)
        }
    }

    /// The folder for files that belong with the database (the admin token): the SQLite file's
    /// folder, or `--data-dir` / `$GATEHOUSE_DATA_DIR` / `gatehouse-data` for PostgreSQL.
    public static func dataDirectory(for location: DatabaseLocation, flag: String?, environment: [String: String]) -> String {
        if let flag { return flag }
        if let folder = environment["GATEHOUSE_DATA_DIR"] { return folder }
        switch location {
        case .postgres, .mysql: return "gatehouse-data"
        case .sqlite(let path, _):
            let directory = (path as NSString).deletingLastPathComponent
            return directory.isEmpty ? "." : directory
        }
    }
}

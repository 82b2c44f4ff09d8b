import Foundation

/// Opens the store a `--db` value names: a file path means SQLite (the embedded default).
public enum StoreOpener {
    public static let defaultDatabase = "gatehouse-data/gatehouse.sqlite"

    /// The database named by `--db`, else `$GATEHOUSE_DB`, else the default file.
    public static func location(flag: String?, environment: [String: String]) -> String {
        flag ?? environment["GATEHOUSE_DB"] ?? defaultDatabase
    }

    public static func open(_ location: String) throws -> any GatehouseStore {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            throw InvalidInputError("--db: PostgreSQL is not supported by this build yet; use a SQLite file path")
        }
        let directory = dataDirectory(for: location)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        return try SQLiteStore(path: location)
    }

    /// The folder for files that belong with the database (the admin token).
    public static func dataDirectory(for location: String) -> String {
        let directory = (location as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }
}

import CSQLite
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// An error from SQLite, with the operation that failed and SQLite's own message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let operation: String
    public let message: String

    /// SQLITE_CONSTRAINT and its extended codes: a unique or check constraint refused the write.
    public var isConstraintViolation: Bool { code & 0xff == SQLITE_CONSTRAINT }
    public var description: String { "SQLite \(operation) failed (\(code)): \(message)" }

    /// The database cannot serve right now (read-only, disk full, I/O error, cannot open, locked
    /// past the busy timeout): HTTP 503 and a failing health check, not a 500. The request was fine.
    public var isUnavailable: Bool {
        [
            SQLITE_READONLY, SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_CORRUPT, SQLITE_NOTADB,
            SQLITE_PERM,
        ]
        .contains(code & 0xff)
    }

    public init(code: Int32, operation: String, message: String) {
        self.code = code
        self.operation = operation
        self.message = message
    }
}

/// A value bound to a statement parameter.
public enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// One SQLite connection. Not thread-safe: each instance is used by one thread at a time
/// (the writer thread, or a reader borrowed from the pool).
public final class SQLiteConnection {
    private var handle: OpaquePointer?
    /// Prepared statements by SQL text. Check-ins run the same few statements thousands of times a
    /// second; preparing each once saves most of the per-statement cost.
    private var statements: [String: OpaquePointer] = [:]

    public init(path: String, readOnly: Bool = false) throws {
        if !readOnly { try Self.createPrivately(path) }
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: status, operation: "open \(path)", message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        // SQLite opens a write-protected file read-only without a word; every write would then fail.
        if !readOnly && sqlite3_db_readonly(db, "main") == 1 {
            throw SQLiteError(code: SQLITE_READONLY, operation: "open \(path)", message: "the database file or its folder is read-only")
        }
        // Another process (the admin CLI next to a running service) may hold the write lock.
        sqlite3_busy_timeout(db, 5000)
    }

    /// Holder names and e-mail addresses live in this file: only its owner may read it. SQLite
    /// gives the `-wal` and `-shm` files the main file's mode, so creating it 0600 covers all three.
    private static func createPrivately(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            // A read-only place still lets SQLite report it in its own words below.
            if code == EROFS || code == EACCES { return }
            throw SQLiteError(code: SQLITE_CANTOPEN, operation: "open \(path)", message: String(cString: strerror(code)))
        }
        close(fd)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that take no parameters and return no rows of interest.
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: status, operation: "execute", message: message)
        }
    }

    /// Runs a statement and hands each result row to `row`.
    public func query(_ sql: String, _ parameters: [SQLiteValue] = [], row: (SQLiteRow) throws -> Void) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try bind(parameters, to: statement)
        while true {
            let status = sqlite3_step(statement)
            switch status {
            case SQLITE_ROW: try row(SQLiteRow(statement: statement))
            case SQLITE_DONE: return
            default: throw SQLiteError(code: status, operation: "step", message: lastErrorMessage)
            }
        }
    }

    /// Rows mapped by `transform`.
    public func rows<T>(_ sql: String, _ parameters: [SQLiteValue] = [], _ transform: (SQLiteRow) throws -> T) throws -> [T] {
        var result: [T] = []
        try query(sql, parameters) { result.append(try transform($0)) }
        return result
    }

    /// The first row mapped by `transform`, or nil.
    public func firstRow<T>(_ sql: String, _ parameters: [SQLiteValue] = [], _ transform: (SQLiteRow) throws -> T) throws -> T? {
        var result: T?
        try query(sql, parameters) { row in
            if result == nil { result = try transform(row) }
        }
        return result
    }

    /// Runs a statement; returns how many rows it changed.
    @discardableResult
    /// Runs `body` in one write transaction (BEGIN IMMEDIATE: the write lock from the start, so
    /// nothing meets SQLITE_BUSY half-way): committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs a statement; returns the rows it changed, which most statements need not look at.
    @discardableResult
    public func run(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> Int {
        try query(sql, parameters) { _ in }
        return Int(sqlite3_changes(handle))
    }

    public var userVersion: Int {
        get throws { try firstRow("PRAGMA user_version") { Int($0.int(0)) } ?? 0 }
    }

    private var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw SQLiteError(code: status, operation: "prepare", message: lastErrorMessage)
        }
        statements[sql] = statement
        return statement
    }

    private func bind(_ parameters: [SQLiteValue], to statement: OpaquePointer) throws {
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .integer(let number): status = sqlite3_bind_int64(statement, index, number)
            case .text(let text):
                // With its byte length, not -1: a NUL inside must not cut the value short.
                var text = text
                status = text.withUTF8 { bytes in
                    guard let base = bytes.baseAddress, !bytes.isEmpty else {
                        return sqlite3_bind_text(statement, index, "", 0, gh_sqlite_transient())
                    }
                    return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite3_bind_text(statement, index, $0, Int32(bytes.count), gh_sqlite_transient())
                    }
                }
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { raw in
                    sqlite3_bind_blob(statement, index, raw.baseAddress, Int32(raw.count), gh_sqlite_transient())
                }
            case .null: status = sqlite3_bind_null(statement, index)
            }
            guard status == SQLITE_OK else { throw SQLiteError(code: status, operation: "bind", message: lastErrorMessage) }
        }
    }
}

/// A result row, valid only inside the `row` callback that received it.
public struct SQLiteRow {
    fileprivate let statement: OpaquePointer

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    public func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }
    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, column))), as: UTF8.self)
    }
    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
    public func optionalBlob(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : blob(column) }
}

extension SQLiteValue {
    public static func optional(_ text: String?) -> SQLiteValue { text.map { .text($0) } ?? .null }
    public static func optional(_ number: Int64?) -> SQLiteValue { number.map { .integer($0) } ?? .null }
    public static func optional(_ bytes: [UInt8]?) -> SQLiteValue { bytes.map { .blob($0) } ?? .null }
}

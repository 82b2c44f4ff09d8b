import CMariaDB
import Foundation
import GatehouseStorage

/// A parameter of a prepared statement. Text goes as utf8mb4, bytes as bytes: both binary-safe
/// (a NUL inside stays a NUL), since nothing is ever spliced into SQL text.
enum MySQLValue: Sendable {
    case text(String)
    case bytes([UInt8])
    case integer(Int64)
    case null

    static func optional(_ text: String?) -> MySQLValue { text.map(MySQLValue.text) ?? .null }
    static func optional(_ number: Int64?) -> MySQLValue { number.map(MySQLValue.integer) ?? .null }

    init(_ parameter: StoreRecords.Parameter) {
        switch parameter {
        case .text(let text): self = .text(text)
        case .integer(let number): self = .integer(number)
        case .bytes(let bytes): self = .bytes(bytes)
        case .null: self = .null
        }
    }
}

/// An error the server or the connector reported, with MySQL's error number.
struct MySQLError: Error, CustomStringConvertible {
    let number: UInt32
    let message: String
    /// What was being done (connect, prepare, execute, the SQL's first words).
    let operation: String

    var description: String { "MySQL error \(number) during \(operation): \(message)" }

    /// Errors that mean the database cannot serve now (gone, restarting, refusing, out of room),
    /// as opposed to something wrong with this request.
    var isUnavailable: Bool {
        switch number {
        case 2000...2999: return true  // client side: lost connection, cannot connect, timeout, …
        // too many connections, shutdown, aborted, packet errors
        case 1040, 1053, 1077, 1078, 1079, 1080, 1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161: return true
        case 1021, 1114, 1030: return true  // disk full, table full, storage engine error
        case 1205, 1213: return true  // lock wait timeout, deadlock (retried first, then reported)
        case 1290, 1836, 1792: return true  // read-only server or transaction
        case 1927, 4031: return true  // connection killed, idle disconnect
        default: return false
        }
    }

    /// InnoDB chose this transaction as a deadlock victim or timed out waiting for a lock: the
    /// whole transaction was (or should be) rolled back and may simply run again.
    var isRetryable: Bool { number == 1213 || number == 1205 }

    /// Too long for its column, or a character the column cannot hold: bad input, not an outage.
    var isBadValue: Bool { [1406, 1366, 1264, 1048, 1452].contains(number) }

    var storeError: StoreError {
        if isBadValue { return .invalid("MySQL refused a value: \(message)") }
        return .unavailable("MySQL: \(message) (error \(number), \(operation))")
    }
}

/// One row of a result, read by column number.
struct MySQLRow: StoreRow {
    fileprivate let statement: OpaquePointer

    func isNull(_ column: Int32) -> Bool { gh_mysql_column_is_null(statement, UInt32(column)) != 0 }
    func int(_ column: Int32) -> Int64 { gh_mysql_column_int64(statement, UInt32(column)) }
    func bytes(_ column: Int32) -> [UInt8] {
        var length = 0
        guard let pointer = gh_mysql_column_bytes(statement, UInt32(column), &length), length > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: length))
    }
    func text(_ column: Int32) -> String { String(decoding: bytes(column), as: UTF8.self) }
}

/// One connection to MySQL or MariaDB with a cache of prepared statements. Blocking, and not for
/// sharing: each is owned by one worker thread of `MySQLWorkers`.
final class MySQLConnection {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    /// The changes of tickets the write transaction in progress made, in order, to be numbered
    /// just before it commits (see `MySQLSchema.numberChanges`).
    private(set) var notedChanges: [NotedChange] = []
    /// Writes held back until the counter is taken, then written once with their numbers
    /// (`MySQLSchema.numberChanges`), where a write now and its numbering later would write each
    /// row twice.
    private(set) var numberedWrites: [NumberedWrite] = []
    /// Whether the job running now may hold writes back for the numbering: only the last job of
    /// a transaction, so no later job reads the rows before they are written.
    var mayHoldWritesForNumbering = false
    /// Whether the rows of one multi-row INSERT get consecutive AUTO_INCREMENT ids: InnoDB's
    /// "consecutive" or "traditional" lock mode and a step of 1. Asked on first need, so only a
    /// connection that writes log rows asks (`learnInsertIdOrder`).
    var insertIdsAreConsecutive: Bool { insertIdOrder ?? learnInsertIdOrder() }
    private var insertIdOrder: Bool?
    /// Statements the server has answered on this connection. When a statement fails and the
    /// count has not moved since some point, the server answered nothing sent after that point.
    private(set) var answeredStatements = 0

    init(_ target: MySQLTarget) throws(MySQLError) {
        var number: UInt32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let connected = target.withCTarget { cTarget in gh_mysql_connect(&cTarget, &number, &message, message.count) }
        guard let connected else {
            throw MySQLError(number: number, message: Self.string(message), operation: "connect to \(target.place)")
        }
        handle = connected
        // Every value is checked, never cut or bent to fit: a too-long name is an error to the
        // caller, not a shorter name in the database. READ COMMITTED: see MySQLSchema.
        try execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'")
        try execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        try execute("SET SESSION innodb_lock_wait_timeout = 5")
    }

    /// Asks the server whether one INSERT's ids are consecutive. Interleaved mode (MySQL 8's
    /// default) or a cluster's step (Galera sets one per node) may leave gaps between them; then
    /// the rows are found by a read instead (`numberChanges`), as they are when the answer fails.
    private func learnInsertIdOrder() -> Bool {
        let consecutive = (try? firstRow("SELECT @@innodb_autoinc_lock_mode <= 1 AND @@auto_increment_increment = 1", []) { $0.int(0) == 1 }) ?? false
        insertIdOrder = consecutive
        return consecutive
    }

    deinit {
        for statement in statements.values { gh_mysql_stmt_close(statement) }
        gh_mysql_close(handle)
    }

    var serverVersion: String { gh_mysql_server_info(handle).map { String(cString: $0) } ?? "?" }
    var tlsCipher: String? { gh_mysql_tls_cipher(handle).map { String(cString: $0) } }

    /// A statement without parameters or rows: transaction control, session settings, DDL.
    func execute(_ sql: String) throws(MySQLError) {
        let status = sql.withCString { gh_mysql_query(handle, $0, strlen($0)) }
        guard status == 0 else { throw connectionError(Self.operation(sql)) }
        answeredStatements &+= 1
    }

    /// Runs a prepared statement; returns the rows it changed (found rows for an UPDATE).
    @discardableResult
    func run(_ sql: String, _ parameters: [MySQLValue] = []) throws(MySQLError) -> Int {
        let statement = try prepared(sql, parameters)
        defer { gh_mysql_stmt_reset(statement) }
        return Int(gh_mysql_stmt_affected_rows(statement))
    }

    /// Runs a statement all SQL stores share.
    @discardableResult
    func run(_ statement: StoreStatement) throws(MySQLError) -> Int { try run(statement.sql, statement.parameters.map(MySQLValue.init)) }

    /// Runs an INSERT and returns the AUTO_INCREMENT id it made.
    func insert(_ sql: String, _ parameters: [MySQLValue]) throws(MySQLError) -> Int64 {
        let statement = try prepared(sql, parameters)
        defer { gh_mysql_stmt_reset(statement) }
        return Int64(gh_mysql_stmt_insert_id(statement))
    }

    func rows<T>(_ sql: String, _ parameters: [MySQLValue] = [], _ map: (MySQLRow) throws -> T) throws -> [T] {
        let statement = try prepared(sql, parameters)
        defer { gh_mysql_stmt_reset(statement) }
        var result: [T] = []
        while true {
            switch gh_mysql_stmt_fetch(statement) {
            case 1: result.append(try map(MySQLRow(statement: statement)))
            case 0: return result
            default: throw statementError(statement, Self.operation(sql))
            }
        }
    }

    func firstRow<T>(_ sql: String, _ parameters: [MySQLValue] = [], _ map: (MySQLRow) throws -> T) throws -> T? {
        try rows(sql, parameters, map).first
    }

    private func prepared(_ sql: String, _ parameters: [MySQLValue]) throws(MySQLError) -> OpaquePointer {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var number: UInt32 = 0
            var message = [CChar](repeating: 0, count: 512)
            guard let made = sql.withCString({ gh_mysql_prepare(handle, $0, strlen($0), &number, &message, message.count) }) else {
                throw MySQLError(number: number, message: Self.string(message), operation: "prepare " + Self.operation(sql))
            }
            statements[sql] = made
            statement = made
        }
        precondition(gh_mysql_stmt_param_count(statement) == parameters.count, "\(parameters.count) parameters for: \(sql)")
        for (index, value) in parameters.enumerated() {
            let column = UInt32(index)
            let status: Int32
            switch value {
            case .null: status = gh_mysql_bind_null(statement, column)
            case .integer(let number): status = gh_mysql_bind_int64(statement, column, number)
            case .bytes(let bytes): status = bytes.withUnsafeBytes { gh_mysql_bind_bytes(statement, column, $0.baseAddress, $0.count, 0) }
            case .text(let text):
                var text = text
                status = text.withUTF8 { gh_mysql_bind_bytes(statement, column, $0.baseAddress, $0.count, 1) }
            }
            guard status == 0 else { throw MySQLError(number: 2008, message: "out of memory binding a parameter", operation: Self.operation(sql)) }
        }
        guard gh_mysql_stmt_execute(statement) == 0 else { throw statementError(statement, Self.operation(sql)) }
        answeredStatements &+= 1
        return statement
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("START TRANSACTION")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func connectionError(_ operation: String) -> MySQLError {
        MySQLError(number: gh_mysql_errno(handle), message: String(cString: gh_mysql_error(handle)), operation: operation)
    }

    private func statementError(_ statement: OpaquePointer, _ operation: String) -> MySQLError {
        MySQLError(number: gh_mysql_stmt_errno(statement), message: String(cString: gh_mysql_stmt_error(statement)), operation: operation)
    }

    /// The first two words of a statement, to say what failed without quoting values.
    private static func operation(_ sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3).joined(separator: " ")
    }

    private static func string(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

extension MySQLConnection {
    /// What a new or changed ticket's `change_seq` may hold until its transaction numbers it
    /// (a check-in's write leaves the old number): never seen outside the transaction, which
    /// numbers every change before it commits.
    static let unnumbered: Int64 = 0

    /// A change this write transaction made, to be numbered before it commits.
    enum NotedChange {
        /// One ticket, by id.
        case ticket(String)
        /// Tickets just issued, numbered `first` to `first + count - 1` in their event: one
        /// range, so issuing 20,000 tickets is numbered by one statement, not by 20,000 ids.
        case issued(eventId: String, first: Int64, count: Int)
        /// Rows logged (or marked) in the event's check-in log: `stream_seq` 0 until numbered.
        /// `from`: no row of them has a smaller id (they were inserted, from that id on); nil
        /// when some may (a row marked again).
        case logged(eventId: String, from: Int64?)
        /// Rows this transaction inserted in the check-in log with exactly these ids.
        case inserted(ids: ClosedRange<Int64>)
        /// One scan's row marked an offline admission.
        case marked(deviceId: String, scanId: String)
    }

    /// Notes a change of `ticket` in this write transaction, for `MySQLSchema.numberChanges`.
    func changed(ticket id: String) { notedChanges.append(.ticket(id)) }

    /// Notes tickets issued in this write transaction, for `MySQLSchema.numberChanges`.
    func issued(eventId: String, first: Int64, count: Int) { notedChanges.append(.issued(eventId: eventId, first: first, count: count)) }

    /// Notes rows logged or marked in the event's check-in log, for `MySQLSchema.numberChanges`;
    /// `from` as in `NotedChange.logged`.
    func logged(eventId: String, from firstId: Int64? = nil) { notedChanges.append(.logged(eventId: eventId, from: firstId)) }

    /// Notes log rows one INSERT of `count` rows made, its first id `firstId`: by their ids when
    /// they are sure to be consecutive, else as rows of `eventIds` to be found.
    func inserted(count: Int, firstId: Int64, eventIds: some Sequence<String>) {
        if count == 1 || insertIdsAreConsecutive {
            notedChanges.append(.inserted(ids: firstId...(firstId + Int64(count) - 1)))
        } else {
            for eventId in eventIds { logged(eventId: eventId, from: firstId) }
        }
    }

    /// Notes a scan's row marked an offline admission, for `MySQLSchema.numberChanges`.
    func marked(deviceId: String, scanId: String) { notedChanges.append(.marked(deviceId: deviceId, scanId: scanId)) }

    /// A write of `count` changes that takes their numbers, `first` to `first + count - 1`, as
    /// it writes them. The rows it writes must be locked by this transaction before it is held
    /// back: it runs while the transaction holds the change counter, and a row lock it waited
    /// for there would hold every writer up (they wait for the counter). Two waits remain, both
    /// for another batch at the same instant, and both end at once: a ticket the batch's read
    /// locked shared that another batch read too (one code at two gates; each batch then waits
    /// for the other, one for the counter, one for the row), and a new log row whose device and
    /// scanId another process logs at that instant (a retry that reached two processes). InnoDB
    /// finds the cycle and rolls one of the two back as a deadlock victim; the writer runs that
    /// batch again, which reads the ticket or scan as the other left it.
    struct NumberedWrite {
        let count: Int
        let write: (_ db: MySQLConnection, _ first: Int64) throws -> Void
    }

    /// Holds a write back until the transaction's changes are numbered; see `NumberedWrite`.
    func holdForNumbering(_ write: NumberedWrite) {
        precondition(mayHoldWritesForNumbering, "a write held back for the numbering outside the transaction's last job")
        numberedWrites.append(write)
    }

    /// Forgets the changes noted: a transaction begins.
    func forgetChanges() {
        notedChanges.removeAll(keepingCapacity: true)
        numberedWrites.removeAll(keepingCapacity: true)
    }

    /// Forgets the changes noted after the first `count`: a job rolled back to its savepoint.
    func forgetChanges(since count: Int) { notedChanges.removeSubrange(count...) }
}

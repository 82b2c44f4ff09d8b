import Foundation
import GatehouseStorage
import SQLiteSupport
import Synchronization

/// Read-only connections for queries that change nothing (admin listings, lookups).
///
/// In WAL mode readers never block the writer nor wait for it, so listings of a busy event do
/// not delay check-ins. Reads block a thread while SQLite works, so they run on Dispatch's
/// threads, never on Swift's cooperative pool.
final class SQLiteReaderPool: Sendable {
    private let path: String
    private let idle = Mutex<[ConnectionBox]>([])
    private let maximumIdle: Int

    init(path: String, maximumIdle: Int = 4) {
        self.path = path
        self.maximumIdle = maximumIdle
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.readNow(body) }.mapError(SQLiteWriter.mapped))
            }
        }
    }

    private func readNow<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let box = try idle.withLock { $0.popLast() } ?? ConnectionBox(try SQLiteConnection(path: path, readOnly: true))
        defer {
            idle.withLock { connections in
                if connections.count < maximumIdle { connections.append(box) }
            }
        }
        // A read transaction so a multi-statement read sees one snapshot.
        try box.connection.execute("BEGIN")
        defer { try? box.connection.execute("COMMIT") }
        return try body(box.connection)
    }
}

/// A connection parked in the pool; only one borrower uses it at a time.
private final class ConnectionBox: @unchecked Sendable {
    let connection: SQLiteConnection
    init(_ connection: SQLiteConnection) { self.connection = connection }
}

import Foundation
import GatehouseCore
import GatehouseStorage
import PostgresNIO

/// Webhooks (`Webhook`), with the statements the other stores run; a claim skips rows another
/// process is claiming instead of waiting for it.
extension PostgresStore {
    public func addWebhook(_ webhook: NewWebhook, at: Date) async throws -> Webhook {
        try await guarded { [self] in
            // The end of the stream as a reader sees it: every transaction older than the oldest
            // still running. Rows of those still running (or later) come after this place.
            let rows = try await client.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", logger: logger).collect()
            let watermark = try rows.first?.decode(Int64.self) ?? 1
            let start = ChangeCursor(transaction: watermark - 1, position: Int64.max)
            _ = try await client.query(PostgresQuery(WebhookStatements.insert(webhook, start: start, at: at)), logger: logger).collect()
            let stored = try await client.query(PostgresQuery(WebhookStatements.one(id: webhook.id)), logger: logger).collect()
            return WebhookStatements.webhook(PostgresCells(row: stored[0].makeRandomAccess()))
        }
    }

    public func webhooks(eventId: String) async throws -> [Webhook] {
        try await guarded { [self] in
            try await client.query(PostgresQuery(WebhookStatements.list(eventId: eventId)), logger: logger).collect().map {
                WebhookStatements.webhook(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
    }

    public func webhook(id: String) async throws -> Webhook? {
        try await guarded { [self] in
            try await client.query(PostgresQuery(WebhookStatements.one(id: id)), logger: logger).collect().first.map {
                WebhookStatements.webhook(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
    }

    public func deleteWebhook(id: String) async throws -> Bool {
        try await guarded { [self] in
            var statement = WebhookStatements.delete(id: id)
            statement.sql += " RETURNING 1"
            return try await !client.query(PostgresQuery(statement), logger: logger).collect().isEmpty
        }
    }

    public func claimWebhooks(at: Date, leaseUntil: Date, limit: Int) async throws -> [ClaimedWebhook] {
        try await guarded { [self] in
            let columns = WebhookStatements.columns
            return try await client.query(
                """
                UPDATE webhooks SET lease_until = \(leaseUntil.millis)
                WHERE id IN (
                    SELECT id FROM webhooks
                    WHERE next_attempt_at <= \(at.millis) AND (lease_until IS NULL OR lease_until <= \(at.millis))
                    ORDER BY next_attempt_at, id LIMIT \(Int64(limit))
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING \(unescaped: columns)
                """,
                logger: logger
            ).collect().map { WebhookStatements.claimed(PostgresCells(row: $0.makeRandomAccess())) }
        }
    }

    public func mailOutboxDepth() async throws -> MailOutboxDepth {
        try await guarded { [self] in
            let rows = try await client.query(PostgresQuery(OutboxStatements.depth), logger: logger).collect()
            return OutboxStatements.depth(PostgresCells(row: rows[0].makeRandomAccess()))
        }
    }

    public func settleWebhook(id: String, _ settlement: WebhookSettlement) async throws {
        try await guarded { [self] in
            _ = try await client.query(PostgresQuery(WebhookStatements.settle(id: id, settlement)), logger: logger).collect()
        }
    }
}

/// The small tables' statements (`AccountStatements`), their placeholders numbered.
extension PostgresStore {
    public func rows<T: Sendable>(_ statement: StoreStatement, _ decode: @escaping @Sendable (any StoreRow) -> T) async throws -> [T] {
        try await guarded { [self] in
            try await client.query(PostgresQuery(statement), logger: logger).collect().map { decode(PostgresCells(row: $0.makeRandomAccess())) }
        }
    }

    @discardableResult
    public func change(_ statements: [StoreStatement]) async throws -> [Int] {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                var changed: [Int] = []
                for statement in statements {
                    let isRead = statement.sql.uppercased().hasPrefix("SELECT")
                    changed.append(
                        isRead
                            ? try await connection.query(PostgresQuery(statement), logger: logger).collect().count
                            : try await connection.run(statement, logger: logger)
                    )
                }
                return changed
            }
        }
    }
}

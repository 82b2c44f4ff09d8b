import Foundation
import GatehouseCore
import GatehouseStorage

/// Webhooks (`Webhook`): a claim is a conditional update, so of two processes claiming one
/// webhook one changes the row and the other nothing.
extension MySQLStore {
    public func addWebhook(_ webhook: NewWebhook, at: Date) async throws -> Webhook {
        try await write { db in
            // Numbered rows only: this transaction's own are numbered as it commits, after this.
            let end = try db.firstRow("SELECT coalesce(max(stream_seq), 0) FROM checkins WHERE event_id = ?", [.text(webhook.eventId)]) { $0.int(0) }
            _ = try db.run(WebhookStatements.insert(webhook, start: ChangeCursor(position: end ?? 0), at: at))
            return try db.rows(WebhookStatements.one(id: webhook.id), WebhookStatements.webhook)[0]
        }
    }

    public func webhooks(eventId: String) async throws -> [Webhook] {
        try await read { db in try db.rows(WebhookStatements.list(eventId: eventId), WebhookStatements.webhook) }
    }

    public func webhook(id: String) async throws -> Webhook? {
        try await read { db in try db.rows(WebhookStatements.one(id: id), WebhookStatements.webhook).first }
    }

    public func deleteWebhook(id: String) async throws -> Bool {
        try await write { db in try db.run(WebhookStatements.delete(id: id)) > 0 }
    }

    public func claimWebhooks(at: Date, leaseUntil: Date, limit: Int) async throws -> [ClaimedWebhook] {
        try await write { db in
            let ids = try db.rows(WebhookStatements.due(at: at, limit: limit)) { $0.text(0) }
            return try ids.compactMap { id in
                guard try db.run(WebhookStatements.lease(id: id, at: at, until: leaseUntil)) == 1 else { return nil }
                return try db.rows(WebhookStatements.one(id: id), WebhookStatements.claimed).first
            }
        }
    }

    public func mailOutboxDepth() async throws -> MailOutboxDepth {
        try await read { db in try db.rows(OutboxStatements.depth, OutboxStatements.depth)[0] }
    }

    public func settleWebhook(id: String, _ settlement: WebhookSettlement) async throws {
        try await write { db in _ = try db.run(WebhookStatements.settle(id: id, settlement)) }
    }
}

/// The small tables' statements (`AccountStatements`), run as they are.
extension MySQLStore {
    public func rows<T: Sendable>(_ statement: StoreStatement, _ decode: @escaping @Sendable (any StoreRow) -> T) async throws -> [T] {
        try await read { db in try db.rows(statement) { decode($0) } }
    }

    @discardableResult
    public func change(_ statements: [StoreStatement]) async throws -> [Int] {
        try await write { db in try statements.map { try db.run($0) } }
    }
}

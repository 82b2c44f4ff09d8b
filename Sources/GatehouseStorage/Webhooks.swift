import Foundation
import GatehouseCore

/// An organizer's webhook: where an event's check-ins, conflicts and device states are posted.
///
/// The queue is the check-in log itself: a webhook keeps its place in the event stream
/// (`cursor`, the last row its receiver took), and a delivery sends the rows after it, so nothing
/// is copied per row and a receiver that is down gets every row once it is back. Device states
/// are levels, not log rows: the webhook keeps the last it sent of each (`deviceStates`) and
/// sends the changes.
public struct Webhook: Codable, Sendable, Equatable {
    public var id: String
    public var eventId: String
    public var url: String
    public var createdAt: Date
    /// When the receiver last took a delivery.
    public var deliveredAt: Date?
    /// Deliveries refused or failed in a row since the last that was taken.
    public var failures: Int
    /// When the next delivery is due (after a failure, the back-off).
    public var nextAttemptAt: Date
    /// What the last failure was: the receiver's status, or why it could not be reached.
    public var lastError: String?

    public init(
        id: String,
        eventId: String,
        url: String,
        createdAt: Date,
        deliveredAt: Date? = nil,
        failures: Int = 0,
        nextAttemptAt: Date,
        lastError: String? = nil
    ) {
        self.id = id
        self.eventId = eventId
        self.url = url
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
        self.failures = failures
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }
}

/// A webhook to store: its secret, and where in the event's stream it starts.
public struct NewWebhook: Sendable, Equatable {
    public var id: String
    public var eventId: String
    public var url: String
    public var secret: String

    public init(id: String, eventId: String, url: String, secret: String) {
        self.id = id
        self.eventId = eventId
        self.url = url
        self.secret = secret
    }
}

/// A webhook a deliverer took (it holds the lease until it settles it): what it needs to post.
public struct ClaimedWebhook: Sendable, Equatable {
    public var webhook: Webhook
    public var secret: String
    /// The last row of the log the receiver took.
    public var cursor: ChangeCursor
    /// The device states last sent, JSON (`{deviceId: state}`).
    public var deviceStates: String

    public init(webhook: Webhook, secret: String, cursor: ChangeCursor, deviceStates: String) {
        self.webhook = webhook
        self.secret = secret
        self.cursor = cursor
        self.deviceStates = deviceStates
    }
}

/// How a delivery ended, for `GatehouseStore.settleWebhook`.
public enum WebhookSettlement: Sendable, Equatable {
    /// The receiver took it (or there was nothing to send): the webhook moves on to `cursor`.
    case delivered(cursor: ChangeCursor, deviceStates: String, at: Date?, next: Date)
    /// Not taken: the place stays, the next try waits.
    case failed(error: String, next: Date)
}

/// The webhook statements, one text for all three stores (`?` placeholders, which PostgreSQL's
/// store numbers).
public enum WebhookStatements {
    public static let columns =
        "id, event_id, url, created_at, delivered_at, failures, next_attempt_at, last_error, secret, cursor_xact, cursor_seq, device_states"

    public static func insert(_ webhook: NewWebhook, start: ChangeCursor, at: Date) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO webhooks (id, event_id, url, secret, created_at, failures, next_attempt_at, cursor_xact, cursor_seq, device_states)
                VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, '{}')
                """,
            parameters: [
                .text(webhook.id), .text(webhook.eventId), .text(webhook.url), .text(webhook.secret), .integer(at.millis), .integer(at.millis),
                .integer(start.transaction), .integer(start.position),
            ]
        )
    }

    public static func list(eventId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(columns) FROM webhooks WHERE event_id = ? ORDER BY created_at, id", parameters: [.text(eventId)])
    }

    public static func one(id: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(columns) FROM webhooks WHERE id = ?", parameters: [.text(id)])
    }

    public static func delete(id: String) -> StoreStatement {
        StoreStatement(sql: "DELETE FROM webhooks WHERE id = ?", parameters: [.text(id)])
    }

    /// Due webhooks no deliverer holds, oldest due first.
    public static func due(at: Date, limit: Int) -> StoreStatement {
        StoreStatement(
            sql: """
                SELECT id FROM webhooks WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                ORDER BY next_attempt_at, id LIMIT ?
                """,
            parameters: [.integer(at.millis), .integer(at.millis), .integer(Int64(limit))]
        )
    }

    /// Takes one due webhook unless another deliverer took it meanwhile (one row changed, or none).
    public static func lease(id: String, at: Date, until: Date) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE webhooks SET lease_until = ? WHERE id = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)",
            parameters: [.integer(until.millis), .text(id), .integer(at.millis), .integer(at.millis)]
        )
    }

    /// Ends a claim. A webhook deleted meanwhile changes nothing.
    public static func settle(id: String, _ settlement: WebhookSettlement) -> StoreStatement {
        switch settlement {
        case .delivered(let cursor, let states, let at?, let next):
            return StoreStatement(
                sql: """
                    UPDATE webhooks SET lease_until = NULL, cursor_xact = ?, cursor_seq = ?, device_states = ?, delivered_at = ?,
                        failures = 0, last_error = NULL, next_attempt_at = ?
                    WHERE id = ?
                    """,
                parameters: [
                    .integer(cursor.transaction), .integer(cursor.position), .text(states), .integer(at.millis), .integer(next.millis), .text(id),
                ]
            )
        case .delivered(let cursor, let states, nil, let next):
            // Nothing was sent: the place moves past rows the webhook has no use for (none yet).
            return StoreStatement(
                sql: "UPDATE webhooks SET lease_until = NULL, cursor_xact = ?, cursor_seq = ?, device_states = ?, next_attempt_at = ? WHERE id = ?",
                parameters: [.integer(cursor.transaction), .integer(cursor.position), .text(states), .integer(next.millis), .text(id)]
            )
        case .failed(let error, let next):
            return StoreStatement(
                sql: "UPDATE webhooks SET lease_until = NULL, failures = failures + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                parameters: [.text(error), .integer(next.millis), .text(id)]
            )
        }
    }

    /// A row of `columns`.
    public static func claimed(_ row: some StoreRow) -> ClaimedWebhook {
        ClaimedWebhook(
            webhook: webhook(row),
            secret: row.text(8),
            cursor: ChangeCursor(transaction: row.int(9), position: row.int(10)),
            deviceStates: row.text(11)
        )
    }

    /// A row of `columns`, without its secret.
    public static func webhook(_ row: some StoreRow) -> Webhook {
        Webhook(
            id: row.text(0),
            eventId: row.text(1),
            url: row.text(2),
            createdAt: Date(millis: row.int(3)),
            deliveredAt: row.optionalInt(4).map(Date.init(millis:)),
            failures: Int(row.int(5)),
            nextAttemptAt: Date(millis: row.int(6)),
            lastError: row.optionalText(7)
        )
    }
}

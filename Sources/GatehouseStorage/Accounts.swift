import Foundation
import GatehouseCore

/// What a person may do: each role includes what the ones below it may, on the events it is
/// granted.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Everything, on every event, and manages accounts.
    case owner
    /// Events, tickets, devices, lists, registration and webhooks.
    case organizer
    /// Searches tickets, checks in by hand, re-issues and sends tickets again.
    case boxoffice
    /// The staff scanner only.
    case steward

    private var rank: Int {
        switch self {
        case .steward: 0
        case .boxoffice: 1
        case .organizer: 2
        case .owner: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// The way people write it: "box office" and "box-office" are the box office.
    public init?(typed: String) {
        let plain = typed.lowercased().filter { $0.isLetter }
        self.init(rawValue: plain)
    }
}

/// A person who signs in to the organizer's pages or holds personal API tokens.
public struct Account: Codable, Sendable, Equatable {
    public var id: String
    /// Lowercased: one address is one account, however it is typed.
    public var email: String
    public var role: Role
    /// The events the account may work on; empty means every event (owners always have every one).
    public var eventIds: [String]
    public var createdAt: Date
    public var disabledAt: Date?
    public var hasPassword: Bool
    public var passwordChangedAt: Date?

    public init(
        id: String,
        email: String,
        role: Role,
        eventIds: [String],
        createdAt: Date,
        disabledAt: Date? = nil,
        hasPassword: Bool = false,
        passwordChangedAt: Date? = nil
    ) {
        self.id = id
        self.email = email
        self.role = role
        self.eventIds = eventIds
        self.createdAt = createdAt
        self.disabledAt = disabledAt
        self.hasPassword = hasPassword
        self.passwordChangedAt = passwordChangedAt
    }

    /// Whether the account may work on `eventId` at all (its role says what it may do there).
    public func covers(eventId: String) -> Bool {
        role == .owner || eventIds.isEmpty || eventIds.contains(eventId)
    }

    public var coversEveryEvent: Bool { role == .owner || eventIds.isEmpty }
}

/// An account as stored: with its password hash (PHC string, `$argon2id$…`) and set-password link.
public struct StoredAccount: Sendable, Equatable {
    public var account: Account
    public var passwordHash: String?
    public var linkHash: [UInt8]?
    public var linkExpiresAt: Date?
}

/// A signed-in browser's session, as stored (the cookie's value only as its hash).
public struct StoredSession: Sendable, Equatable {
    public var accountId: String
    public var createdAt: Date
    public var seenAt: Date
}

/// A personal API token (never the secret: that is shown once).
public struct APITokenInfo: Codable, Sendable, Equatable {
    public var id: String
    public var accountId: String
    public var name: String
    public var createdAt: Date
    public var usedAt: Date?
    public var revokedAt: Date?

    public init(id: String, accountId: String, name: String, createdAt: Date, usedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.accountId = accountId
        self.name = name
        self.createdAt = createdAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
    }
}

/// One line of the audit trail: who did what, when, from where. Written, never changed.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var accountId: String?
    /// The account's e-mail, "admin token" for the shared token, or "command line".
    public var actor: String
    public var address: String?
    /// What was done, in words (`AuditAction`), e.g. "ticket revoked".
    public var action: String
    public var eventId: String?
    /// What it was done to: a ticket, device, list or account id, or an e-mail for a sign-in.
    public var subject: String?
    /// The outcome or other details, e.g. "refused: the role may not".
    public var detail: String?

    public init(
        id: Int64 = 0,
        at: Date,
        accountId: String?,
        actor: String,
        address: String?,
        action: String,
        eventId: String? = nil,
        subject: String? = nil,
        detail: String? = nil
    ) {
        self.id = id
        self.at = at
        self.accountId = accountId
        self.actor = actor
        self.address = address
        self.action = action
        self.eventId = eventId
        self.subject = subject
        self.detail = detail
    }
}

/// The statements of accounts, sessions, tokens and the audit trail: one text for all three
/// stores (`?` placeholders, which PostgreSQL's store numbers), run through
/// `GatehouseStore.rows` and `GatehouseStore.change`.
public enum AccountStatements {
    static let accountColumns =
        "id, email, role, event_ids, created_at, disabled_at, password_hash, password_changed_at, link_hash, link_expires_at"

    public static func insert(_ account: Account, linkHash: [UInt8]?, linkExpiresAt: Date?) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO accounts (id, email, role, event_ids, created_at, link_hash, link_expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            parameters: [
                .text(account.id), .text(account.email), .text(account.role.rawValue), .text(account.eventIds.joined(separator: " ")),
                .integer(account.createdAt.millis), linkHash.map { .bytes($0) } ?? .null, .optional(linkExpiresAt?.millis),
            ]
        )
    }

    public static func byEmail(_ email: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(accountColumns) FROM accounts WHERE email = ?", parameters: [.text(email)])
    }

    public static func byId(_ id: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(accountColumns) FROM accounts WHERE id = ?", parameters: [.text(id)])
    }

    public static func byLink(_ hash: [UInt8]) -> StoreStatement {
        StoreStatement(sql: "SELECT \(accountColumns) FROM accounts WHERE link_hash = ?", parameters: [.bytes(hash)])
    }

    public static let all = StoreStatement(sql: "SELECT \(accountColumns) FROM accounts ORDER BY email", parameters: [])

    public static let count = StoreStatement(sql: "SELECT count(*) FROM accounts", parameters: [])

    public static func account(_ row: any StoreRow) -> StoredAccount {
        let hash = row.optionalText(6)
        let events = row.text(3)
        return StoredAccount(
            account: Account(
                id: row.text(0),
                email: row.text(1),
                role: Role(rawValue: row.text(2)) ?? .steward,
                eventIds: events.isEmpty ? [] : events.split(separator: " ").map(String.init),
                createdAt: Date(millis: row.int(4)),
                disabledAt: row.optionalInt(5).map(Date.init(millis:)),
                hasPassword: hash != nil,
                passwordChangedAt: row.optionalInt(7).map(Date.init(millis:))
            ),
            passwordHash: hash,
            linkHash: row.isNull(8) ? nil : row.bytes(8),
            linkExpiresAt: row.optionalInt(9).map(Date.init(millis:))
        )
    }

    /// A new password: the link is spent, and every session of the account ends (the one the
    /// change was made from, if any, is made again by the caller).
    public static func setPassword(accountId: String, hash: String, at: Date) -> [StoreStatement] {
        [
            StoreStatement(
                sql: "UPDATE accounts SET password_hash = ?, password_changed_at = ?, link_hash = NULL, link_expires_at = NULL WHERE id = ?",
                parameters: [.text(hash), .integer(at.millis), .text(accountId)]
            ),
            StoreStatement(sql: "DELETE FROM sessions WHERE account_id = ?", parameters: [.text(accountId)]),
        ]
    }

    public static func setLink(accountId: String, hash: [UInt8], expiresAt: Date) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE accounts SET link_hash = ?, link_expires_at = ? WHERE id = ?",
            parameters: [.bytes(hash), .integer(expiresAt.millis), .text(accountId)]
        )
    }

    public static func setRole(accountId: String, role: Role, eventIds: [String]) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE accounts SET role = ?, event_ids = ? WHERE id = ?",
            parameters: [.text(role.rawValue), .text(eventIds.joined(separator: " ")), .text(accountId)]
        )
    }

    /// Disabled or enabled again; disabling ends every session and revokes every token at once.
    public static func setDisabled(accountId: String, at: Date?) -> [StoreStatement] {
        var statements = [
            StoreStatement(sql: "UPDATE accounts SET disabled_at = ? WHERE id = ?", parameters: [.optional(at?.millis), .text(accountId)])
        ]
        if let at {
            statements.append(StoreStatement(sql: "DELETE FROM sessions WHERE account_id = ?", parameters: [.text(accountId)]))
            statements.append(
                StoreStatement(
                    sql: "UPDATE api_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
                    parameters: [.integer(at.millis), .text(accountId)]
                )
            )
        }
        return statements
    }

    // MARK: Sessions

    public static func insertSession(hash: [UInt8], accountId: String, at: Date, address: String?) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO sessions (id_hash, account_id, created_at, seen_at, address) VALUES (?, ?, ?, ?, ?)",
            parameters: [.bytes(hash), .text(accountId), .integer(at.millis), .integer(at.millis), .optional(address)]
        )
    }

    public static func session(hash: [UInt8]) -> StoreStatement {
        StoreStatement(sql: "SELECT account_id, created_at, seen_at FROM sessions WHERE id_hash = ?", parameters: [.bytes(hash)])
    }

    public static func storedSession(_ row: any StoreRow) -> StoredSession {
        StoredSession(accountId: row.text(0), createdAt: Date(millis: row.int(1)), seenAt: Date(millis: row.int(2)))
    }

    public static func touchSession(hash: [UInt8], at: Date) -> StoreStatement {
        StoreStatement(sql: "UPDATE sessions SET seen_at = ? WHERE id_hash = ?", parameters: [.integer(at.millis), .bytes(hash)])
    }

    public static func deleteSession(hash: [UInt8]) -> StoreStatement {
        StoreStatement(sql: "DELETE FROM sessions WHERE id_hash = ?", parameters: [.bytes(hash)])
    }

    /// An account's sessions past their idle or absolute limit (swept at its next sign-in, so the
    /// table holds at most a few ended sessions per account).
    public static func deleteExpiredSessions(accountId: String, idleSince: Date, createdBefore: Date) -> StoreStatement {
        StoreStatement(
            sql: "DELETE FROM sessions WHERE account_id = ? AND (seen_at < ? OR created_at < ?)",
            parameters: [.text(accountId), .integer(idleSince.millis), .integer(createdBefore.millis)]
        )
    }

    public static func sessionCount(accountId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT count(*) FROM sessions WHERE account_id = ?", parameters: [.text(accountId)])
    }

    // MARK: Browsers an account signed in from

    public static func rememberBrowser(accountId: String, hash: [UInt8], at: Date) -> [StoreStatement] {
        [
            StoreStatement(sql: "DELETE FROM known_browsers WHERE account_id = ? AND mark_hash = ?", parameters: [.text(accountId), .bytes(hash)]),
            StoreStatement(
                sql: "INSERT INTO known_browsers (account_id, mark_hash, seen_at) VALUES (?, ?, ?)",
                parameters: [.text(accountId), .bytes(hash), .integer(at.millis)]
            ),
        ]
    }

    public static func knownBrowser(accountId: String, hash: [UInt8], since: Date) -> StoreStatement {
        StoreStatement(
            sql: "SELECT count(*) FROM known_browsers WHERE account_id = ? AND mark_hash = ? AND seen_at >= ?",
            parameters: [.text(accountId), .bytes(hash), .integer(since.millis)]
        )
    }

    // MARK: Personal API tokens

    public static func insertToken(_ token: APITokenInfo, hash: [UInt8]) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO api_tokens (id, account_id, token_hash, name, created_at) VALUES (?, ?, ?, ?, ?)",
            parameters: [.text(token.id), .text(token.accountId), .bytes(hash), .text(token.name), .integer(token.createdAt.millis)]
        )
    }

    static let tokenColumns = "id, account_id, name, created_at, used_at, revoked_at"

    public static func token(hash: [UInt8]) -> StoreStatement {
        StoreStatement(sql: "SELECT \(tokenColumns) FROM api_tokens WHERE token_hash = ?", parameters: [.bytes(hash)])
    }

    public static func tokens(accountId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(tokenColumns) FROM api_tokens WHERE account_id = ? ORDER BY created_at, id", parameters: [.text(accountId)])
    }

    public static func tokenInfo(_ row: any StoreRow) -> APITokenInfo {
        APITokenInfo(
            id: row.text(0),
            accountId: row.text(1),
            name: row.text(2),
            createdAt: Date(millis: row.int(3)),
            usedAt: row.optionalInt(4).map(Date.init(millis:)),
            revokedAt: row.optionalInt(5).map(Date.init(millis:))
        )
    }

    public static func revokeToken(id: String, at: Date) -> StoreStatement {
        StoreStatement(sql: "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", parameters: [.integer(at.millis), .text(id)])
    }

    public static func tokenUsed(id: String, at: Date) -> StoreStatement {
        StoreStatement(sql: "UPDATE api_tokens SET used_at = ? WHERE id = ?", parameters: [.integer(at.millis), .text(id)])
    }

    // MARK: Audit trail

    public static func appendAudit(_ entry: AuditEntry) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO audit_log (at, account_id, actor, address, action, event_id, subject, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            parameters: [
                .integer(entry.at.millis), .optional(entry.accountId), .text(entry.actor), .optional(entry.address), .text(entry.action),
                .optional(entry.eventId), .optional(entry.subject), .optional(entry.detail),
            ]
        )
    }

    /// The newest entries first, of one event or all; `before` pages back by id.
    public static func audit(eventId: String?, before: Int64?, limit: Int) -> StoreStatement {
        var sql = "SELECT id, at, account_id, actor, address, action, event_id, subject, detail FROM audit_log WHERE 1 = 1"
        var parameters: [StoreRecords.Parameter] = []
        if let eventId {
            sql += " AND event_id = ?"
            parameters.append(.text(eventId))
        }
        if let before {
            sql += " AND id < ?"
            parameters.append(.integer(before))
        }
        sql += " ORDER BY id DESC LIMIT ?"
        parameters.append(.integer(Int64(limit)))
        return StoreStatement(sql: sql, parameters: parameters)
    }

    public static func auditEntry(_ row: any StoreRow) -> AuditEntry {
        AuditEntry(
            id: row.int(0),
            at: Date(millis: row.int(1)),
            accountId: row.optionalText(2),
            actor: row.text(3),
            address: row.optionalText(4),
            action: row.text(5),
            eventId: row.optionalText(6),
            subject: row.optionalText(7),
            detail: row.optionalText(8)
        )
    }

    /// Failed sign-ins since `since`, against one account or from one address.
    public static func failedSignIns(accountId: String, since: Date) -> StoreStatement {
        StoreStatement(
            sql: "SELECT count(*) FROM audit_log WHERE action = ? AND account_id = ? AND at >= ?",
            parameters: [.text(AuditAction.signInFailed), .text(accountId), .integer(since.millis)]
        )
    }

    public static func failedSignIns(address: String, since: Date) -> StoreStatement {
        StoreStatement(
            sql: "SELECT count(*) FROM audit_log WHERE action = ? AND address = ? AND at >= ?",
            parameters: [.text(AuditAction.signInFailed), .text(address), .integer(since.millis)]
        )
    }

    public static func count(_ row: any StoreRow) -> Int { Int(row.int(0)) }
}

/// The words the audit trail uses for the actions it records outside the routes' own names.
public enum AuditAction {
    public static let signIn = "signed in"
    public static let signInFailed = "sign-in failed"
    public static let signOut = "signed out"
    public static let passwordSet = "password set"
    public static let accountAdded = "account added"
    public static let accountChanged = "account changed"
    public static let accountDisabled = "account disabled"
    public static let accountEnabled = "account enabled"
    public static let tokenCreated = "API token created"
    public static let tokenRevoked = "API token revoked"
    public static let scannerPaired = "scanner paired by a signed-in steward"
}

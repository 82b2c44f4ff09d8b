import Foundation
import GatehouseStorage

/// What an organizer route does, as far as who may do it is concerned. Each route names one
/// (`AccessRules`); each role has a set (`Role.permissions`).
public enum Permission: String, Sendable, CaseIterable {
    /// Accounts: add, change, disable; read the whole audit trail.
    case accounts
    /// Create events (only with every event granted) and edit them, signing keys.
    case events
    /// Read an event: its page, the check-in log, counts, lists, gates, conflicts, the stream.
    case read
    /// Issue, revoke, import and export tickets.
    case tickets
    /// The box office: search tickets, look one up, re-issue it, send it again.
    case boxOffice
    /// Devices, pairing codes, lane modes.
    case devices
    /// Check-in lists.
    case lists
    /// Registration settings and its mails.
    case registration
    /// Webhooks.
    case webhooks
    /// The event's audit trail.
    case audit
    /// The staff scanner: pair this phone without a code.
    case scan
}

extension Role {
    /// What the role may do on the events it covers.
    public var permissions: Set<Permission> {
        switch self {
        case .owner: Set(Permission.allCases)
        case .organizer: Set(Permission.allCases).subtracting([.accounts])
        case .boxoffice: [.read, .boxOffice, .scan]
        case .steward: [.scan]
        }
    }

    public func may(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// How the role is written for people.
    public var title: String {
        switch self {
        case .owner: "owner"
        case .organizer: "organizer"
        case .boxoffice: "box office"
        case .steward: "steward"
        }
    }
}

/// Who is asking: a signed-in account, a personal API token's account, or the shared admin
/// token (an owner, so that what was deployed before accounts keeps working).
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case session(hash: [UInt8])
        case personalToken(id: String)
        case adminToken
    }

    public var accountId: String?
    /// The account's e-mail, or "admin token".
    public var actor: String
    public var role: Role
    public var eventIds: [String]
    public var credential: Credential

    public init(account: Account, credential: Credential) {
        accountId = account.id
        actor = account.email
        role = account.role
        eventIds = account.role == .owner ? [] : account.eventIds
        self.credential = credential
    }

    public static let adminToken = Principal(accountId: nil, actor: "admin token", role: .owner, eventIds: [], credential: .adminToken)

    init(accountId: String?, actor: String, role: Role, eventIds: [String], credential: Credential) {
        self.accountId = accountId
        self.actor = actor
        self.role = role
        self.eventIds = eventIds
        self.credential = credential
    }

    public var coversEveryEvent: Bool { role == .owner || eventIds.isEmpty }

    public func covers(eventId: String) -> Bool { coversEveryEvent || eventIds.contains(eventId) }

    /// Whether the principal may do `permission` on `eventId` (nil: a route of no one event).
    public func may(_ permission: Permission, eventId: String?) -> Bool {
        guard role.may(permission) else { return false }
        guard let eventId else { return true }
        return covers(eventId: eventId)
    }
}

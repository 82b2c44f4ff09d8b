import Foundation
import GatehouseCore
import GatehouseMail
import GatehouseStorage

/// How long a sign-in lasts: ended after `idle` without a request, and after `lifetime` whatever.
public struct SessionPolicy: Sendable, Equatable {
    public var idle: TimeInterval
    public var lifetime: TimeInterval

    public init(idle: TimeInterval = 2 * 3600, lifetime: TimeInterval = 12 * 3600) {
        self.idle = idle
        self.lifetime = lifetime
    }
}

/// The sign-in throttle. Failed sign-ins are counted from the audit trail (every process writes
/// there, so several service processes share one count):
/// - from one address: `perAddress` failures in `window` and that address waits, whatever account
///   it tries;
/// - against one account: `perAccount` failures in `window` and the account takes sign-ins only
///   from browsers it has signed in from before (they carry a mark, `gatehouse_browser`), so
///   credential stuffing from many addresses stops without locking the real person out of the
///   browsers they use.
public struct SignInThrottle: Sendable, Equatable {
    public var window: TimeInterval = 15 * 60
    public var perAddress = 20
    public var perAccount = 10
    /// How long a browser stays known after its last sign-in.
    public var browserMemory: TimeInterval = 90 * 24 * 3600

    public init() {}
}

/// Accounts, sign-ins, sessions, personal API tokens and the audit trail (`Account`).
public struct AccountBook: Sendable {
    let store: any GatehouseStore
    public let now: @Sendable () -> Date
    public let policy: SessionPolicy
    public let throttle: SignInThrottle

    /// How long a set-password link works.
    public static let linkLifetime: TimeInterval = 24 * 3600
    /// A session's last-seen time is written at most this often (not on every page).
    static let touchInterval: TimeInterval = 60

    public init(
        store: any GatehouseStore,
        policy: SessionPolicy = SessionPolicy(),
        throttle: SignInThrottle = SignInThrottle(),
        now: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.policy = policy
        self.throttle = throttle
        self.now = now
    }

    // MARK: Accounts

    /// An address as accounts key it: checked as an e-mail address, lowercased.
    public static func email(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        do {
            return try MailAddress(address: trimmed).comparisonKey
        } catch {
            throw InvalidInputError("email: \(error)")
        }
    }

    static func checkEvents(_ eventIds: [String], role: Role) throws -> [String] {
        if role == .owner && !eventIds.isEmpty { throw InvalidInputError("an owner has every event; leave out --event") }
        for id in eventIds where !Identifier.isEventID(id) { throw InvalidInputError("'\(id)' is not an event id") }
        return Array(Set(eventIds)).sorted()
    }

    /// A new account and its one-time set-password link's token (also when `password` sets it at
    /// once: then the link is already spent).
    public func addAccount(email: String, role: Role, eventIds: [String] = [], password: String? = nil) async throws -> (Account, linkToken: String?)
    {
        let email = try Self.email(email)
        let eventIds = try Self.checkEvents(eventIds, role: role)
        for id in eventIds where try await store.event(id: id) == nil { throw NotFoundError("event \(id)") }
        if let password, let weakness = PasswordHash.weakness(of: password) { throw InvalidInputError(weakness) }
        guard try await stored(email: email) == nil else { throw StoreError.conflict("there is already an account for \(email)") }
        let at = now()
        let account = Account(id: Identifier.newAccountID(), email: email, role: role, eventIds: eventIds, createdAt: at)
        let link = password == nil ? Secret.newPasswordLinkToken() : nil
        try await store.change([
            AccountStatements.insert(account, linkHash: link.map(TokenHash.of), linkExpiresAt: link.map { _ in at + Self.linkLifetime })
        ])
        if let password { try await setPassword(accountId: account.id, password: password) }
        return (try await self.account(id: account.id), link)
    }

    public func accounts() async throws -> [Account] {
        try await store.rows(AccountStatements.all, AccountStatements.account).map(\.account)
    }

    public func hasAccounts() async throws -> Bool {
        try await store.rows(AccountStatements.count, AccountStatements.count).first ?? 0 > 0
    }

    func stored(email: String) async throws -> StoredAccount? {
        try await store.rows(AccountStatements.byEmail(email), AccountStatements.account).first
    }

    public func account(email: String) async throws -> Account {
        let email = try Self.email(email)
        guard let found = try await stored(email: email) else { throw NotFoundError("account \(email)") }
        return found.account
    }

    public func account(id: String) async throws -> Account {
        guard let found = try await store.rows(AccountStatements.byId(id), AccountStatements.account).first else {
            throw NotFoundError("account \(id)")
        }
        return found.account
    }

    /// A new password; every session of the account ends (a password change is what a person
    /// does when they fear someone else is signed in).
    public func setPassword(accountId: String, password: String) async throws {
        if let weakness = PasswordHash.weakness(of: password) { throw InvalidInputError(weakness) }
        let hash = try await PasswordHash.make(password)
        try await store.change(AccountStatements.setPassword(accountId: accountId, hash: hash, at: now()))
    }

    /// A signed-in person's own change: the current password first; every session of the
    /// account ends, and the one the change was made from is replaced by the new session returned.
    public func changePassword(accountId: String, current: String, new: String, address: String?) async throws -> String {
        guard let found = try await store.rows(AccountStatements.byId(accountId), AccountStatements.account).first else {
            throw NotFoundError("account \(accountId)")
        }
        guard try await PasswordHash.verify(current, against: found.passwordHash ?? PasswordHash.decoy), found.passwordHash != nil else {
            throw InvalidInputError("the current password is not right")
        }
        try await setPassword(accountId: accountId, password: new)
        let session = Secret.newSessionID()
        try await store.change([AccountStatements.insertSession(hash: TokenHash.of(session), accountId: accountId, at: now(), address: address)])
        return session
    }

    /// A fresh set-password link for the account (a lost password): the old link stops working.
    public func newPasswordLink(accountId: String) async throws -> String {
        let token = Secret.newPasswordLinkToken()
        try await store.change([AccountStatements.setLink(accountId: accountId, hash: TokenHash.of(token), expiresAt: now() + Self.linkLifetime)])
        return token
    }

    /// The account a set-password link is for, while it works.
    public func account(passwordLink token: String) async throws -> Account? {
        guard !token.isEmpty, token.utf8.count <= 64 else { return nil }
        guard let found = try await store.rows(AccountStatements.byLink(TokenHash.of(token)), AccountStatements.account).first,
            let expires = found.linkExpiresAt, expires > now(), found.account.disabledAt == nil
        else { return nil }
        return found.account
    }

    /// Sets the password through a link, which is then spent.
    public func usePasswordLink(_ token: String, password: String) async throws -> Account {
        guard let account = try await account(passwordLink: token) else {
            throw InvalidInputError("this link has expired or was used already; ask an owner for a new one")
        }
        try await setPassword(accountId: account.id, password: password)
        return account
    }

    public func setRole(accountId: String, role: Role, eventIds: [String]) async throws -> Account {
        let eventIds = try Self.checkEvents(eventIds, role: role)
        for id in eventIds where try await store.event(id: id) == nil { throw NotFoundError("event \(id)") }
        try await store.change([AccountStatements.setRole(accountId: accountId, role: role, eventIds: eventIds)])
        return try await account(id: accountId)
    }

    /// Disables the account (its sessions end and its tokens are revoked at once), or enables it.
    public func setDisabled(accountId: String, _ disabled: Bool) async throws -> Account {
        try await store.change(AccountStatements.setDisabled(accountId: accountId, at: disabled ? now() : nil))
        return try await account(id: accountId)
    }

    // MARK: Signing in

    public enum SignIn: Sendable, Equatable {
        /// Signed in: the new session's cookie value, and the browser's mark to keep.
        case signedIn(Account, session: String, browserMark: String)
        /// Wrong address or password (one answer for both).
        case refused
        /// Too many failures from this address or against this account: try later.
        case throttled(retryAfter: Int)
    }

    /// Checks a password and, when it is right, starts a new session (a session id the browser
    /// brought before is never kept: `previousSession` is ended, so a planted id gains nothing).
    public func signIn(
        email typed: String,
        password: String,
        address: String?,
        browserMark: String?,
        previousSession: String?
    ) async throws
        -> SignIn
    {
        if let previousSession { try await signOut(session: previousSession) }
        let at = now()
        let since = at - throttle.window
        let email = (try? Self.email(typed)) ?? String(typed.prefix(320)).lowercased()
        let found = try? await stored(email: email)
        if let address, try await count(AccountStatements.failedSignIns(address: address, since: since)) >= throttle.perAddress {
            return .throttled(retryAfter: Int(throttle.window))
        }
        if let found, try await count(AccountStatements.failedSignIns(accountId: found.account.id, since: since)) >= throttle.perAccount {
            var known = false
            if let browserMark {
                let statement = AccountStatements.knownBrowser(
                    accountId: found.account.id,
                    hash: TokenHash.of(browserMark),
                    since: at - throttle.browserMemory
                )
                known = try await count(statement) > 0
            }
            guard known else { return .throttled(retryAfter: Int(throttle.window)) }
        }
        // The same work whether or not the account exists or has a password: no timing tells.
        let matches = try await PasswordHash.verify(password, against: found?.passwordHash ?? PasswordHash.decoy)
        guard let found, matches, found.passwordHash != nil, found.account.disabledAt == nil else {
            try await record(
                AuditEntry(
                    at: at,
                    accountId: found?.account.id,
                    actor: found?.account.email ?? "unknown",
                    address: address,
                    action: AuditAction.signInFailed,
                    subject: email,
                    detail: found?.account.disabledAt != nil ? "account disabled" : nil
                )
            )
            return .refused
        }
        let session = Secret.newSessionID()
        let mark = browserMark.flatMap { $0.utf8.count == 32 ? $0 : nil } ?? Secret.newBrowserMark()
        try await store.change(
            [
                AccountStatements.deleteExpiredSessions(
                    accountId: found.account.id,
                    idleSince: at - policy.idle,
                    createdBefore: at - policy.lifetime
                ),
                AccountStatements.insertSession(hash: TokenHash.of(session), accountId: found.account.id, at: at, address: address),
            ] + AccountStatements.rememberBrowser(accountId: found.account.id, hash: TokenHash.of(mark), at: at)
        )
        try await record(AuditEntry(at: at, accountId: found.account.id, actor: found.account.email, address: address, action: AuditAction.signIn))
        return .signedIn(found.account, session: session, browserMark: mark)
    }

    /// The account a session cookie belongs to, while the session lasts; nil otherwise.
    public func principal(session: String) async throws -> Principal? {
        guard session.utf8.count == 32 else { return nil }
        let hash = TokenHash.of(session)
        guard let found = try await store.rows(AccountStatements.session(hash: hash), AccountStatements.storedSession).first else { return nil }
        let at = now()
        guard at.timeIntervalSince(found.seenAt) < policy.idle, at.timeIntervalSince(found.createdAt) < policy.lifetime else {
            try await store.change([AccountStatements.deleteSession(hash: hash)])
            return nil
        }
        let account = try await account(id: found.accountId)
        guard account.disabledAt == nil else { return nil }
        if at.timeIntervalSince(found.seenAt) >= Self.touchInterval { try await store.change([AccountStatements.touchSession(hash: hash, at: at)]) }
        return Principal(account: account, credential: .session(hash: hash))
    }

    public func signOut(session: String) async throws {
        try await store.change([AccountStatements.deleteSession(hash: TokenHash.of(session))])
    }

    public func sessionCount(accountId: String) async throws -> Int {
        try await count(AccountStatements.sessionCount(accountId: accountId))
    }

    // MARK: Personal API tokens

    /// A new token for the account, shown this once.
    public func createToken(accountId: String, name: String?) async throws -> (APITokenInfo, secret: String) {
        let account = try await account(id: accountId)
        guard account.disabledAt == nil else { throw InvalidInputError("\(account.email) is disabled") }
        let name = (name ?? "").trimmingCharacters(in: .whitespaces)
        guard name.count <= 100, !name.contains(where: \.isNewline) else { throw InvalidInputError("name: at most 100 characters on one line") }
        let secret = Secret.newPersonalToken()
        let info = APITokenInfo(id: Identifier.newAPITokenID(), accountId: account.id, name: name.isEmpty ? "token" : name, createdAt: now())
        try await store.change([AccountStatements.insertToken(info, hash: TokenHash.of(secret))])
        return (info, secret)
    }

    public func tokens(accountId: String) async throws -> [APITokenInfo] {
        try await store.rows(AccountStatements.tokens(accountId: accountId), AccountStatements.tokenInfo)
    }

    public func revokeToken(id: String) async throws -> Bool {
        try await store.change([AccountStatements.revokeToken(id: id, at: now())]).first ?? 0 > 0
    }

    /// The account a personal token acts for, while the token and the account are in force.
    public func principal(personalToken secret: String) async throws -> Principal? {
        guard secret.hasPrefix("ghp_"), secret.utf8.count == 36 else { return nil }
        guard let info = try await store.rows(AccountStatements.token(hash: TokenHash.of(secret)), AccountStatements.tokenInfo).first,
            info.revokedAt == nil
        else { return nil }
        let account = try await account(id: info.accountId)
        guard account.disabledAt == nil else { return nil }
        let at = now()
        if info.usedAt.map({ at.timeIntervalSince($0) >= Self.touchInterval }) ?? true {
            try await store.change([AccountStatements.tokenUsed(id: info.id, at: at)])
        }
        return Principal(account: account, credential: .personalToken(id: info.id))
    }

    // MARK: Audit trail

    /// Appends to the audit trail; texts from outside are cut to what the columns hold.
    public func record(_ entry: AuditEntry) async throws {
        var entry = entry
        entry.actor = String(entry.actor.prefix(320))
        entry.subject = entry.subject.map { String($0.prefix(320)) }
        entry.detail = entry.detail.map { String($0.prefix(1000)) }
        entry.address = entry.address.map { String($0.prefix(64)) }
        try await store.change([AccountStatements.appendAudit(entry)])
    }

    public func audit(eventId: String?, before: Int64? = nil, limit: Int = 200) async throws -> [AuditEntry] {
        try await store.rows(
            AccountStatements.audit(eventId: eventId, before: before, limit: max(1, min(limit, 10_000))),
            AccountStatements.auditEntry
        )
    }

    private func count(_ statement: StoreStatement) async throws -> Int {
        try await store.rows(statement, AccountStatements.count).first ?? 0
    }
}

extension Gatehouse {
    /// Accounts on this gatehouse's store.
    public func accountBook(policy: SessionPolicy = SessionPolicy(), throttle: SignInThrottle = SignInThrottle()) -> AccountBook {
        AccountBook(store: store, policy: policy, throttle: throttle, now: now)
    }
}

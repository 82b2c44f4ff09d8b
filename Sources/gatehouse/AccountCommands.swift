import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage

/// The options every account command shares: the database, and where set-password links point.
struct AccountOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(help: "The address people reach the service at, for set-password links (default: $GATEHOUSE_PUBLIC_URL).")
    var publicUrl: String = ProcessInfo.processInfo.environment["GATEHOUSE_PUBLIC_URL"] ?? "http://127.0.0.1:8080"

    func link(_ token: String) -> String {
        let base = publicUrl.hasSuffix("/") ? String(publicUrl.dropLast()) : publicUrl
        return "\(base)/signin/password?token=\(token)"
    }
}

/// Runs `body` with the account book, and records what it did in the audit trail as done from
/// the command line (by whoever could open the database).
func withAccounts<T>(_ options: AccountOptions, _ body: (AccountBook) async throws -> T) async throws -> T {
    try await withGatehouse(options.database) { gatehouse in
        do {
            return try await body(gatehouse.accountBook())
        } catch let error as StoreError {
            if case .conflict(let words) = error { throw ValidationError(words) }
            throw error
        }
    }
}

func recordFromCommandLine(_ accounts: AccountBook, _ action: String, account: Account, detail: String? = nil) async throws {
    try await accounts.record(
        AuditEntry(
            at: accounts.now(),
            accountId: account.id,
            actor: "command line",
            address: nil,
            action: action,
            subject: account.email,
            detail: detail
        )
    )
}

/// Reads a password from standard input (one line), for scripts: never from the command line,
/// where other users see it in the process list.
func passwordFromStandardInput() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("--password-stdin: no password on standard input")
    }
    return line
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Organizer accounts: add, list, change role, disable, reset a password.",
        subcommands: [Add.self, List.self, Role.self, Disable.self, Enable.self, Password.self]
    )

    static func role(_ text: String) throws -> GatehouseStorage.Role {
        guard let role = GatehouseStorage.Role(typed: text) else {
            throw ValidationError("--role must be owner, organizer, boxoffice or steward, not '\(text)'")
        }
        return role
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adds an account and prints its one-time set-password link (valid 24 hours)."
        )
        @OptionGroup var options: AccountOptions
        @Option(help: "The person's e-mail address (their sign-in name).") var email: String
        @Option(help: "owner, organizer, boxoffice or steward.") var role: String
        @Option(help: "An event the account may work on (repeat for several; none: every event).") var event: [String] = []
        @Flag(help: "Read the password from standard input instead of printing a link.") var passwordStdin = false

        func run() async throws {
            let role = try UserCommand.role(role)
            let password = passwordStdin ? try passwordFromStandardInput() : nil
            try await withAccounts(options) { accounts in
                let (account, link) = try await accounts.addAccount(email: email, role: role, eventIds: event, password: password)
                try await recordFromCommandLine(accounts, AuditAction.accountAdded, account: account, detail: "role \(role.title)")
                if let link {
                    say("Account \(account.email) (\(role.title)) added. Set its password within 24 hours at:")
                    say(options.link(link))
                } else {
                    say("Account \(account.email) (\(role.title)) added with its password.")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists the accounts, one per line.")
        @OptionGroup var options: AccountOptions

        func run() async throws {
            try await withAccounts(options) { accounts in
                for account in try await accounts.accounts() {
                    let events = account.coversEveryEvent ? "every event" : account.eventIds.joined(separator: ",")
                    let state = account.disabledAt != nil ? "disabled" : account.hasPassword ? "active" : "no password yet"
                    say("\(account.email)\t\(account.role.title)\t\(events)\t\(state)")
                }
            }
        }
    }

    struct Role: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Changes an account's role and events.")
        @OptionGroup var options: AccountOptions
        @Option var email: String
        @Option(help: "owner, organizer, boxoffice or steward.") var role: String
        @Option(help: "An event the account may work on (repeat for several; none: every event).") var event: [String] = []

        func run() async throws {
            let role = try UserCommand.role(role)
            try await withAccounts(options) { accounts in
                let account = try await accounts.setRole(accountId: try await accounts.account(email: email).id, role: role, eventIds: event)
                try await recordFromCommandLine(accounts, AuditAction.accountChanged, account: account, detail: "role \(role.title)")
                say(
                    "\(account.email) is now \(role.title) for \(account.coversEveryEvent ? "every event" : account.eventIds.joined(separator: ", "))."
                )
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disables an account: its sessions end and its API tokens stop at once.")
        @OptionGroup var options: AccountOptions
        @Option var email: String

        func run() async throws {
            try await withAccounts(options) { accounts in
                let account = try await accounts.setDisabled(accountId: try await accounts.account(email: email).id, true)
                try await recordFromCommandLine(accounts, AuditAction.accountDisabled, account: account)
                say("\(account.email) is disabled.")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enables a disabled account again (its old API tokens stay revoked).")
        @OptionGroup var options: AccountOptions
        @Option var email: String

        func run() async throws {
            try await withAccounts(options) { accounts in
                let account = try await accounts.setDisabled(accountId: try await accounts.account(email: email).id, false)
                try await recordFromCommandLine(accounts, AuditAction.accountEnabled, account: account)
                say("\(account.email) is enabled.")
            }
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resets a password: prints a new set-password link (or reads the password), and ends the account's sessions."
        )
        @OptionGroup var options: AccountOptions
        @Option var email: String
        @Flag(help: "Read the new password from standard input instead of printing a link.") var passwordStdin = false

        func run() async throws {
            let password = passwordStdin ? try passwordFromStandardInput() : nil
            try await withAccounts(options) { accounts in
                let account = try await accounts.account(email: email)
                if let password {
                    try await accounts.setPassword(accountId: account.id, password: password)
                    try await recordFromCommandLine(accounts, AuditAction.passwordSet, account: account)
                    say("The password of \(account.email) is set; its sessions have ended.")
                } else {
                    let link = try await accounts.newPasswordLink(accountId: account.id)
                    try await recordFromCommandLine(accounts, AuditAction.passwordSet, account: account, detail: "new set-password link")
                    say("Set a new password for \(account.email) within 24 hours at:")
                    say(options.link(link))
                }
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Personal API tokens: each acts with its account's role and events.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Makes a token for an account and prints it (shown this once).")
        @OptionGroup var options: AccountOptions
        @Option var email: String
        @Option(help: "What the token is for, e.g. \"ticket shop import\".") var name: String?

        func run() async throws {
            try await withAccounts(options) { accounts in
                let account = try await accounts.account(email: email)
                let (info, secret) = try await accounts.createToken(accountId: account.id, name: name)
                try await recordFromCommandLine(accounts, AuditAction.tokenCreated, account: account, detail: "\(info.id) \(info.name)")
                FileHandle.standardError.write(Data("Token \(info.id) for \(account.email) (\(account.role.title)); shown this once:\n".utf8))
                say(secret)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists an account's tokens (never the secrets).")
        @OptionGroup var options: AccountOptions
        @Option var email: String

        func run() async throws {
            try await withAccounts(options) { accounts in
                for token in try await accounts.tokens(accountId: try await accounts.account(email: email).id) {
                    let state = token.revokedAt.map { "revoked \($0.iso8601Millis)" } ?? "active"
                    say("\(token.id)\t\(token.name)\t\(token.createdAt.iso8601Millis)\t\(state)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes a token at once.")
        @OptionGroup var options: AccountOptions
        @Option(help: "The token's id (K…), as `token list` shows it.") var id: String

        func run() async throws {
            try await withAccounts(options) { accounts in
                guard try await accounts.revokeToken(id: id) else { throw ValidationError("no active token \(id)") }
                try await accounts.record(
                    AuditEntry(at: accounts.now(), accountId: nil, actor: "command line", address: nil, action: AuditAction.tokenRevoked, subject: id)
                )
                say("Token \(id) is revoked.")
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Prints the audit trail, newest first: one line per action with who, from where and what."
    )
    @OptionGroup var options: AccountOptions
    @Option(help: "Only this event's actions.") var event: String?
    @Option(help: "How many lines at most.") var limit: Int = 200

    func run() async throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
        try await withAccounts(options) { accounts in
            for entry in try await accounts.audit(eventId: event, limit: limit) {
                say(AuditLine.text(entry))
            }
        }
    }
}

/// One audit entry as a line: time, who, what, on which event and thing, from where, details.
enum AuditLine {
    static func text(_ entry: AuditEntry) -> String {
        var parts = [entry.at.iso8601Millis, entry.actor, entry.action]
        if let event = entry.eventId { parts.append("event \(event)") }
        if let subject = entry.subject { parts.append(subject) }
        if let address = entry.address { parts.append("from \(address)") }
        if let detail = entry.detail { parts.append("(\(detail))") }
        // Values from outside never break the one-line form.
        return parts.map { $0.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ") }.joined(separator: "\t")
    }
}

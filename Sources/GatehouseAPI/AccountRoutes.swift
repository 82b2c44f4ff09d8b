import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Accounts through the API, for owners (`AccessRules.api`: the `accounts` permission): the same
/// as `gatehouse user …` and `gatehouse token create`, for scripts that provision staff.
package struct AccountRoutes {
    package let accounts: AccountBook

    struct AddBody: Decodable {
        var email: String
        var role: String
        var eventIds: [String]?
        /// Sets the password at once; without it the answer carries a set-password link's token.
        var password: String?
    }

    struct Added: Encodable, Sendable {
        var account: Account
        /// For `/signin/password?token=…`, valid 24 hours; absent when a password was given.
        var passwordLinkToken: String?
    }

    struct TokenBody: Decodable {
        var name: String?
    }

    struct CreatedToken: Encodable, Sendable {
        var id: String
        var name: String
        /// Shown this once.
        var token: String
    }

    package func add(to group: RouterGroup<GatehouseRequestContext>) {
        group.get("accounts") { _, _ in
            JSONAnswer(["accounts": try await accounts.accounts()])
        }
        group.post("accounts") { request, context in
            let body = try await request.decodeJSON(as: AddBody.self, context: context, limit: 16 * 1024)
            guard let role = Role(typed: body.role) else { throw InvalidInputError("role must be owner, organizer, boxoffice or steward") }
            do {
                let (account, link) = try await accounts.addAccount(
                    email: body.email,
                    role: role,
                    eventIds: body.eventIds ?? [],
                    password: body.password
                )
                return JSONAnswer(Added(account: account, passwordLinkToken: link), status: .created)
            } catch StoreError.conflict(let words) {
                throw Problem(.conflict, words)
            } catch let failure as PasswordHash.Failure {
                throw Problem(.serviceUnavailable, failure.description, headers: [.retryAfter: "2"])
            }
        }
        group.post("accounts/:id/disable") { _, context in
            let id = try context.parameters.require("id")
            _ = try await accounts.account(id: id)
            return JSONAnswer(try await accounts.setDisabled(accountId: id, true))
        }
        // A lost password: a new set-password link (the old one stops working). Setting the
        // password through it ends every session of the account.
        group.post("accounts/:id/password-link") { _, context in
            let id = try context.parameters.require("id")
            _ = try await accounts.account(id: id)
            return JSONAnswer(["passwordLinkToken": try await accounts.newPasswordLink(accountId: id)], status: .created)
        }
        group.post("accounts/:id/tokens") { request, context in
            let body = try await request.decodeJSON(as: TokenBody.self, context: context, limit: 4 * 1024)
            let (info, secret) = try await accounts.createToken(accountId: try context.parameters.require("id"), name: body.name)
            return JSONAnswer(CreatedToken(id: info.id, name: info.name, token: secret), status: .created)
        }
    }
}

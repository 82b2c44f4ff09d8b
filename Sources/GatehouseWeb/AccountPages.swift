import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// A signed-in person's own password (`/admin/account/password`): the current one, then the new
/// one twice. Every other session of the account ends; this browser gets a new session.
extension OrganizerSite {
    package func addAccountPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("account/password") { request, context in
            await handle(request, context) { .page(try passwordPage(context.principal, error: nil)) }
        }
        router.post("account/password") { request, context in
            let principal = context.principal
            return await handle(request, context, refused: { try passwordPage(principal, error: $0) }) {
                guard let accountId = principal?.accountId else { throw InvalidInputError("the admin token has no password to change") }
                let fields = try await WebForm.fields(request)
                guard let new = fields["password"], new == fields["again"] else { throw InvalidInputError("the two new passwords are not the same") }
                let session = try await authenticator.accounts.changePassword(
                    accountId: accountId,
                    current: fields["current"] ?? "",
                    new: new,
                    address: clientAddress.of(request, peer: context.remoteHost)
                )
                var response = WebPage.redirect(to: "/admin?done=password")
                response.setCookie(Authenticator.sessionCookie(session, secure: clientAddress.overTLS(request, peer: context.remoteHost)))
                return .response(response)
            }
        }
    }

    func passwordPage(_ principal: Principal?, error: String?) throws -> WebPage {
        guard principal?.accountId != nil else {
            return WebPage.message(
                title: "Change password",
                ["You are signed in with the admin token, which has no password. Sign in with an account to change its password."],
                status: .ok
            )
        }
        let fields =
            [
                FormField("Current password", name: "current", values: [:], type: "password", required: true, maxLength: PasswordHash.maximumBytes)
            ] + SignInSite.newPasswordFields(hint: "your other sign-ins end.")
        let form = SignInSite.Model.Form(action: "/admin/account/password", error: error, hidden: [], fields: fields, submit: "Change password")
        return WebPage(
            title: "Change password for \(principal?.actor ?? "")",
            template: "signin",
            data: SignInSite.Model(form: form),
            section: .events
        )
    }
}

import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird

/// Signing in and out: `GET/POST /signin` (fields `email`, `password`), `POST /signout`, and the
/// set-password link's page `GET/POST /signin/password?token=…`.
///
/// A sign-in always starts a new session (the id a browser brought is ended, never kept: no
/// fixation), and its cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` whenever the
/// page was reached over TLS. Every form here must come from our own pages, as the organizer's do:
/// a foreign site can neither sign someone out nor sign them in to an account of its choosing.
package struct SignInSite: Sendable {
    package let accounts: AccountBook
    package let form: WebForm
    package let clientAddress: ClientAddress

    package func add(to router: Router<GatehouseRequestContext>) {
        router.get("signin") { request, _ in
            let notice = OrganizerSite.query(request, "done") == "password" ? "Your password is set: sign in with it." : nil
            return page(next: Self.next(OrganizerSite.query(request, "next")), values: [:], error: nil, notice: notice).response
        }
        router.post("signin") { request, context in
            guard form.isSameOrigin(request, peer: context.remoteHost) else { return Self.foreignForm() }
            let fields = try await WebForm.fields(request)
            let next = Self.next(fields["next"])
            let outcome: AccountBook.SignIn
            do {
                outcome = try await accounts.signIn(
                    email: fields["email"] ?? "",
                    password: fields["password"] ?? "",
                    address: clientAddress.of(request, peer: context.remoteHost),
                    browserMark: request.cookies[Authenticator.browserCookie]?.value,
                    previousSession: Authenticator.session(request, secure: clientAddress.overTLS(request, peer: context.remoteHost))
                )
            } catch let busy as PasswordHash.Failure {
                var page = page(next: next, values: fields, error: busy.description)
                page.status = .serviceUnavailable
                return WebPage.response(
                    status: .serviceUnavailable,
                    contentType: "text/html; charset=utf-8",
                    body: page.html,
                    headers: [.retryAfter: "2"]
                )
            }
            switch outcome {
            case .signedIn(let account, let session, let mark):
                let secure = clientAddress.overTLS(request, peer: context.remoteHost)
                var response = WebPage.redirect(to: next ?? (account.role == .steward ? "/scanner" : "/admin"))
                response.setCookie(Authenticator.sessionCookie(session, secure: secure))
                response.setCookie(
                    Cookie(
                        name: Authenticator.browserCookie,
                        value: mark,
                        maxAge: Int(accounts.throttle.browserMemory),
                        path: "/signin",
                        secure: secure,
                        httpOnly: true,
                        sameSite: .lax
                    )
                )
                return response
            case .refused:
                var page = page(next: next, values: fields, error: "The e-mail address or the password is not right.")
                page.status = .unauthorized
                return page.response
            case .throttled(let wait):
                let page = page(
                    next: next,
                    values: fields,
                    error: "Too many wrong passwords for this account or from this network. Try again in \(wait / 60) minutes."
                )
                return WebPage.response(
                    status: .tooManyRequests,
                    contentType: "text/html; charset=utf-8",
                    body: page.html,
                    headers: [.retryAfter: "\(wait)"]
                )
            }
        }
        router.post("signout") { request, context in
            guard form.isSameOrigin(request, peer: context.remoteHost) else { return Self.foreignForm() }
            let secure = clientAddress.overTLS(request, peer: context.remoteHost)
            if let session = Authenticator.session(request, secure: secure) {
                if let principal = try? await accounts.principal(session: session) {
                    try await accounts.record(
                        AuditEntry(
                            at: accounts.now(),
                            accountId: principal.accountId,
                            actor: principal.actor,
                            address: clientAddress.of(request, peer: context.remoteHost),
                            action: AuditAction.signOut
                        )
                    )
                }
                try await accounts.signOut(session: session)
            }
            var response = WebPage.redirect(to: "/signin")
            response.setCookie(Authenticator.sessionCookie("", secure: secure, maxAge: 0))
            return response
        }
        router.get("signin/password") { request, _ in
            let token = OrganizerSite.query(request, "token") ?? ""
            guard let account = try await accounts.account(passwordLink: token) else { return Self.spentLink() }
            return passwordPage(token: token, email: account.email, error: nil).response
        }
        router.post("signin/password") { request, context in
            guard form.isSameOrigin(request, peer: context.remoteHost) else { return Self.foreignForm() }
            let fields = try await WebForm.fields(request)
            let token = fields["token"] ?? ""
            guard let account = try await accounts.account(passwordLink: token) else { return Self.spentLink() }
            let password = fields["password"] ?? ""
            guard password == fields["again"] else {
                var page = passwordPage(token: token, email: account.email, error: "The two passwords are not the same.")
                page.status = .unprocessableContent
                return page.response
            }
            do {
                _ = try await accounts.usePasswordLink(token, password: password)
            } catch let error as InvalidInputError {
                var page = passwordPage(token: token, email: account.email, error: error.description)
                page.status = .unprocessableContent
                return page.response
            }
            try await accounts.record(
                AuditEntry(
                    at: accounts.now(),
                    accountId: account.id,
                    actor: account.email,
                    address: clientAddress.of(request, peer: context.remoteHost),
                    action: AuditAction.passwordSet,
                    detail: "through a set-password link"
                )
            )
            return WebPage.redirect(to: "/signin?done=password")
        }
    }

    struct Model: Sendable {
        struct Hidden: Sendable {
            var name: String
            var value: String
        }

        struct Form: Sendable {
            var action: String
            var error: String?
            var hidden: [Hidden]
            var fields: [FormField]
            var submit: String
        }

        var notice: String?
        var form: Form?
    }

    func page(next: String?, values: [String: String], error: String?, notice: String? = nil) -> WebPage {
        let fields = [
            FormField("E-mail address", name: "email", values: values, type: "email", required: true, maxLength: 320),
            FormField("Password", name: "password", values: [:], type: "password", required: true, maxLength: PasswordHash.maximumBytes),
        ]
        let form = Model.Form(
            action: "/signin",
            error: error,
            hidden: next.map { [Model.Hidden(name: "next", value: $0)] } ?? [],
            fields: fields,
            submit: "Sign in"
        )
        return WebPage(title: "Sign in", template: "signin", data: Model(notice: notice, form: form), organizerMenu: false)
    }

    func passwordPage(token: String, email: String, error: String?) -> WebPage {
        let fields = Self.newPasswordFields(hint: "a few words make a good one.")
        let form = Model.Form(
            action: "/signin/password",
            error: error,
            hidden: [Model.Hidden(name: "token", value: token)],
            fields: fields,
            submit: "Set password"
        )
        return WebPage(title: "Choose a password for \(email)", template: "signin", data: Model(form: form), organizerMenu: false)
    }

    /// A new password and the same again, as every password form asks for them.
    static func newPasswordFields(hint: String) -> [FormField] {
        [
            FormField(
                "New password",
                name: "password",
                values: [:],
                type: "password",
                required: true,
                maxLength: PasswordHash.maximumBytes,
                hint: "At least \(PasswordHash.minimumLength) characters; \(hint)"
            ),
            FormField("The same again", name: "again", values: [:], type: "password", required: true, maxLength: PasswordHash.maximumBytes),
        ]
    }

    /// Where to go after signing in: a path of our own only (`/admin…` or `/scanner…`), never
    /// another site (`//evil.example`, `https://…`).
    static func next(_ text: String?) -> String? {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.contains("\\"), text.utf8.count < 1000,
            text.hasPrefix("/admin") || text.hasPrefix("/scanner"), !text.contains(where: { $0.isNewline })
        else { return nil }
        return text
    }

    static func foreignForm() -> Response {
        WebPage.message(
            title: "Refused",
            ["This form was not sent from Gatehouse's own pages, so nothing was done."],
            back: Link(href: "/signin", label: "Sign in"),
            status: .forbidden,
            organizerMenu: false
        ).response
    }

    static func spentLink() -> Response {
        WebPage.message(
            title: "Link expired",
            ["This link has expired or was used already. Ask an owner for a new one (gatehouse user password --email …)."],
            back: Link(href: "/signin", label: "Sign in"),
            status: .gone,
            organizerMenu: false
        ).response
    }
}

import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import NIOCore

/// One HTML page of Gatehouse's own: a template (`Assets/templates/`), its model, what the
/// layout every page shares needs, and the headers every page is sent with.
package struct WebPage: Sendable {
    package enum Section: String {
        case events, scanner, none
    }

    package var title: String
    /// The template's name: a file of `Assets/templates/` without `.mustache`.
    package var template: String
    /// What the template shows (`data` in it): a value of plain stored properties.
    package var data: any Sendable
    package var section: Section = .none
    /// Our own scripts (from /static) this page runs; nothing inline, ever.
    package var scripts: [String] = []
    package var status: HTTPResponse.Status = .ok
    /// Pages that are not the organizer's (the scanner, the sign-in prompt) show no organizer menu.
    package var organizerMenu = true
    package var bodyClass: String?

    package init(
        title: String,
        template: String,
        data: any Sendable = Empty(),
        section: Section = .none,
        scripts: [String] = [],
        status: HTTPResponse.Status = .ok,
        organizerMenu: Bool = true,
        bodyClass: String? = nil
    ) {
        self.title = title
        self.template = template
        self.data = data
        self.section = section
        self.scripts = scripts
        self.status = status
        self.organizerMenu = organizerMenu
        self.bodyClass = bodyClass
    }

    /// A page that only says something (`message`): paragraphs, a form's refusal, a way back.
    package static func message(
        title: String,
        _ paragraphs: [String],
        error: String? = nil,
        tabs: EventTabs? = nil,
        back: Link? = nil,
        status: HTTPResponse.Status,
        organizerMenu: Bool = true
    ) -> WebPage {
        WebPage(
            title: title,
            template: "message",
            data: Message(tabs: tabs, error: error, paragraphs: paragraphs, back: back),
            section: .events,
            status: status,
            organizerMenu: organizerMenu
        )
    }

    package struct Empty: Sendable {}

    package struct Message: Sendable {
        var tabs: EventTabs?
        var error: String?
        var paragraphs: [String]
        var back: Link?
    }

    /// What the layout shows (`page` in the templates).
    struct Chrome {
        var title: String
        var stylesheet: String
        var scripts: [String]
        var organizerMenu: Bool
        var eventsCurrent: Bool
        var scannerCurrent: Bool
        var bodyClass: String?
    }

    struct Rendering {
        var page: Chrome
        var data: Any
    }

    /// Only our own scripts, styles, images and forms; never framed; nothing from a CDN.
    package static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; "
        + "manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    package var html: String {
        let chrome = Chrome(
            title: title,
            stylesheet: WebAssets.url("gatehouse.css"),
            scripts: scripts.map(WebAssets.url),
            organizerMenu: organizerMenu,
            eventsCurrent: section == .events,
            scannerCurrent: section == .scanner,
            bodyClass: bodyClass
        )
        return Views.render(Rendering(page: chrome, data: data), template: template)
    }

    package var response: Response {
        Self.response(status: status, contentType: "text/html; charset=utf-8", body: html)
    }

    /// Every page: no caching (codes, names and live numbers are on them), not sniffed, not framed,
    /// no referrer sent to other sites.
    package static func response(status: HTTPResponse.Status, contentType: String, body: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on our own
        // forms, and the same-origin check could not tell them from a sandboxed attacker.
        let referrerPolicy = HTTPField.Name("Referrer-Policy")!
        if headers[referrerPolicy] == nil { headers[referrerPolicy] = "same-origin" }
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// A page's data as JSON (the live log, an import's progress): encoded, never written by hand.
    package static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return response(status: .ok, contentType: "application/json", body: String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Post/redirect/get: every form answers with this, so reload and back never send it again.
    package static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }
}

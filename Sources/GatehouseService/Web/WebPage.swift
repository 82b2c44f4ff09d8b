import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One HTML page of Gatehouse's own: the layout every organizer and scanner page shares, and the
/// headers every one of them is sent with.
struct WebPage {
    enum Section: String {
        case events, devices, checkins, scanner, none
    }

    var title: String
    var body: String
    var section: Section = .none
    /// Our own scripts (from /static) this page runs; nothing inline, ever.
    var scripts: [String] = []
    var status: HTTPResponse.Status = .ok
    /// Pages that are not the organizer's (the scanner, the sign-in prompt) show no organizer menu.
    var organizerMenu = true
    var extraHead = ""
    var bodyClass = ""

    /// Only our own scripts, styles, images and forms; never framed; nothing from a CDN.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; "
        + "manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    var html: String {
        let menu =
            organizerMenu
            ? """
            <nav class="menu" aria-label="Organizer"><a class="brand" href="/admin">Gatehouse</a>\
            <a href="/admin"\(section == .events ? " aria-current=page" : "")>Events</a>\
            <a href="/scanner"\(section == .scanner ? " aria-current=page" : "")>Staff scanner</a></nav>
            """ : ""
        let scriptTags = scripts.map { "<script src=\"/static/\(HTML.escape($0))\" defer></script>" }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title)) · Gatehouse</title>
            <link rel="stylesheet" href="/static/gatehouse.css">\(extraHead)\(scriptTags)
            </head>
            <body\(bodyClass.isEmpty ? "" : " class=\"\(bodyClass)\"")>\(menu)<main>
            <h1>\(HTML.escape(title))</h1>
            \(body)
            </main></body></html>
            """
    }

    var response: Response {
        Self.response(status: status, contentType: "text/html; charset=utf-8", body: html)
    }

    /// Every page: no caching (codes, names and live numbers are on them), not sniffed, not framed,
    /// no referrer sent to other sites.
    static func response(status: HTTPResponse.Status, contentType: String, body: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on our own
        // forms, and the same-origin check could not tell them from a sandboxed attacker.
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// Post/redirect/get: every form answers with this, so reload and back never send it again.
    static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }
}

/// Minimal HTML writing: every text from a user goes through `escape`.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A text input with its label, keeping what was typed (`values`) after a refused form.
    static func field(
        _ label: String,
        name: String,
        values: [String: String],
        type: String = "text",
        attributes: String = "",
        hint: String? = nil
    ) -> String {
        let value = values[name].map { " value=\"\(escape($0))\"" } ?? ""
        let help = hint.map { "<small>\(escape($0))</small>" } ?? ""
        return "<label>\(escape(label)) <input name=\"\(name)\" type=\"\(type)\"\(value) \(attributes)>\(help)</label>"
    }

    /// A refused form's message, in the form's own words.
    static func errorBox(_ message: String?) -> String {
        guard let message else { return "" }
        return "<p class=\"error\" role=\"alert\">\(escape(message))</p>"
    }
}

import Foundation

/// The address of a holder's ticket page: `/t/` and the ticket's code. The service keeps only
/// the code's hash, so the link itself must carry the code; the page is sent so that it stays
/// out of caches and referrers (see `TicketPageSite`), and no log line ever holds a path.
package enum TicketPageLink {
    package static let prefix = "/t/"

    /// Codes are `GH:` or `GS:` and base32 or base64url text: only the colons need escaping, and
    /// are escaped anyway so every mail client keeps the link whole.
    static let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")

    package static func path(code: String) -> String {
        prefix + (code.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
    }

    package static func url(publicURL: String, code: String) -> String { publicURL + path(code: code) }
}

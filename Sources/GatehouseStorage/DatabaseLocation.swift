import Foundation

/// What a `--db` value (or `$GATEHOUSE_DB`) names, decided before anything is opened or written.
///
/// Why a parser of its own: an unknown URL scheme used to fall through to "a SQLite file path",
/// so `mysql://user:pw@host/gh` quietly ran on a private local file named after the URL — two
/// processes then each admitted the same ticket. Now only these forms are accepted:
/// - a plain file path: SQLite; its folder is made when missing;
/// - `sqlite:///absolute/path`: SQLite, the folder must exist (a URL never creates folders);
/// - `postgres://…` or `postgresql://…`: PostgreSQL;
/// - `mysql://…` or `mariadb://…`: MySQL or MariaDB.
/// Anything else that looks like a URL is refused with the list of accepted forms.
public enum DatabaseLocation: Equatable, Sendable {
    case sqlite(path: String, createFolder: Bool)
    case postgres(url: String)
    case mysql(url: String)

    public static let acceptedForms =
        "a file path (SQLite, e.g. gatehouse-data/gatehouse.sqlite), sqlite:///absolute/path.sqlite, postgres://user@host:5432/database (also postgresql://), or mysql://user:password@host:3306/database (also mariadb://, ?socket=/path)"

    public static func parse(_ text: String) throws(DatabaseLocationError) -> DatabaseLocation {
        guard !text.isEmpty else { throw DatabaseLocationError(value: text, problem: "is empty") }
        guard let scheme = scheme(of: text) else {
            guard !text.utf8.contains(0), !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw DatabaseLocationError(value: text, problem: "contains control characters")
            }
            return .sqlite(path: text, createFolder: true)
        }
        switch scheme {
        case "postgres", "postgresql": return .postgres(url: text)
        case "sqlite", "sqlite3", "file":
            // sqlite:///abs/path — the authority must be empty: a SQLite file is always local.
            let prefix = scheme + "://"
            guard text.lowercased().hasPrefix(prefix), let components = URLComponents(string: text),
                components.host?.isEmpty ?? true, components.query == nil, components.path.hasPrefix("/"), components.path.count > 1
            else {
                throw DatabaseLocationError(
                    value: text,
                    problem: "is not of the form \(scheme):///absolute/path.sqlite (a SQLite file is local: no host, no query)"
                )
            }
            return .sqlite(path: components.path, createFolder: false)
        case "mysql", "mariadb": return .mysql(url: text)
        default:
            throw DatabaseLocationError(value: text, problem: "has the scheme '\(scheme)', which gatehouse does not support")
        }
    }

    /// The URL scheme, lowercased, when `text` looks like a URL (`scheme://…` or `sqlite:…`).
    static func scheme(of text: String) -> String? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let scheme = text[..<colon]
        guard let first = scheme.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
            scheme.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "+-.".unicodeScalars.contains($0)) })
        else { return nil }
        let lowered = scheme.lowercased()
        let rest = text[text.index(after: colon)...]
        if rest.hasPrefix("//") || ["sqlite", "sqlite3", "file", "postgres", "postgresql", "mysql", "mariadb"].contains(lowered) { return lowered }
        return nil
    }

    /// `text` with the password of any `scheme://user:password@` part replaced, for messages.
    public static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}

/// A `--db` value that names no database gatehouse can use (exit status 64, EX_USAGE).
public struct DatabaseLocationError: Error, CustomStringConvertible, Equatable {
    public let value: String
    public let problem: String

    public var description: String {
        "--db '\(DatabaseLocation.redacted(value))' \(problem). Accepted: \(DatabaseLocation.acceptedForms)"
    }
}

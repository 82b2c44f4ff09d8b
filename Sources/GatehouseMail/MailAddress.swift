/// An e-mail address with an optional display name, checked for shape before it goes near a
/// mail header or an SMTP command: one `@`, a dot-atom local part, a domain of letters, digits
/// and hyphens, and nothing that could end a header or a command (CR, LF, NUL, `<`, `>`).
///
/// Addresses are ASCII: an internationalised local part needs SMTPUTF8 at every hop, and an
/// internationalised domain its punycode form, neither of which a form can promise.
public struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong
        case notAnAddress(String)

        public var description: String {
            switch self {
            case .empty: return "no e-mail address was given"
            case .tooLong: return "the e-mail address is longer than 254 characters"
            case .notAnAddress(let why): return "not an e-mail address: \(why)"
            }
        }
    }

    /// `local@domain`, the domain in lower case.
    public let address: String
    /// The name shown beside the address, control characters removed.
    public let displayName: String?

    public var description: String { displayName.map { "\($0) <\(address)>" } ?? address }

    /// The address as the one-registration-per-address rule compares it: in lower case throughout
    /// (providers treat local parts without regard to case in practice, and people type them so).
    public var comparisonKey: String { address.lowercased() }

    /// The domain after the `@`, for a Message-ID.
    public var domain: String { String(address[address.index(after: address.lastIndex(of: "@")!)...]) }

    public init(address text: String, displayName: String? = nil) throws {
        address = try Self.checked(text)
        let name = displayName.map(Self.printableName).flatMap { $0.isEmpty ? nil : $0 }
        self.displayName = name
    }

    /// Reads `address` or `Name <address>` (the name may be in double quotes).
    public init(parsing text: String) throws {
        let trimmed = text.trimmingWhitespace
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            var name = trimmed[..<open].trimmingWhitespace
            if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") { name = String(name.dropFirst().dropLast()) }
            try self.init(address: String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]), displayName: name)
        } else {
            try self.init(address: trimmed)
        }
    }

    static let localCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.".utf8)
    static let domainCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789-.".utf8)

    static func checked(_ text: String) throws -> String {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw Problem.empty }
        guard trimmed.utf8.count <= 254 else { throw Problem.tooLong }
        guard let at = trimmed.lastIndex(of: "@") else { throw Problem.notAnAddress("it has no @") }
        let local = String(trimmed[..<at])
        let domain = String(trimmed[trimmed.index(after: at)...]).lowercased()
        guard !local.isEmpty, local.utf8.count <= 64 else {
            throw Problem.notAnAddress("the part before the @ is empty or longer than 64 characters")
        }
        guard local.utf8.allSatisfy(localCharacters.contains) else {
            throw Problem.notAnAddress("the part before the @ may hold only letters, digits and !#$%&'*+-/=?^_`{|}~. (no spaces, quotes or accents)")
        }
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            throw Problem.notAnAddress("the part before the @ cannot begin or end with a dot or hold two in a row")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, domain.utf8.allSatisfy(domainCharacters.contains),
            labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 && !$0.hasPrefix("-") && !$0.hasSuffix("-") })
        else {
            throw Problem.notAnAddress("the domain after the @ must be a name like example.org (ASCII letters, digits, hyphens)")
        }
        return local + "@" + domain
    }

    /// A display name as it may go into a header: control characters (CR, LF, NUL, …) become
    /// spaces, runs of spaces one, and a name past 200 characters is cut.
    static func printableName(_ name: String) -> String {
        var scalars = String.UnicodeScalarView()
        var lastWasSpace = true
        for scalar in name.unicodeScalars.prefix(200) {
            let space = scalar.properties.generalCategory == .control || scalar.properties.isWhitespace
            if space {
                if !lastWasSpace { scalars.append(" ") }
            } else {
                scalars.append(scalar)
            }
            lastWasSpace = space
        }
        return String(String(scalars).trimmingWhitespace)
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        let string = String(self)
        let scalars = string.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

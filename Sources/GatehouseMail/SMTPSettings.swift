/// Where mail goes, from `--smtp-url` / `GATEHOUSE_SMTP_URL`:
///
/// - `smtp://user:password@host:587` — submission with STARTTLS, which is required: a server
///   that does not offer it is refused rather than sent the password and tickets in the clear;
/// - `smtps://user:password@host:465` — TLS from the first byte;
/// - `smtp://127.0.0.1:2525?tls=none` — no TLS, accepted only for a server on this machine (a
///   local relay or a test server).
///
/// User name and password may be percent-encoded (`%40` for `@`).
public struct SMTPSettings: Sendable, Equatable, CustomStringConvertible {
    public enum Security: Sendable, Equatable {
        case startTLS, implicitTLS, none
    }

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var security: Security

    /// The URL libcurl connects to: no credentials in it.
    public var curlURL: String {
        let scheme = security == .implicitTLS ? "smtps" : "smtp"
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed):\(port)"
    }

    /// For logs and messages: the password never appears.
    public var description: String {
        let user = username.map { "\($0)@" } ?? ""
        let tls = security == .none ? "?tls=none" : ""
        return "\(curlURL.replacing("://", with: "://\(user)"))\(tls)"
    }

    public init(host: String, port: Int, username: String? = nil, password: String? = nil, security: Security) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security = security
    }

    public init(url text: String) throws {
        func problem(_ why: String) -> Problem { Problem(description: "--smtp-url: \(why)") }
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw problem("expected smtp://[user:password@]host[:port] or smtps://…, not a bare host")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = text[schemeEnd.upperBound...]
        guard !rest.unicodeScalars.contains(where: { $0.value < 33 || $0.value == 127 }) else {
            throw problem("the URL holds spaces or control characters")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw problem("a path is not part of an SMTP URL") }
        var credentials: Substring?
        if let at = rest.lastIndex(of: "@") {
            credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var hostText = rest
        var portText: Substring?
        if hostText.hasPrefix("[") {
            guard let close = hostText.firstIndex(of: "]") else { throw problem("an IPv6 address is missing its ]") }
            let after = hostText[hostText.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw problem("unexpected text after the address") }
            hostText = hostText[hostText.index(after: hostText.startIndex)..<close]
        } else if let colon = hostText.lastIndex(of: ":") {
            portText = hostText[hostText.index(after: colon)...]
            hostText = hostText[..<colon]
        }
        guard !hostText.isEmpty else { throw problem("no host") }
        let security: Security
        switch scheme {
        case "smtp": security = .startTLS
        case "smtps": security = .implicitTLS
        default: throw problem("the scheme must be smtp or smtps, not \(scheme)")
        }
        var port = security == .implicitTLS ? 465 : 587
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else { throw problem("the port must be a number from 1 to 65535") }
            port = number
        }
        var chosen = security
        for item in query.split(separator: "&") where !item.isEmpty {
            switch item {
            case "tls=none":
                guard security == .startTLS else { throw problem("tls=none goes with smtp://, not smtps://") }
                chosen = .none
            case "tls=starttls": chosen = .startTLS
            default: throw problem("unknown setting \(item) (known: tls=none, tls=starttls)")
            }
        }
        let host = String(hostText).lowercased()
        if chosen == .none, !Self.isLoopback(host) {
            throw problem("tls=none is accepted only for a server on this machine (localhost, 127.0.0.1, ::1), not \(host)")
        }
        var username: String?
        var password: String?
        if let credentials {
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = Self.percentDecoded(parts[0]) else { throw problem("the user name's percent-encoding is broken") }
            username = user.isEmpty ? nil : user
            if parts.count == 2 {
                guard let secret = Self.percentDecoded(parts[1]) else { throw problem("the password's percent-encoding is broken") }
                password = secret
            }
        }
        self.init(host: host, port: port, username: username, password: password, security: chosen)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.") && host.split(separator: ".").count == 4
    }

    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self), !decoded.unicodeScalars.contains(where: { $0.value < 32 }) else { return nil }
        return decoded
    }
}

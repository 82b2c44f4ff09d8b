import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading the organizer's forms: the same-origin rule, URL-encoded and multipart bodies, and the
/// API's field names turned into the words the forms use.
package struct WebForm {
    /// Proxies whose X-Forwarded-Proto is believed: behind them the page's scheme may be https.
    package let trustedProxies: Set<String>
    package static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    package static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    package static let origin = HTTPField.Name("Origin")!

    /// The scheme this request reached us with: ours is plain http, unless one of the operator's
    /// proxies says it terminated TLS.
    package func scheme(of request: Request, peer: String?) -> String {
        if let peer, trustedProxies.contains(peer), let proto = request.headers[Self.forwardedProto]?.lowercased(),
            proto == "https" || proto == "http"
        {
            return proto
        }
        return "http"
    }

    /// A form from our own pages: its `Origin` is exactly this page's scheme, host and port, and
    /// the browser, when it says, says same-origin. A request with neither header (not a browser
    /// form) is refused too.
    package func isSameOrigin(_ request: Request, peer: String?) -> Bool {
        let site = request.headers[Self.secFetchSite]
        if let site, site != "same-origin" { return false }
        guard let origin = request.headers[Self.origin] else { return site == "same-origin" }
        guard let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!] else { return false }
        return Self.normalized(origin) == Self.normalized("\(scheme(of: request, peer: peer))://\(host)")
    }

    /// scheme://host[:port] in lower case, the default port dropped; nil for anything else.
    package static func normalized(_ origin: String) -> String? {
        guard let url = URL(string: origin), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
            url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil
        else { return nil }
        let defaultPort = scheme == "https" ? 443 : scheme == "http" ? 80 : nil
        guard defaultPort != nil else { return nil }
        let port = url.port.flatMap { $0 == defaultPort ? nil : $0 }
        return "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")"
    }

    /// An `application/x-www-form-urlencoded` body (at most 64 KiB).
    package static func fields(_ request: Request) async throws -> [String: String] {
        var buffer = try await request.body.collect(upTo: 64 * 1024)
        return try decodeURLEncoded(buffer.readString(length: buffer.readableBytes) ?? "")
    }

    package static func decodeURLEncoded(_ text: String) throws -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String? { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = parts.first.flatMap(decoded) else { throw WebFormError("the form is not URL-encoded") }
            guard let value = parts.count > 1 ? decoded(parts[1]) : "" else { throw WebFormError("the form field \(key) is not URL-encoded") }
            fields[key] = value
        }
        return fields
    }

    /// The parts of a `multipart/form-data` body (RFC 7578), by field name: text fields and one
    /// uploaded file's bytes. At most `limit` bytes in all.
    package static func multipart(_ request: Request, limit: Int) async throws -> [String: [UInt8]] {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data"),
            let boundaryRange = type.range(of: "boundary=")
        else { throw WebFormError("the form must be sent as multipart/form-data") }
        var boundary = String(type[boundaryRange.upperBound...])
        if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        guard (1...70).contains(boundary.utf8.count) else { throw WebFormError("the form's multipart boundary is malformed") }
        var buffer = try await request.body.collect(upTo: limit)
        let body = buffer.readBytes(length: buffer.readableBytes) ?? []
        return try parseMultipart(body, boundary: boundary)
    }

    package static func parseMultipart(_ body: [UInt8], boundary: String) throws -> [String: [UInt8]] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [String: [UInt8]] = [:]
        var starts: [Int] = []
        var index = 0
        while let found = find(delimiter, in: body, from: index) {
            starts.append(found)
            index = found + delimiter.count
        }
        guard starts.count >= 2 else { throw WebFormError("the form's multipart body is malformed") }
        for (start, end) in zip(starts, starts.dropFirst()) {
            var part = Array(body[(start + delimiter.count)..<end])
            // Each part: CRLF, headers, CRLF CRLF, content, CRLF (before the next delimiter).
            guard part.starts(with: [13, 10]), let split = find([13, 10, 13, 10], in: part, from: 0) else {
                throw WebFormError("the form's multipart body is malformed")
            }
            let headers = String(decoding: part[2..<split], as: UTF8.self)
            part = Array(part[(split + 4)...])
            if part.suffix(2) == [13, 10] { part.removeLast(2) }
            guard let name = dispositionName(headers) else { continue }
            parts[name] = part
        }
        return parts
    }

    private static func dispositionName(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            guard let range = line.range(of: "name=\"") else { return nil }
            let rest = line[range.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// The API's field names as the forms call them, so a refusal reads in the form's words.
    package static let labels: [(api: String, label: String)] = [
        ("holderName", "Holder name"), ("ticketType", "Ticket type"), ("email", "E-mail"), ("userId", "User id"),
        ("quantity", "How many"), ("count", "How many"), ("startsAt", "Starts"), ("endsAt", "Ends"), ("name", "Name"),
        ("gateId", "Gate"), ("ttlSeconds", "Valid for"), ("search", "Search"),
    ]

    package static func inFormWords(_ message: String) -> String {
        // Two passes, so that a label ("Holder name") is never rewritten by a later, shorter
        // name ("name").
        var text = message
        for (index, entry) in labels.enumerated() {
            text = text.replacingOccurrences(of: "\\b\(entry.api)\\b", with: "\u{1}\(index)\u{2}", options: .regularExpression)
        }
        for (index, entry) in labels.enumerated() {
            text = text.replacingOccurrences(of: "\u{1}\(index)\u{2}", with: entry.label)
        }
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }
}

/// A form that cannot be read at all (not a refusal of what it says).
package struct WebFormError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

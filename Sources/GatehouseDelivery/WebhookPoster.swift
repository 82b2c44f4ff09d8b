import CCurl
import Foundation

/// Posts one webhook delivery. A seam for the tests of the delivery's rules; `CurlWebhookPoster`
/// does the real transfer.
public protocol WebhookPosting: Sendable {
    /// Blocking: the receiver's status, or why it could not be reached.
    func post(url: String, body: [UInt8], headers: [String]) -> WebhookPostOutcome
}

public enum WebhookPostOutcome: Sendable, Equatable {
    case status(Int)
    case unreachable(String)

    public var taken: Bool {
        if case .status(let code) = self { return (200...299).contains(code) }
        return false
    }
}

/// An HTTP POST with libcurl: http and https only, no redirects (a receiver that moved says so
/// with its status, and the organizer updates the URL), the answer's body read and dropped.
public struct CurlWebhookPoster: WebhookPosting {
    public var connectTimeoutMilliseconds = 5_000
    public var timeoutMilliseconds = 10_000

    public init() {}

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public func post(url: String, body: [UInt8], headers: [String]) -> WebhookPostOutcome {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { return .unreachable("libcurl could not start a transfer") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        for header in headers { list = curl_slist_append(list, header) }
        // libcurl adds "Expect: 100-continue" to big posts: a round trip receivers do not need.
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }
        var failed: String?
        func set(_ code: CURLcode, _ what: String) {
            if code != CURLE_OK, failed == nil { failed = "\(what): \(String(cString: curl_easy_strerror(code)))" }
        }
        return body.withUnsafeBytes { bytes -> WebhookPostOutcome in
            set(gh_curl_set_string(handle, CURLOPT_URL, url), "url")
            set(gh_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
            set(gh_curl_set_long(handle, CURLOPT_POST, 1), "post")
            set(gh_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress)), "body")
            set(gh_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, bytes.count), "body size")
            set(gh_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)), "headers")
            set(gh_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0), "redirects")
            set(gh_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds), "connect timeout")
            set(gh_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds), "timeout")
            set(gh_curl_set_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
            set(gh_curl_set_write_function(handle) { _, size, count, _ in size * count }, "answer")
            if let failed { return .unreachable("libcurl refused a setting: \(failed)") }
            let result = curl_easy_perform(handle)
            guard result == CURLE_OK else { return .unreachable(String(cString: curl_easy_strerror(result))) }
            var code = 0
            _ = gh_curl_get_response_code(handle, &code)
            return .status(code)
        }
    }
}

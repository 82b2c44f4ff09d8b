import CCurl
import FoundationEssentials
import GatehouseCore

/// One libcurl easy handle set up the way every kiosk request wants it: the device token and JSON
/// headers, a connect timeout and a total deadline, no signals, TCP keep-alive (the connection is
/// reused between requests), http and https only, and a bounded response buffer. Used from one
/// serial queue at a time by its owner.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    let response: ResponseBuffer
    private let headers: UnsafeMutablePointer<curl_slist>?

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init(settings: CurlCheckinClient.Settings, deadline: Duration, responseLimit: Int) throws {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { throw CurlError("curl_easy_init failed") }
        self.handle = handle
        response = ResponseBuffer(limit: responseLimit)
        var list: UnsafeMutablePointer<curl_slist>? = nil
        list = curl_slist_append(list, "Authorization: Bearer \(settings.token)")
        list = curl_slist_append(list, "Content-Type: application/json")
        list = curl_slist_append(list, "Accept: application/json")
        headers = list
        try set(gh_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)), "headers")
        try set(gh_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout.wholeMilliseconds)), "connect timeout")
        try set(gh_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(deadline.wholeMilliseconds)), "deadline")
        // No signals from curl's resolver in a threaded program; keep the connection warm.
        try set(gh_curl_set_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
        try set(gh_curl_set_long(handle, CURLOPT_TCP_KEEPALIVE, 1), "keepalive")
        try set(gh_curl_set_long(handle, CURLOPT_TCP_NODELAY, 1), "nodelay")
        try set(gh_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        try set(response.attach(to: handle), "write function")
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headers)
    }

    /// Throws a `CurlError` naming `what` when setting an option failed.
    func set(_ code: CURLcode, _ what: String) throws {
        guard code == CURLE_OK else { throw CurlError("\(what): \(String(cString: curl_easy_strerror(code)))") }
    }

    /// Sends `body` as the POST body (or a GET without one); returns curl's result.
    func perform(body: Data?) -> CURLcode {
        // Keep the buffer of a check-in answer; let a big sync page's go.
        response.bytes.removeAll(keepingCapacity: response.bytes.capacity <= 64 * 1024)
        guard let body else {
            _ = gh_curl_set_long(handle, CURLOPT_HTTPGET, 1)
            return curl_easy_perform(handle)
        }
        _ = gh_curl_set_long(handle, CURLOPT_POST, 1)
        return body.withUnsafeBytes { raw in
            _ = gh_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, raw.count)
            _ = gh_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress))
            defer { _ = gh_curl_set_pointer(handle, CURLOPT_POSTFIELDS, nil) }
            return curl_easy_perform(handle)
        }
    }

    /// The HTTP status of the last transfer.
    var status: Int {
        var status = 0
        _ = gh_curl_get_response_code(handle, &status)
        return status
    }
}

import CCurl
import Dispatch
import FoundationEssentials
import GatehouseCore
import KioskOffline

/// The sync loop's side of the service over libcurl: `GET /api/sync/tickets` and
/// `POST /api/offline-checkins`. A handle and a queue of its own, so a page of thousands of
/// tickets never waits in front of a check-in.
public final class CurlSyncClient: SyncTransport, @unchecked Sendable {
    private let settings: CurlCheckinClient.Settings
    private let queue = DispatchQueue(label: "gate-kiosk.sync-client")
    // Touched only on `queue`.
    private let handle: UnsafeMutableRawPointer
    private let headers: UnsafeMutablePointer<curl_slist>?
    /// A 5,000-ticket page is about 600 KB; more than this is a misbehaving server.
    private let response = ResponseBuffer(limit: 16 * 1024 * 1024)
    private static let decoder = JSONDecoder()

    public init(settings: CurlCheckinClient.Settings) throws {
        _ = CurlCheckinClient.globalInit
        guard let handle = curl_easy_init() else { throw CurlError("curl_easy_init failed") }
        self.settings = settings
        self.handle = handle
        var list: UnsafeMutablePointer<curl_slist>? = nil
        list = curl_slist_append(list, "Authorization: Bearer \(settings.token)")
        list = curl_slist_append(list, "Content-Type: application/json")
        list = curl_slist_append(list, "Accept: application/json")
        headers = list
        func check(_ code: CURLcode, _ what: String) throws {
            guard code == CURLE_OK else { throw CurlError("\(what): \(String(cString: curl_easy_strerror(code)))") }
        }
        try check(gh_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)), "headers")
        try check(gh_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout.wholeMilliseconds)), "connect timeout")
        // A page may take longer than a check-in; a silent server still ends the wait.
        try check(gh_curl_set_long(handle, CURLOPT_TIMEOUT_MS, 30_000), "deadline")
        try check(gh_curl_set_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
        try check(gh_curl_set_long(handle, CURLOPT_TCP_KEEPALIVE, 1), "keepalive")
        try check(gh_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        try check(response.attach(to: handle), "write function")
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headers)
    }

    public func pull(after cursor: String?, limit: Int) async -> Result<TicketSyncPage, SyncFailure> {
        var path = "/api/sync/tickets?limit=\(limit)"
        // The cursor is the service's own number: digits only, so it needs no escaping.
        if let cursor, cursor.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { path += "&after=\(cursor)" }
        let url = path
        return await onQueue { self.perform(path: url, body: nil, as: TicketSyncPage.self) }
    }

    public func upload(_ upload: OfflineUpload) async -> Result<OfflineUploadAnswer, SyncFailure> {
        guard let body = try? JSONEncoder().encode(upload) else { return .failure(SyncFailure("cannot encode the upload")) }
        return await onQueue { self.perform(path: "/api/offline-checkins", body: body, as: OfflineUploadAnswer.self) }
    }

    /// A cancelled caller is answered at once; the transfer ends within its deadline on the queue.
    private func onQueue<T: Sendable>(_ request: @escaping @Sendable () -> Result<T, SyncFailure>) async -> Result<T, SyncFailure> {
        let answer = AnswerOnce<Result<T, SyncFailure>>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.wait(with: continuation)
                queue.async { answer.give(request()) }
            }
        } onCancel: {
            answer.give(.failure(SyncFailure("cancelled")))
        }
    }

    /// Blocking; runs on `queue`.
    private func perform<T: Decodable>(path: String, body: Data?, as type: T.Type) -> Result<T, SyncFailure> {
        response.bytes.removeAll(keepingCapacity: true)
        _ = gh_curl_set_string(handle, CURLOPT_URL, settings.serverURL + path)
        let code: CURLcode
        if let body {
            _ = gh_curl_set_long(handle, CURLOPT_POST, 1)
            code = body.withUnsafeBytes { raw in
                _ = gh_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, raw.count)
                _ = gh_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress))
                defer { _ = gh_curl_set_pointer(handle, CURLOPT_POSTFIELDS, nil) }
                return curl_easy_perform(handle)
            }
        } else {
            _ = gh_curl_set_long(handle, CURLOPT_HTTPGET, 1)
            code = curl_easy_perform(handle)
        }
        guard code == CURLE_OK else { return .failure(SyncFailure(String(cString: curl_easy_strerror(code)))) }
        var status = 0
        _ = gh_curl_get_response_code(handle, &status)
        guard status == 200 else {
            let detail = (try? Self.decoder.decode(CurlCheckinClient.ProblemDetail.self, from: Data(response.bytes)))?.detail
            return .failure(SyncFailure("HTTP \(status)\(detail.map { ": \($0)" } ?? "")"))
        }
        do {
            return .success(try Self.decoder.decode(T.self, from: Data(response.bytes)))
        } catch {
            return .failure(SyncFailure("the service's answer is not what this kiosk understands (\(response.bytes.count) bytes)"))
        }
    }
}

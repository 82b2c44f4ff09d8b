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
    // Touched only on `queue`. A 5,000-ticket page is about 600 KB; more than 16 MiB is a
    // misbehaving server. A page may take longer than a check-in; a silent server still ends it.
    private let easy: CurlEasy
    private static let decoder = JSONDecoder()
    /// Times as the API reads them (ISO 8601 with milliseconds), not Foundation's default.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.iso8601Millis)
        }
        return encoder
    }()

    public init(settings: CurlCheckinClient.Settings) throws {
        self.settings = settings
        easy = try CurlEasy(settings: settings, deadline: .seconds(30), responseLimit: 16 * 1024 * 1024)
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

    public func annul(scanId: String, _ request: AnnulRequest) async -> Result<AnnulDelivery, SyncFailure> {
        // The scanId is this kiosk's own, but a path segment all the same.
        await post("/api/checkins/\(Self.pathSegment(scanId))/annul", request).flatMap { answer in
            switch answer.status {
            case 200: return .success(.annulled)
            // Final answers about this scan; anything else (401, 429, 5xx) is tried again.
            case 403, 404, 409: return .success(.refused(answer.description))
            default: return .failure(SyncFailure(answer.description))
            }
        }
    }

    public func reportLane(_ report: LaneReport) async -> Result<Void, SyncFailure> {
        await post("/api/devices/\(Self.pathSegment(report.deviceId))/lane", report).flatMap { answer in
            answer.status == 204 ? .success(()) : .failure(SyncFailure(answer.description))
        }
    }

    public func heartbeat(_ heartbeat: Heartbeat) async -> Result<Void, SyncFailure> {
        await post("/api/devices/\(Self.pathSegment(heartbeat.deviceId))/heartbeat", heartbeat).flatMap { answer in
            answer.status == 204 ? .success(()) : .failure(SyncFailure(answer.description))
        }
    }

    /// An HTTP status and the problem's detail, if the service gave one.
    private struct StatusAnswer: Sendable, CustomStringConvertible {
        var status: Int
        var detail: String?
        var description: String { "HTTP \(status)\(detail.map { ": \($0)" } ?? "")" }
    }

    /// POSTs `body` as JSON; the answer's status and detail, or why there was none.
    private func post(_ path: String, _ body: some Encodable) async -> Result<StatusAnswer, SyncFailure> {
        guard let data = try? Self.encoder.encode(body) else { return .failure(SyncFailure("cannot encode \(path)")) }
        return await onQueue {
            _ = gh_curl_set_string(self.easy.handle, CURLOPT_URL, self.settings.serverURL + path)
            let code = self.easy.perform(body: data)
            guard code == CURLE_OK else { return .failure(SyncFailure(String(cString: curl_easy_strerror(code)))) }
            let detail = (try? Self.decoder.decode(CurlCheckinClient.ProblemDetail.self, from: Data(self.easy.response.bytes)))?.detail
            return .success(StatusAnswer(status: self.easy.status, detail: detail))
        }
    }

    /// RFC 3986 unreserved characters pass; every other byte is percent-encoded.
    static func pathSegment(_ text: String) -> String {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        let digits = Array("0123456789ABCDEF")
        return text.utf8.map { allowed.contains($0) ? String(UnicodeScalar($0)) : "%" + String([digits[Int($0 >> 4)], digits[Int($0 & 0xF)]]) }
            .joined()
    }

    /// A cancelled caller is answered at once; the transfer ends within its deadline on the queue.
    private func onQueue<T: Sendable>(_ request: @escaping @Sendable () -> Result<T, SyncFailure>) async -> Result<T, SyncFailure> {
        await queue.blockingCall(request, whenCancelled: .failure(SyncFailure("cancelled")))
    }

    /// Blocking; runs on `queue`.
    private func perform<T: Decodable>(path: String, body: Data?, as type: T.Type) -> Result<T, SyncFailure> {
        _ = gh_curl_set_string(easy.handle, CURLOPT_URL, settings.serverURL + path)
        let code = easy.perform(body: body)
        guard code == CURLE_OK else { return .failure(SyncFailure(String(cString: curl_easy_strerror(code)))) }
        let status = easy.status
        guard status == 200 else {
            let detail = (try? Self.decoder.decode(CurlCheckinClient.ProblemDetail.self, from: Data(easy.response.bytes)))?.detail
            return .failure(SyncFailure("HTTP \(status)\(detail.map { ": \($0)" } ?? "")"))
        }
        do {
            return .success(try Self.decoder.decode(T.self, from: Data(easy.response.bytes)))
        } catch {
            return .failure(SyncFailure("the service's answer is not what this kiosk understands (\(easy.response.bytes.count) bytes)"))
        }
    }
}

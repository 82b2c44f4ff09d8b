import CCurl
import Dispatch
import FoundationEssentials
import GatehouseCore
import KioskCore
import Synchronization

/// `POST /api/checkin` over libcurl: one easy handle kept for the kiosk's life, so the TCP (and
/// TLS) connection is reused between scans; a connect timeout and a total deadline; calls run on
/// one dedicated serial queue because `curl_easy_perform` blocks.
public final class CurlCheckinClient: CheckinClient, @unchecked Sendable {
    public struct Settings: Sendable {
        public var serverURL: String
        public var deviceID: String
        public var gateID: String
        public var token: String
        public var connectTimeout: Duration
        public var deadline: Duration
        public var direction: ScanDirection

        public init(
            serverURL: String,
            deviceID: String,
            gateID: String,
            token: String,
            connectTimeout: Duration,
            deadline: Duration,
            direction: ScanDirection = .entry
        ) {
            self.direction = direction
            self.serverURL = serverURL
            self.deviceID = deviceID
            self.gateID = gateID
            self.token = token
            self.connectTimeout = connectTimeout
            self.deadline = deadline
        }
    }

    private let settings: Settings
    private let queue = DispatchQueue(label: "gate-kiosk.checkin-client")
    // Touched only on `queue`.
    private let easy: CurlEasy

    public init(settings: Settings) throws {
        self.settings = settings
        easy = try CurlEasy(settings: settings, deadline: settings.deadline, responseLimit: 64 * 1024)
        try easy.set(gh_curl_set_string(easy.handle, CURLOPT_URL, settings.serverURL + "/api/checkin"), "server_url")
    }

    public func checkin(qrData: String, scanId: String, direction: ScanDirection) async -> CheckinReply {
        await onQueue { self.perform(qrData: qrData, scanId: scanId, mode: nil, direction: direction) }
    }

    /// A scan in the lane's configured direction.
    public func checkin(qrData: String, scanId: String) async -> CheckinReply {
        await checkin(qrData: qrData, scanId: scanId, direction: settings.direction)
    }

    /// Checks the service and the device token without checking anything in: a validate-mode
    /// request for a code that is not a ticket. An authenticated kiosk gets `invalid`.
    public func probe() async -> CheckinReply {
        await onQueue { self.perform(qrData: "GATE-KIOSK-SELFTEST", scanId: nil, mode: .validate, direction: self.settings.direction) }
    }

    /// A cancelled caller (the kiosk stopping) is answered at once with `unreachable`; the request
    /// ends within its deadline on the queue and its answer is dropped — the service decided it,
    /// and a retry with the same scanId would get it.
    private func onQueue(_ request: @escaping @Sendable () -> CheckinReply) async -> CheckinReply {
        await queue.blockingCall(request, whenCancelled: .unreachable("cancelled: the kiosk is stopping"))
    }

    /// Blocking; runs on `queue`.
    private func perform(qrData: String, scanId: String?, mode: CheckinMode?, direction: ScanDirection) -> CheckinReply {
        // An entry lane's requests stay as they were before directions existed.
        let request = CheckinRequest(
            qrData: qrData,
            deviceId: settings.deviceID,
            gateId: settings.gateID,
            scanId: scanId,
            mode: mode,
            direction: direction == .exit ? .exit : nil
        )
        guard let body = try? JSONEncoder().encode(request) else { return .unreachable("cannot encode request") }
        let started = ContinuousClock.now
        var outcome = attempt(body)
        // One quick retry, same scanId, when the connection failed fast (a server restart closed
        // the kept-alive connection) and the deadline leaves room.
        if case .unreachable = outcome, ContinuousClock.now - started < settings.deadline / 2 {
            let left = settings.deadline - (ContinuousClock.now - started)
            _ = gh_curl_set_long(easy.handle, CURLOPT_TIMEOUT_MS, max(1, Int(left.wholeMilliseconds)))
            outcome = attempt(body)
            _ = gh_curl_set_long(easy.handle, CURLOPT_TIMEOUT_MS, Int(settings.deadline.wholeMilliseconds))
        }
        return outcome
    }

    private func attempt(_ body: Data) -> CheckinReply {
        let code = easy.perform(body: body)
        guard code == CURLE_OK else { return .unreachable(String(cString: curl_easy_strerror(code))) }
        let status = easy.status
        let data = Data(easy.response.bytes)
        switch status {
        case 200:
            guard let answer = try? Self.decoder.decode(GateAnswer.self, from: data) else {
                return .unreachable("the service sent an answer that is not a check-in answer")
            }
            return .answered(
                CheckinAnswer(result: answer.result, message: answer.message, ticket: answer.ticket, attention: answer.attention == true)
            )
        case 500...599:
            return .unreachable("HTTP \(status)")
        default:
            let detail = (try? Self.decoder.decode(ProblemDetail.self, from: data))?.detail
            return .rejected(status: status, detail: detail ?? "HTTP \(status)")
        }
    }

    private static let decoder = JSONDecoder()

    /// The human part of a problem+json refusal.
    struct ProblemDetail: Decodable {
        var detail: String?
    }

    /// The part of a check-in answer a gate uses. The times are left out on purpose: parsing
    /// ISO 8601 dates pulls in calendar code that costs the daemon about 4 MB of resident memory,
    /// for fields the lights and the log never show.
    private struct GateAnswer: Decodable {
        var result: CheckinResult
        var message: String
        var ticket: TicketSummary?
        var attention: Bool?
    }
}

/// Bytes of one answer; written by curl's callback on the thread running the transfer.
package final class ResponseBuffer {
    /// A check-in answer is small; a huge body is a misbehaving server, not something to buffer.
    package let limit: Int
    package var bytes: [UInt8] = []

    package init(limit: Int = 64 * 1024) { self.limit = limit }

    /// Makes `handle` write its response body here. The buffer must outlive the handle's use.
    package func attach(to handle: UnsafeMutableRawPointer) -> CURLcode {
        let code = gh_curl_set_write_function(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let buffer = Unmanaged<ResponseBuffer>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            guard buffer.bytes.count + length <= buffer.limit else { return 0 }
            data.withMemoryRebound(to: UInt8.self, capacity: length) {
                buffer.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
            }
            return length
        }
        guard code == CURLE_OK else { return code }
        return gh_curl_set_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque())
    }
}

public struct CurlError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reads the device token: one line, no spaces, from a file only root and the kiosk can read.
public enum DeviceToken {
    public static func read(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CurlError("cannot read the device token at \(path) (enroll the kiosk, or set token_file)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmedOfBlanks
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || $0.asciiValue == nil }) else {
            throw CurlError("the device token at \(path) is empty or not one line of plain characters")
        }
        return token
    }
}

extension DispatchQueue {
    /// Runs a blocking call (a curl transfer) on this queue and returns its value — or, when the
    /// calling task is cancelled first, `cancelled` at once, leaving the call to finish on the queue.
    func blockingCall<Value: Sendable>(_ call: @escaping @Sendable () -> Value, whenCancelled cancelled: Value) async -> Value {
        let answer = AnswerOnce<Value>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.wait(with: continuation)
                self.async { answer.give(call()) }
            }
        } onCancel: {
            answer.give(cancelled)
        }
    }
}

/// Resumes one waiter exactly once with the first answer given, whichever comes first: the
/// request's, or the cancellation's (which may come before the waiter is even there).
private final class AnswerOnce<Value: Sendable>: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Value, Never>?
        var answer: Value?
        var resumed = false
    }
    private let state = Mutex(State())

    func wait(with continuation: CheckedContinuation<Value, Never>) {
        let early = state.withLock { state -> Value? in
            guard let answer = state.answer, !state.resumed else {
                state.waiter = continuation
                return nil
            }
            state.resumed = true
            return answer
        }
        if let early { continuation.resume(returning: early) }
    }

    func give(_ answer: Value) {
        let waiter = state.withLock { state -> CheckedContinuation<Value, Never>? in
            guard !state.resumed else { return nil }
            guard let waiter = state.waiter else {
                if state.answer == nil { state.answer = answer }
                return nil
            }
            state.resumed = true
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: answer)
    }
}

import Dispatch
import Foundation
import GatehouseCore
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import QRReading
import Synchronization

/// The staff scanner: a phone-first page (`/scanner`) for a staffed entrance, and the few API
/// routes it needs beyond check-in. The phone is a device like a kiosk: it pairs once with a
/// pairing code (`POST /api/enroll`), keeps its device token in the browser, and checks in
/// through `POST /api/checkin` — validate first, then commit with the same scanId, so a double
/// tap admits once. Revoking the device signs the phone out (its next call gets 401).
struct ScannerSite: Sendable {
    let gatehouse: Gatehouse
    let decoder: FrameDecoder
    /// The organizer's time zone: the scanner shows times in it, as the organizer's pages do.
    let timeZone: TimeZone

    func add(to router: Router<GatehouseRequestContext>) {
        router.get("scanner") { _, _ in ScannerPage.page.response }
        router.get("scanner/manifest.webmanifest") { _, _ in
            WebPage.response(status: .ok, contentType: "application/manifest+json", body: ScannerPage.manifest)
        }
        // Served from /scanner/, and allowed the scope /scanner (the page itself, which a script
        // under /scanner/ could not otherwise control); it never answers from a cache.
        router.get("scanner/sw.js") { _, _ in
            var response = WebPage.response(status: .ok, contentType: "text/javascript; charset=utf-8", body: WebScripts.serviceWorker)
            response.headers[Self.serviceWorkerAllowed] = "/scanner"
            return response
        }
        let api = router.group("api/scanner")
        api.get("session") { request, _ in
            // Fresh from the store: the page asks when it opens, and a revoked phone must know.
            guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
            let device = try await gatehouse.scannerDevice(bearerToken: token)
            let event = try await gatehouse.event(id: device.eventId)
            return JSONAnswer(
                Session(
                    deviceId: device.id,
                    gateId: device.gateId,
                    eventId: event.id,
                    eventName: event.name,
                    deviceName: device.name,
                    timeZone: timeZone.identifier
                )
            )
        }
        // "Sign this phone out": the token the phone drops stops working on the service too.
        api.post("signout") { request, context in
            guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
            let device = try await gatehouse.scannerDevice(bearerToken: token)
            _ = try await gatehouse.revokeDevice(id: device.id)
            context.logger.notice("Device signed itself out", metadata: ["device.id": "\(device.id)", "gate.id": "\(device.gateId)"])
            return Response(status: .noContent)
        }
        api.get("tickets/:id") { request, context in
            let device = try await device(request)
            // Only tickets of the phone's own event, and only what staff at the door need. Every
            // miss reads the same, so a phone cannot tell another event's ticket ids from none.
            let found: Ticket?
            do {
                found = try await gatehouse.ticket(id: try context.parameters.require("id"))
            } catch is NotFoundError {
                found = nil
            }
            guard let ticket = found, ticket.eventId == device.eventId else { throw NotFoundError("ticket") }
            return JSONAnswer(
                Details(
                    number: ticket.number,
                    holderName: ticket.holderName,
                    email: ticket.email,
                    ticketType: ticket.ticketType,
                    status: ticket.status.rawValue
                )
            )
        }
        api.post("decode") { request, _ in
            let device = try await device(request)
            // A phone sends at most 4 frames a second; more is not a phone.
            if let wait = decoder.requests.take(1, for: device.id) {
                throw Problem(.tooManyRequests, "too many frames from this phone; send at most four a second", headers: [.retryAfter: String(wait)])
            }
            let query = request.uri.queryParameters
            guard let width = query["width"].flatMap({ Int($0) }), let height = query["height"].flatMap({ Int($0) }),
                (32...FrameDecoder.maximumSide).contains(width), (32...FrameDecoder.maximumSide).contains(height)
            else { throw InvalidInputError("width and height must be 32 to \(FrameDecoder.maximumSide) pixels") }
            // A decoder is reserved before a byte of the frame is read: a phone that sends faster
            // than frames are read, or a flood of half-sent frames, holds no memory.
            let slot: FrameDecoder.Slot
            switch decoder.reserve(device: device.id) {
            case .reserved(let reserved): slot = reserved
            case .deviceBusy:
                throw Problem(.serviceUnavailable, "this phone's last frame is still being read; send the next one", headers: [.retryAfter: "1"])
            case .allBusy: throw Problem(.serviceUnavailable, "busy decoding other frames; send the next one", headers: [.retryAfter: "1"])
            }
            let pixels: [UInt8]
            do {
                pixels = try await BodyBudget.shared.withReservation(width * height) {
                    var body = try await request.body.collect(upTo: width * height)
                    guard body.readableBytes == width * height, let pixels = body.readBytes(length: width * height) else {
                        throw InvalidInputError("the frame must be width × height grey bytes")
                    }
                    return pixels
                }
            } catch {
                slot.release()
                throw error
            }
            guard let payloads = await decoder.decode(pixels, width: width, height: height, slot: slot) else {
                throw Problem(.serviceUnavailable, "this frame took too long to read; send the next one", headers: [.retryAfter: "1"])
            }
            return JSONAnswer(Decoded(codes: payloads.compactMap { String(validating: $0, as: UTF8.self) }))
        }
    }

    /// The enrolled device of the request's token (remembered for a few seconds, see DeviceDirectory).
    private func device(_ request: Request) async throws -> Device {
        guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
        return try await gatehouse.enrolledDevice(bearerToken: token)
    }

    struct Session: Encodable, Sendable {
        var deviceId: String
        var gateId: String
        var eventId: String
        var eventName: String
        var deviceName: String
        /// The organizer's time zone (IANA name), for the times the scanner shows.
        var timeZone: String
    }

    static let serviceWorkerAllowed = HTTPField.Name("Service-Worker-Allowed")!

    struct Details: Encodable, Sendable {
        var number: Int
        var holderName: String?
        var email: String?
        var ticketType: String?
        var status: String
    }

    struct Decoded: Encodable, Sendable {
        var codes: [String]
    }
}

/// Reads codes from the frames phones without a built-in barcode detector send, with the
/// kiosk's live decoder (its budgets, and what it learnt of the phone's view: one scanner per
/// phone), on threads of its own at a lower priority, so check-ins always have a core:
/// - at most cores − 1 frames at once, one per phone; a phone that sends faster is told to skip;
/// - a frame is at most 640 pixels a side (what the scanner page sends);
/// - an answer waits at most `timeLimit`: a frame that takes longer (a sheet of finder-like
///   squares can cost a QR engine seconds) is answered "too slow" while its thread finishes,
///   keeping that phone's slot until it does.
final class FrameDecoder: Sendable {
    static let maximumSide = 640
    let concurrent: Int
    let timeLimit: Duration
    /// Frames a phone may send: 16 in a burst, then 8 a second.
    let requests = RateLimiter(capacity: 16, perSecond: 8)

    enum Reservation {
        case reserved(Slot)
        case deviceBusy
        case allBusy
    }

    /// A decoder reserved for one phone's frame; released once when its work ends.
    final class Slot: Sendable {
        let device: String
        fileprivate let decoder: FrameDecoder
        private let released = Atomic<Bool>(false)

        fileprivate init(device: String, decoder: FrameDecoder) {
            self.device = device
            self.decoder = decoder
        }

        func release() {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            decoder.state.withLock { _ = $0.inFlight.remove(device) }
        }
    }

    fileprivate struct State {
        var inFlight: Set<String> = []
        /// Each phone's live scanner, the least recently used dropped past `scannerCapacity`.
        var scanners: [String: (scanner: ScannerBox, used: UInt64)] = [:]
        var uses: UInt64 = 0
    }

    static let scannerCapacity = 256
    fileprivate let state = Mutex(State())

    init(concurrent: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1), timeLimit: Duration = .milliseconds(1500)) {
        self.concurrent = concurrent
        self.timeLimit = timeLimit
    }

    func reserve(device: String) -> Reservation {
        state.withLock { state in
            if state.inFlight.contains(device) { return .deviceBusy }
            guard state.inFlight.count < concurrent else { return .allBusy }
            state.inFlight.insert(device)
            return .reserved(Slot(device: device, decoder: self))
        }
    }

    /// The payloads in the frame, or nil when reading it took longer than `timeLimit`.
    func decode(_ pixels: [UInt8], width: Int, height: Int, slot: Slot) async -> [[UInt8]]? {
        let scanner = state.withLock { state -> ScannerBox in
            state.uses &+= 1
            if let known = state.scanners[slot.device] {
                state.scanners[slot.device] = (known.scanner, state.uses)
                return known.scanner
            }
            if state.scanners.count >= Self.scannerCapacity, let oldest = state.scanners.min(by: { $0.value.used < $1.value.used }) {
                state.scanners.removeValue(forKey: oldest.key)
            }
            let made = ScannerBox()
            state.scanners[slot.device] = (made, state.uses)
            return made
        }
        let answer = OneAnswer<[[UInt8]]?>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<[[UInt8]]?, Never>) in
            answer.wait(continuation)
            let thread = Thread {
                // Lower than the threads that answer check-ins: a frame never takes their core.
                // (On Linux, PRIO_PROCESS with 0 sets the calling thread's nice value only.)
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                let payloads = pixels.withUnsafeBufferPointer { buffer in
                    scanner.scanner.scan(pixels: buffer.baseAddress!, width: width, height: height).payloads
                }
                slot.release()
                answer.give(payloads)
            }
            thread.name = "gatehouse-frame-decoder"
            thread.start()
            Task {
                try? await Task.sleep(for: timeLimit)
                answer.give(nil)
            }
        }
    }
}

/// A phone's live scanner: used by one thread at a time (its phone has one frame in flight).
final class ScannerBox: @unchecked Sendable {
    let scanner = QRScanner(effort: .live)
}

/// The first of several answers (the work's, or the deadline's) resumes the waiting request once.
final class OneAnswer<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, Never>?, given: T??)>((nil, nil))

    func wait(_ continuation: CheckedContinuation<T, Never>) {
        let early = state.withLock { state -> T?? in
            if let given = state.given { return given }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early!) }
    }

    func give(_ value: T) {
        let waiting = state.withLock { state -> CheckedContinuation<T, Never>? in
            guard state.given == nil else { return nil }
            state.given = .some(value)
            defer { state.continuation = nil }
            return state.continuation
        }
        waiting?.resume(returning: value)
    }
}

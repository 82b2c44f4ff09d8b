import Dispatch
import Foundation
import GatehouseCore
import GatehouseStore
import HTTPTypes
import Hummingbird
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

    func add(to router: Router<GatehouseRequestContext>) {
        router.get("scanner") { _, _ in ScannerPage.page.response }
        router.get("scanner/manifest.webmanifest") { _, _ in
            WebPage.response(status: .ok, contentType: "application/manifest+json", body: ScannerPage.manifest)
        }
        // Served from /scanner/ so that its scope covers the page; it never answers from a cache.
        router.get("scanner/sw.js") { _, _ in
            WebPage.response(status: .ok, contentType: "text/javascript; charset=utf-8", body: WebScripts.serviceWorker)
        }
        let api = router.group("api/scanner")
        api.get("session") { request, _ in
            let device = try await device(request)
            let event = try await gatehouse.event(id: device.eventId)
            return JSONAnswer(Session(deviceId: device.id, gateId: device.gateId, eventId: event.id, eventName: event.name, deviceName: device.name))
        }
        api.get("tickets/:id") { request, context in
            let device = try await device(request)
            let ticket = try await gatehouse.ticket(id: try context.parameters.require("id"))
            // Only tickets of the phone's own event, and only what staff at the door need.
            guard ticket.eventId == device.eventId else { throw NotFoundError("ticket") }
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
            _ = try await device(request)
            let query = request.uri.queryParameters
            guard let width = query["width"].flatMap({ Int($0) }), let height = query["height"].flatMap({ Int($0) }),
                (32...FrameDecoder.maximumSide).contains(width), (32...FrameDecoder.maximumSide).contains(height)
            else { throw InvalidInputError("width and height must be 32 to \(FrameDecoder.maximumSide) pixels") }
            var body = try await request.body.collect(upTo: width * height)
            guard body.readableBytes == width * height, let pixels = body.readBytes(length: width * height) else {
                throw InvalidInputError("the frame must be width × height grey bytes")
            }
            guard let payloads = await decoder.decode(pixels, width: width, height: height) else {
                throw Problem(.serviceUnavailable, "busy decoding other frames; send the next one", headers: [.retryAfter: "1"])
            }
            return JSONAnswer(Decoded(codes: payloads.compactMap { String(validating: $0, as: UTF8.self) }))
        }
    }

    private func device(_ request: Request) async throws -> Device {
        guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
        return try await gatehouse.scannerDevice(bearerToken: token)
    }

    struct Session: Encodable, Sendable {
        var deviceId: String
        var gateId: String
        var eventId: String
        var eventName: String
        var deviceName: String
    }

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

/// Reads codes from the frames phones without a built-in barcode detector send: the kiosk's own
/// decoder (zbar and its retries), on Dispatch threads so the event loops never wait for it, and
/// at most `concurrent` frames at once — a phone that sends faster is told to skip frames.
final class FrameDecoder: Sendable {
    static let maximumSide = 1280
    let concurrent: Int
    private let inFlight = Atomic<Int>(0)

    init(concurrent: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) { self.concurrent = concurrent }

    func decode(_ pixels: [UInt8], width: Int, height: Int) async -> [[UInt8]]? {
        guard inFlight.add(1, ordering: .relaxed).newValue <= concurrent else {
            inFlight.subtract(1, ordering: .relaxed)
            return nil
        }
        defer { inFlight.subtract(1, ordering: .relaxed) }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                // Thorough: one frame from a phone is all there is, and a phone sends a few a second.
                let scanner = QRScanner(effort: .thorough)
                let payloads = pixels.withUnsafeBufferPointer { scanner.scan(pixels: $0.baseAddress!, width: width, height: height).payloads }
                continuation.resume(returning: payloads)
            }
        }
    }
}

import Dispatch
import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The staff scanner: a phone-first page (`/scanner`) for a staffed entrance, and the few API
/// routes it needs beyond check-in. The phone is a device like a kiosk: it pairs once with a
/// pairing code (`POST /api/enroll`), keeps its device token in the browser, and checks in
/// through `POST /api/checkin` — validate first, then commit with the same scanId, so a double
/// tap admits once. Revoking the device signs the phone out (its next call gets 401).
package struct ScannerSite: Sendable {
    package let gatehouse: Gatehouse
    #if ServerQRDecoding
    package let decoder: FrameDecoder
    #endif
    /// The organizer's time zone: the scanner shows times in it, as the organizer's pages do.
    package let timeZone: TimeZone
    /// Signed-in staff pair a phone without a code (`POST /api/scanner/pair`).
    package let accounts: AccountBook
    package let form: WebForm
    package let clientAddress: ClientAddress

    /// Routes whose bodies the connection holds unread until the route accepts the request
    /// (`GatehouseRequestContext.readHeldBody`): a refused frame is not read off the socket.
    package static let heldBodyPaths: Set<String> = ["/api/scanner/decode"]

    struct StaffAccount: Encodable, Sendable {
        struct EventName: Encodable, Sendable {
            var id: String
            var name: String
        }
        var email: String
        var role: String
        var events: [EventName]
    }

    struct StaffPairing: Decodable {
        var eventId: String
        var gateId: String
        /// The page's name for this attempt, the same when it asks again after a lost answer.
        var attempt: String?
    }

    /// The signed-in account of this browser, when it may scan; 401 otherwise.
    func signedInStaff(_ request: Request, peer: String?) async throws -> Principal {
        let secure = clientAddress.overTLS(request, peer: peer)
        guard let session = Authenticator.session(request, secure: secure), let principal = try await accounts.principal(session: session) else {
            throw Problem(.unauthorized, "not signed in on this browser")
        }
        guard principal.role.may(.scan) else { throw Problem(.forbidden, "your account may not use the scanner") }
        return principal
    }

    package func add(to router: Router<GatehouseRequestContext>) {
        router.get("scanner") { _, _ in ScannerPage.page.response }
        router.get("scanner/manifest.webmanifest") { _, _ in
            WebPage.response(status: .ok, contentType: "application/manifest+json", body: ScannerPage.manifest)
        }
        // Served from /scanner/, and allowed the scope /scanner (the page itself, which a script
        // under /scanner/ could not otherwise control); it never answers from a cache.
        router.get("scanner/sw.js") { _, _ in
            var response = WebPage.response(status: .ok, contentType: "text/javascript; charset=utf-8", body: WebAssets.named("sw.js").text)
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
        // Who is signed in on this browser, and the events they may scan at: the page offers to
        // pair without a code. Only the session cookie counts here (never a device token).
        api.get("account") { request, context in
            let principal = try await signedInStaff(request, peer: context.remoteHost)
            let events = try await gatehouse.events().filter { principal.covers(eventId: $0.id) }
            return JSONAnswer(
                StaffAccount(email: principal.actor, role: principal.role.title, events: events.map { .init(id: $0.id, name: $0.name) })
            )
        }
        api.post("pair") { request, context in
            guard form.isSameOrigin(request, peer: context.remoteHost) else {
                throw Problem(.forbidden, "this request was not sent from Gatehouse's own scanner page")
            }
            let principal = try await signedInStaff(request, peer: context.remoteHost)
            let body = try await request.decodeJSON(as: StaffPairing.self, context: context, limit: BodyLimit.enroll)
            guard principal.may(.scan, eventId: body.eventId) else { throw Problem(.forbidden, "your account does not have this event") }
            let paired: Gatehouse.StaffPairing
            do {
                paired = try await gatehouse.pairStaffPhone(
                    principal,
                    eventId: body.eventId,
                    gateId: body.gateId,
                    attempt: body.attempt ?? Base32.randomString(count: 26)
                )
            } catch let error as Gatehouse.StaffPairingError {
                throw Problem(.conflict, error.description)
            }
            let device = paired.device
            if paired.isNew {
                try await accounts.record(
                    AuditEntry(
                        at: gatehouse.now(),
                        accountId: principal.accountId,
                        actor: principal.actor,
                        address: clientAddress.of(request, peer: context.remoteHost),
                        action: AuditAction.scannerPaired,
                        eventId: device.eventId,
                        subject: device.id,
                        detail: "gate \(device.gateId)"
                    )
                )
            }
            return JSONAnswer(
                EnrollmentRoutes.Enrolled(
                    deviceId: device.id,
                    eventId: device.eventId,
                    gateId: device.gateId,
                    token: paired.token,
                    kind: device.kind
                ),
                status: paired.isNew ? .created : .ok
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
        #if ServerQRDecoding
        api.post("decode") { request, context in
            let device = try await device(request)
            // A phone sends at most 4 frames a second; more is not a phone. Its refusal waits as
            // long as it tells the client to (the frame's body held unread meanwhile): answered at
            // once, each refusal ends its connection, and a client that never waits made the
            // service set up a connection per refusal at whatever rate it could open them — on
            // PostgreSQL, whose client shares the event loops, the gates' answers waited behind.
            if let wait = decoder.requests.take(1, for: device.id) {
                try? await Task.sleep(for: .seconds(wait))
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
                    context.readHeldBody()
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
        #else
        api.post("decode") { _, _ -> Response in
            throw Problem(
                .notImplemented,
                "this service reads no camera frames (built without the ServerQRDecoding trait): use a browser with a QR detector, a wedge scanner, or type the code"
            )
        }
        #endif
    }

    /// The enrolled device of the request's token (remembered for a few seconds, see DeviceDirectory).
    private func device(_ request: Request) async throws -> Device {
        guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
        return try await gatehouse.enrolledDevice(bearerToken: token)
    }

    package struct Session: Encodable, Sendable {
        var deviceId: String
        var gateId: String
        var eventId: String
        var eventName: String
        var deviceName: String
        /// The organizer's time zone (IANA name), for the times the scanner shows.
        var timeZone: String
    }

    package static let serviceWorkerAllowed = HTTPField.Name("Service-Worker-Allowed")!

    package struct Details: Encodable, Sendable {
        var number: Int
        var holderName: String?
        var email: String?
        var ticketType: String?
        var status: String
    }

    package struct Decoded: Encodable, Sendable {
        var codes: [String]
    }
}

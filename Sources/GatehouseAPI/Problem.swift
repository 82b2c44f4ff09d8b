import Foundation
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// An RFC 9457 problem answer (`application/problem+json`): what every 4xx and 5xx of the API is.
public struct Problem: HTTPResponseError, Equatable {
    public var status: HTTPResponse.Status
    public var detail: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail
        self.headers = headers
    }

    package struct Body: Codable {
        var type: String
        var title: String
        var status: Int
        var detail: String
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(type: "about:blank", title: status.reasonPhrase, status: status.code, detail: detail)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        let data = try APIJSON.encoder.encode(body)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    package static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, detail, headers: [.wwwAuthenticate: "Bearer"])
    }
}

/// Turns every error a route throws into a problem answer, so clients always get the same shape
/// and a bug never leaks a stack or SQL text: unknown errors are logged and answered as 500.
package struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    package let outages: OutageLog

    package init(outages: OutageLog) { self.outages = outages }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try Self.problem(for: error, context: context, outages: outages).response(from: request, context: context)
        }
    }

    package static func problem(for error: any Error, context: Context, outages: OutageLog) -> Problem {
        switch error {
        case let problem as Problem: return problem
        case let error as InvalidInputError: return Problem(.badRequest, error.description)
        case let error as NotFoundError: return Problem(.notFound, error.description)
        case let error as Gatehouse.CheckinError:
            switch error {
            case .unauthorized: return .unauthorized("unknown or revoked device token, or a deviceId that is not the token's")
            case .wrongGate(let registered): return Problem(.forbidden, "this device is registered for gate \(registered)")
            case .scanIdReused: return Problem(.conflict, "scanId was already used by this device for a different code")
            case .kioskOnly:
                return Problem(
                    .forbidden,
                    "this device is a staff scanner: it checks tickets in online only (the ticket snapshot and offline uploads are for gate kiosks)"
                )
            }
        case let refusal as AnnulRefusal:
            switch refusal {
            case .unknownScan: return Problem(.notFound, "no check-in of this device has that scanId")
            case .otherDevice: return Problem(.forbidden, "another device made that scan: only the device that made a check-in may annul it")
            case .tooLate: return Problem(.conflict, "a check-in can be annulled only within 15 minutes")
            case .nothingToUndo: return Problem(.conflict, "that scan changed nothing (a refusal, a look-up, or an exit of someone not inside)")
            case .changedSince: return Problem(.conflict, "the ticket was scanned again since; annul the latest scan first")
            }
        case is DeviceDirectory.Busy:
            return Problem(.serviceUnavailable, "busy checking other device tokens; retry shortly", headers: [.retryAfter: "1"])
        case let error as Gatehouse.RateLimited:
            return Problem(
                .tooManyRequests,
                "too many \(error.what) from this device; try again in \(error.retryAfter) s",
                headers: [.retryAfter: String(error.retryAfter)]
            )
        case let error as Gatehouse.EnrollmentError:
            switch error {
            case .unknownCode: return Problem(.notFound, "unknown pairing code: check it, or ask for a new one")
            case .codeAlreadyUsed: return Problem(.conflict, "pairing code already used: each code pairs one device; ask for a new one")
            case .codeExpired: return Problem(.gone, "pairing code expired: ask for a new one")
            }
        case is NIOTooManyBytesError: return Problem(.contentTooLarge, "request body is too large")
        // A malformed body (bad chunk sizes, a body cut short): the client's fault, not ours.
        case let error as HTTPParserError: return Problem(.badRequest, "malformed HTTP request: \(error)")
        case let error as StoreError:
            if case .unavailable(let why) = error {
                outages.failed(why, logger: context.logger)
                return Problem(.serviceUnavailable, "the database is unavailable; retry shortly")
            }
            if case .invalid(let why) = error { return Problem(.badRequest, why) }
            if case .conflict(let why) = error { return Problem(.conflict, why) }
            if case .notFound(let what) = error { return Problem(.notFound, "no \(what)") }
            context.logger.error("Request failed", metadata: ["error": "\(error)"])
            return Problem(.internalServerError, "internal error")
        case let error as HTTPError:
            return Problem(error.status, error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError:
            return Problem(error.status, error.status.reasonPhrase)
        default:
            context.logger.error("Request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Problem(.internalServerError, "internal error")
        }
    }
}

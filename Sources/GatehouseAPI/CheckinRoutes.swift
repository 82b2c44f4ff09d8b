import Dispatch
import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// `POST /api/checkin`, and for offline gates `GET /api/sync/tickets` and
/// `POST /api/offline-checkins`: for scanners holding a device token.
package struct CheckinRoutes {
    package let gatehouse: Gatehouse

    package func add(to group: RouterGroup<GatehouseRequestContext>) {
        group.get("sync/tickets") { request, context in
            guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
            let query = request.uri.queryParameters
            var limit: Int?
            if let text = query["limit"] {
                guard let value = Int(String(text)) else { throw Problem(.badRequest, "limit must be a whole number") }
                limit = value
            }
            let page = try await gatehouse.syncTickets(bearerToken: token, after: query["after"].map(String.init), limit: limit)
            // A page is up to a thousand tickets: encoded off the event loops, which also carry
            // every other gate's check-in.
            let data = try await OffLoop.run { try APIJSON.encoder.encode(page) }
            return Response(
                status: .ok,
                // Never cached anywhere: a gate must see the newest state.
                headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
        group.post("offline-checkins") { request, context in
            let token = try await device(request)
            // A device whose upload allowance is spent is told before its body is read.
            try gatehouse.checkUploadAllowance(bearerToken: token)
            let body = try await request.decodeJSON(as: OfflineUpload.self, context: context, limit: BodyLimit.offlineUpload, offLoop: true)
            let answer = try await gatehouse.uploadOffline(body, bearerToken: token, logger: context.logger)
            let data = try await OffLoop.run { try APIJSON.encoder.encode(answer) }
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        group.post("checkin") { request, context in
            // Authentication first: an anonymous caller learns nothing, not even body errors, and
            // never has a byte of its body read.
            let token = try await device(request)
            let body = try await request.decodeJSON(
                as: CheckinRequest.self,
                context: context,
                limit: BodyLimit.checkin,
                plain: CheckinRequest.init(plainJSON:)
            )
            return CheckinAnswerResponse(answer: try await gatehouse.checkin(body, bearerToken: token, logger: context.logger))
        }
        group.post("devices/:id/lane") { request, context in
            let token = try await device(request)
            let body = try await request.decodeJSON(as: LaneReport.self, context: context, limit: BodyLimit.checkin)
            guard body.deviceId == context.parameters.get("id") else { throw Problem(.badRequest, "deviceId must be the device of the path") }
            try await gatehouse.reportLane(body, bearerToken: token, logger: context.logger)
            return Response(status: .noContent)
        }
        group.post("devices/:id/heartbeat") { request, context in
            let token = try await device(request)
            let body = try await request.decodeJSON(as: Heartbeat.self, context: context, limit: BodyLimit.heartbeat)
            guard body.deviceId == context.parameters.get("id") else { throw Problem(.badRequest, "deviceId must be the device of the path") }
            try await gatehouse.recordHeartbeat(body, bearerToken: token, logger: context.logger)
            return Response(status: .noContent)
        }
        group.post("checkins/:scanId/annul") { request, context -> AnnulAnswerBody in
            let token = try await device(request)
            let scanId = try context.parameters.require("scanId")
            let body = try await request.decodeJSON(as: AnnulRequest.self, context: context, limit: BodyLimit.checkin)
            return AnnulAnswerBody(try await gatehouse.annul(scanId: scanId, body, bearerToken: token, logger: context.logger))
        }
    }

    /// The answer to an annul: the ticket is back as it was before the scan.
    struct AnnulAnswerBody: ResponseEncodable {
        var annulled = true
        var scanId: String
        /// The scan had been annulled already (this is a retry).
        var again: Bool
        var ticket: TicketSummary?

        init(_ answer: AnnulAnswer) {
            scanId = answer.scanId
            again = answer.again
            ticket = answer.ticket
        }
    }

    /// The bearer token of an enrolled device, checked before the body is read.
    private func device(_ request: Request) async throws -> String {
        guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
        _ = try await gatehouse.enrolledDevice(bearerToken: token)
        return token
    }
}

/// Work too heavy for an event loop (encoding a large page), on Dispatch's threads.
package enum OffLoop {
    package static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// The check-in answer through its hand-written encoder (the hottest response; see CheckinAnswerJSON).
package struct CheckinAnswerResponse: ResponseGenerator {
    package var answer: CheckinAnswer

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.jsonBytes))
        )
    }
}

import GatehouseCore
import Hummingbird

/// `POST /api/checkin`, and for offline gates `GET /api/sync/tickets` and
/// `POST /api/offline-checkins`: for scanners holding a device token.
struct CheckinRoutes {
    let gatehouse: Gatehouse

    func add(to group: RouterGroup<GatehouseRequestContext>) {
        group.get("sync/tickets") { request, context in
            guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
            let query = request.uri.queryParameters
            var limit: Int?
            if let text = query["limit"] {
                guard let value = Int(String(text)) else { throw Problem(.badRequest, "limit must be a whole number") }
                limit = value
            }
            let page = try await gatehouse.syncTickets(bearerToken: token, after: query["after"].map(String.init), limit: limit)
            // Never cached anywhere: a gate must see the newest state.
            var response = try JSONAnswer(page).response(from: request, context: context)
            response.headers[.cacheControl] = "no-store"
            return response
        }
        group.post("offline-checkins") { request, context in
            guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
            let body = try await request.decodeJSON(as: OfflineUpload.self, context: context)
            return JSONAnswer(try await gatehouse.uploadOffline(body, bearerToken: token, logger: context.logger))
        }
        group.post("checkin") { request, context in
            // Authentication first: an anonymous caller learns nothing, not even body errors.
            guard let token = request.bearerToken else { throw Problem.unauthorized("device token required (Authorization: Bearer …)") }
            let body = try await request.decodeJSON(as: CheckinRequest.self, context: context)
            return CheckinAnswerResponse(answer: try await gatehouse.checkin(body, bearerToken: token, logger: context.logger))
        }
    }
}

/// The check-in answer through its hand-written encoder (the hottest response; see CheckinAnswerJSON).
struct CheckinAnswerResponse: ResponseGenerator {
    var answer: CheckinAnswer

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.jsonBytes))
        )
    }
}

import GatehouseCore
import Hummingbird

/// `POST /api/checkin`, for scanners holding a device token.
struct CheckinRoutes {
    let gatehouse: Gatehouse

    func add(to group: RouterGroup<GatehouseRequestContext>) {
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

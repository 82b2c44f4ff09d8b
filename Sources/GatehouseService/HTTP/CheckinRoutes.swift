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
            return JSONAnswer(try await gatehouse.checkin(body, bearerToken: token, logger: context.logger))
        }
    }
}

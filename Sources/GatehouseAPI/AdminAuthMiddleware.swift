import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Lets a request through only with `Authorization: Bearer <admin token>`.
/// Holds the token's hash, not the token, and compares in constant time.
package struct AdminAuthMiddleware: RouterMiddleware {
    package typealias Context = GatehouseRequestContext
    package let adminTokenHash: [UInt8]

    package init(adminTokenHash: [UInt8]) { self.adminTokenHash = adminTokenHash }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = request.bearerToken else { throw Problem.unauthorized("admin token required (Authorization: Bearer …)") }
        guard admits(token) else { throw Problem.unauthorized("wrong admin token") }
        return try await next(request, context)
    }

    /// Whether `token` is the admin token (compared as hashes, in constant time).
    package func admits(_ token: String) -> Bool {
        TokenHash.equal(TokenHash.of(token), adminTokenHash)
    }
}

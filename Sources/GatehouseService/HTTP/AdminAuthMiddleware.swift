import Hummingbird

/// Lets a request through only with `Authorization: Bearer <admin token>`.
/// Holds the token's hash, not the token, and compares in constant time.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let adminTokenHash: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = request.bearerToken else { throw Problem.unauthorized("admin token required (Authorization: Bearer …)") }
        guard admits(token) else { throw Problem.unauthorized("wrong admin token") }
        return try await next(request, context)
    }

    /// Whether `token` is the admin token (compared as hashes, in constant time).
    func admits(_ token: String) -> Bool {
        TokenHash.equal(TokenHash.of(token), adminTokenHash)
    }
}

import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import Hummingbird
import NIOCore

/// /api/openapi.yaml, and /static: the scripts and the stylesheet under their hashed names (kept by browsers for a year:
/// a new version has a new name), and the icons.
package struct StaticRoutes: Sendable {
    package func add(to router: Router<GatehouseRequestContext>) {
        // The API's description (Assets/openapi.yaml), for client generators and API fuzzers.
        router.get("api/openapi.yaml") { _, _ in
            guard let description = WebAssets.all["openapi.yaml"] else { throw NotFoundError("file") }
            var response = WebPage.response(status: .ok, contentType: description.contentType, body: "")
            response.body = .init(byteBuffer: ByteBuffer(bytes: description.bytes))
            response.headers[.cacheControl] = "no-cache"
            return response
        }
        router.get("static/:name") { _, context in
            let name = try context.parameters.require("name")
            if let asset = WebAssets.served[name] {
                var response = WebPage.response(status: .ok, contentType: asset.contentType, body: "")
                response.body = .init(byteBuffer: ByteBuffer(bytes: asset.bytes))
                response.headers[.cacheControl] = "public, max-age=31536000, immutable"
                return response
            }
            // The plain name (a page of an older binary, a hand-typed link): the current file,
            // revalidated each time.
            if let asset = WebAssets.all["static/" + name] {
                var response = WebPage.response(status: .ok, contentType: asset.contentType, body: "")
                response.body = .init(byteBuffer: ByteBuffer(bytes: asset.bytes))
                response.headers[.cacheControl] = "no-cache"
                return response
            }
            guard let icon = StaticIcons.icon(name) else { throw NotFoundError("file") }
            var response = WebPage.response(status: .ok, contentType: "image/png", body: "")
            response.body = .init(byteBuffer: ByteBuffer(bytes: icon))
            // Drawn by the binary: they change only with it, so a browser revalidates them.
            response.headers[.cacheControl] = "no-cache"
            return response
        }
    }
}

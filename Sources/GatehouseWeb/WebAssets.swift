import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage

/// The pages' scripts, stylesheet, service worker and templates: files in `Assets/`, compiled in
/// by the EmbedWebAssets build plugin (nothing is read from disk at run time, nothing comes from
/// another site). Scripts and the stylesheet are served under names that carry a hash of their
/// content, so a browser may keep them for a year and still never runs a stale one.
package enum WebAssets {
    package struct Asset: Sendable {
        package let path: String
        package let bytes: [UInt8]
        package let hash: String

        package var text: String { String(decoding: bytes, as: UTF8.self) }

        package var contentType: String {
            switch (path as NSString).pathExtension {
            case "js": "text/javascript; charset=utf-8"
            case "css": "text/css; charset=utf-8"
            case "mustache", "html": "text/html; charset=utf-8"
            case "yaml": "application/yaml; charset=utf-8"
            default: "application/octet-stream"
            }
        }

        /// `static/scanner.js` as `scanner.1a2b3c4d5e.js`: the name a page links.
        package var hashedName: String {
            let name = (path as NSString).lastPathComponent
            let ext = (name as NSString).pathExtension
            return (name as NSString).deletingPathExtension + "." + hash + "." + ext
        }
    }

    /// Every asset by its path in `Assets/` (`static/scanner.js`, `templates/page.mustache`).
    package static let all: [String: Asset] = {
        var assets: [String: Asset] = [:]
        for file in EmbeddedAssets.files {
            guard let data = Data(base64Encoded: file.base64) else { preconditionFailure("asset \(file.path) is not base64") }
            assets[file.path] = Asset(path: file.path, bytes: Array(data), hash: file.hash)
        }
        return assets
    }()

    /// The served files under /static, by their hashed name.
    package static let served: [String: Asset] = Dictionary(
        uniqueKeysWithValues: all.values.filter { $0.path.hasPrefix("static/") }.map { ($0.hashedName, $0) }
    )

    /// The URL a page links for a file of `static/` (`scanner.js` → `/static/scanner.1a2b3c4d5e.js`).
    package static func url(_ name: String) -> String {
        guard let asset = all["static/" + name] else { preconditionFailure("no asset static/\(name)") }
        return "/static/" + asset.hashedName
    }

    /// A file of `Assets/` that must be there (the build put it there).
    package static func named(_ path: String) -> Asset {
        guard let asset = all[path] else { preconditionFailure("no asset \(path)") }
        return asset
    }
}

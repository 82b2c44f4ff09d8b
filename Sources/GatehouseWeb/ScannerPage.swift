import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseImage
import GatehouseStorage
import QRRendering

/// The staff scanner's page and its web-app manifest. The page holds no data of its own: what it
/// shows comes from the API with the phone's device token.
package enum ScannerPage {
    package static let page = WebPage(
        title: "Staff scanner",
        template: "scanner",
        section: .scanner,
        scripts: ["scanner.js"],
        organizerMenu: false,
        bodyClass: "scanner"
    )

    package static let manifest = """
        {"name":"Gatehouse staff scanner","short_name":"Scanner","start_url":"/scanner","scope":"/scanner","display":"standalone",\
        "orientation":"portrait","background_color":"#12263f","theme_color":"#12263f","icons":[\
        {"src":"/static/icon-192.png","sizes":"192x192","type":"image/png"},{"src":"/static/icon-512.png","sizes":"512x512","type":"image/png"}]}
        """

    /// The home-screen icon, drawn here: a gate (two posts and a bar) on the brand's dark blue,
    /// as grey levels (PNG, our own writer).
    package static func icon(size: Int) -> [UInt8] {
        var pixels = [UInt8](repeating: 40, count: size * size)
        func fill(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ level: UInt8) {
            for y in Int(y0 * Double(size))..<Int(y1 * Double(size)) {
                for x in Int(x0 * Double(size))..<Int(x1 * Double(size)) { pixels[y * size + x] = level }
            }
        }
        fill(0.2, 0.25, 0.3, 0.8, 245)
        fill(0.7, 0.25, 0.8, 0.8, 245)
        fill(0.3, 0.45, 0.7, 0.53, 200)
        return PNGWriter.png(GreyImage(width: size, height: size, pixels: pixels))
    }
}

/// The icons under /static, drawn here (PNG, our own writer): no file of their own to keep in step.
package enum StaticIcons {
    package static let icon192 = ScannerPage.icon(size: 192)
    package static let icon512 = ScannerPage.icon(size: 512)

    package static func icon(_ name: String) -> [UInt8]? {
        switch name {
        case "icon-192.png": icon192
        case "icon-512.png": icon512
        default: nil
        }
    }
}

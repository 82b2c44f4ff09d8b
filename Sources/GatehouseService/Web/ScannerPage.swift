import Foundation
import GatehouseImage
import QRRendering

/// The staff scanner's page and its web-app manifest. The page holds no data of its own: what it
/// shows comes from the API with the phone's device token.
enum ScannerPage {
    static let page = WebPage(
        title: "Staff scanner",
        body: """
            <div class="banner offline" id=offline hidden role=alert>No connection to Gatehouse: no ticket can be checked in until it is back.</div>
            <section id=pair hidden>
            <p>Pair this phone once with a pairing code from the organizer (an event's Devices page). Scanning the code's QR with the phone's camera opens this page ready to pair.</p>
            <form id=pair-form class=stack autocomplete=off>
            <label>Pairing code <input id=pair-code type=text name=code required autocapitalize=characters spellcheck=false placeholder="XXXX-XXXX-XXXX-XXXX" maxlength=40></label>
            <button>Pair this phone</button></form>
            <p id=pair-error class=error role=alert hidden></p>
            </section>
            <section id=scan hidden>
            <p class=crumbs id=whoami></p>
            <form id=scan-form class=inline autocomplete=off>
            <label>Code <input id=code type=text name=code spellcheck=false autocapitalize=off enterkeyhint=go placeholder="Scan or type a code" maxlength=2000></label>
            <button class=secondary>Check</button></form>
            <div id=status class=scan-status aria-live=assertive><p class=muted>Ready: scan a ticket.</p></div>
            <div class=scan-actions>
            <button id=confirm class=wide type=button hidden>✅ Confirm check-in</button>
            <button id=next class=secondary type=button>🔁 Scan next</button>
            <button id=details class=secondary type=button hidden>View details</button>
            <button id=camera class="secondary wide" type=button>📷 Camera</button>
            </div>
            <dl id=detail-box class=panel hidden></dl>
            <video id=viewfinder class=viewfinder playsinline muted hidden></video>
            <footer class=scan-footer>
            <button id=signout class="secondary small" type=button>Sign this phone out…</button>
            <div id=signout-confirm class=panel role=alertdialog aria-labelledby=signout-question hidden>
            <p id=signout-question>Sign this phone out? It stops checking tickets in, and pairing it again needs a new code from the organizer.</p>
            <div class=inline><button id=signout-yes class=danger type=button>Sign out</button><button id=signout-no class=secondary type=button>Cancel</button></div>
            </div>
            </footer>
            </section>
            <noscript><p class=error>The scanner needs JavaScript.</p></noscript>
            """,
        section: .scanner,
        scripts: ["scanner.js"],
        organizerMenu: false,
        extraHead: """
            <link rel="manifest" href="/scanner/manifest.webmanifest"><meta name="theme-color" content="#12263f">\
            <link rel="icon" href="/static/icon-192.png"><link rel="apple-touch-icon" href="/static/icon-192.png">
            """,
        bodyClass: "scanner"
    )

    static let manifest = """
        {"name":"Gatehouse staff scanner","short_name":"Scanner","start_url":"/scanner","scope":"/scanner","display":"standalone",\
        "orientation":"portrait","background_color":"#12263f","theme_color":"#12263f","icons":[\
        {"src":"/static/icon-192.png","sizes":"192x192","type":"image/png"},{"src":"/static/icon-512.png","sizes":"512x512","type":"image/png"}]}
        """

    /// The home-screen icon, drawn here: a gate (two posts and a bar) on the brand's dark blue,
    /// as grey levels (PNG, our own writer).
    static func icon(size: Int) -> [UInt8] {
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

/// /static: the stylesheet, the scripts and the icons, all compiled in (nothing read from disk
/// at run time, nothing from another site).
enum StaticAssets {
    static let icon192 = ScannerPage.icon(size: 192)
    static let icon512 = ScannerPage.icon(size: 512)

    static func asset(_ name: String) -> (contentType: String, body: [UInt8])? {
        switch name {
        case "gatehouse.css": ("text/css; charset=utf-8", Array(Stylesheet.css.utf8))
        case "scanner.js": ("text/javascript; charset=utf-8", Array(ScannerScript.source.utf8))
        case "checkins.js": ("text/javascript; charset=utf-8", Array(WebScripts.checkins.utf8))
        case "import.js": ("text/javascript; charset=utf-8", Array(WebScripts.importProgress.utf8))
        case "print.js": ("text/javascript; charset=utf-8", Array(WebScripts.print.utf8))
        case "icon-192.png": ("image/png", icon192)
        case "icon-512.png": ("image/png", icon512)
        default: nil
        }
    }
}

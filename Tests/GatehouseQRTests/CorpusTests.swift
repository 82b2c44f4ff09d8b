import Foundation
import GatehouseImage
import GatehouseTestSupport
import QRReading
import Testing

/// The decoder against real photos (`../shared/corpus/`), next to bare libzbar on the same files.
/// Payloads are compared as text made by `PayloadText` from zbar's binary-mode bytes, after
/// trimming trailing CR/LF.
@Suite(.enabled(if: Corpus.isAvailable, "../shared/corpus is not here"))
struct CorpusTests {
    struct Tally {
        var codes = 0
        var ours = 0
        var bare = 0
        var falseReads: [String] = []
    }

    @Test func decoder_beats_bare_zbar_on_real_photos() throws {
        let scanner = QRScanner(effort: .thorough)
        let bare = ZbarReader()
        var tallies: [String: Tally] = [:]
        for image in try Corpus.images() {
            let grey = try GreyImage(pgm: Array(try Data(contentsOf: URL(fileURLWithPath: image.path))))
            let ours = scanner.scan(grey).payloads.map { Corpus.normalized(PayloadText.text($0)) }
            let plain = bare.read(grey).map { Corpus.normalized(PayloadText.text($0)) }
            var tally = tallies[image.set, default: Tally()]
            tally.codes += image.codes.count
            // A photo may show the same code twice: count codes as a multiset.
            tally.ours += Self.matches(image.codes, ours)
            tally.bare += Self.matches(image.codes, plain)
            tally.falseReads += ours.filter { !image.codes.contains($0) && !Self.unlabeled.contains($0) }.map { "\(image.path): \($0.prefix(60))" }
            tallies[image.set] = tally
        }
        let zbarimg = [
            "zxing-qrcode-1": 20, "zxing-qrcode-2": 20, "zxing-qrcode-3": 42, "boofcv-monitor": 0, "boofcv-glare": 10,
            "boofcv-close": 11, "boofcv-blurred": 16, "boofcv-brightness": 24, "boofcv-nominal": 31, "boofcv-perspective": 7,
        ]
        var report = "set                  codes  ours  bare-libzbar  zbarimg(README)\n"
        for (set, tally) in tallies.sorted(by: { $0.key < $1.key }) {
            report +=
                "\(set.padding(toLength: 20, withPad: " ", startingAt: 0)) \(pad(tally.codes, 5))  \(pad(tally.ours, 4))  \(pad(tally.bare, 12))  \(pad(zbarimg[set] ?? 0, 15))\n"
        }
        let boof = tallies.filter { $0.key.hasPrefix("boofcv") }.values
        let zxing = tallies.filter { $0.key.hasPrefix("zxing") }.values
        let boofCodes = boof.map(\.codes).reduce(0, +)
        let boofOurs = boof.map(\.ours).reduce(0, +)
        let zxingOurs = zxing.map(\.ours).reduce(0, +)
        report += "boofcv total: \(boofOurs)/\(boofCodes); zxing total: \(zxingOurs)/\(zxing.map(\.codes).reduce(0, +))"
        print(report)
        let falseReads = tallies.values.flatMap(\.falseReads)
        #expect(falseReads.isEmpty, "\(falseReads)")
        #expect((tallies["boofcv-monitor"]?.ours ?? 0) >= 8)
        #expect(Double(boofOurs) >= 0.8 * Double(boofCodes))
        #expect(zxingOurs >= 90)
        for (set, tally) in tallies { #expect(tally.ours >= tally.bare, "\(set): never worse than bare zbar") }
    }

    /// Real codes in the photos that the ground truth leaves out: zxing-qrcode-2/16 is a "double
    /// QR" demo with a second code inside the first; its text means "[inner QR code]".
    static let unlabeled: Set<String> = ["[内側QRコード]\r\n\r\n*ダブルQR*\r\nhttp://d-qr.net/ex/"]

    static func matches(_ expected: [String], _ read: [String]) -> Int {
        var remaining = read
        var count = 0
        for code in expected {
            if let index = remaining.firstIndex(of: code) {
                remaining.remove(at: index)
                count += 1
            }
        }
        return count
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

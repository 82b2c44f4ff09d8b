import Foundation
import GatehouseImage
import GatehouseTestSupport
import QRReading
import Testing

/// The decoder against real photos (`../shared/corpus/`), each engine and both together, next to
/// bare libzbar and bare zxing-cpp on the same files. Payloads are compared as text made by
/// `PayloadText` from the engines' raw bytes, after trimming trailing CR/LF.
@Suite(.enabled(if: Corpus.isAvailable, "../shared/corpus is not here"), .computeBound)
struct CorpusTests {
    /// Codes read per set by each way of reading; false reads by any of them.
    struct Tally {
        var codes = 0
        var read: [String: Int] = [:]
        var falseReads: [String] = []
    }

    /// The photos, decoded once for every test of the suite.
    static let images: [(image: CorpusImage, grey: GreyImage)] = {
        ((try? Corpus.images()) ?? []).compactMap { image in
            (try? Data(contentsOf: URL(fileURLWithPath: image.path))).flatMap { try? GreyImage(pgm: Array($0)) }.map { (image, $0) }
        }
    }()

    @Test func each_engine_and_both_on_real_photos() throws {
        let readers: [(String, (GreyImage) -> [[UInt8]])] = [
            ("both", { QRScanner(effort: .thorough, engines: .zbarAndZXing).scan($0).payloads }),
            ("zbar", { QRScanner(effort: .thorough, engines: .zbar).scan($0).payloads }),
            ("zxing", { QRScanner(effort: .thorough, engines: .zxing).scan($0).payloads }),
            ("bare-zbar", { ZbarReader().read($0) }),
            ("bare-zxing", { ZXingReader().read($0) }),
        ]
        var tallies: [String: Tally] = [:]
        for (image, grey) in Self.images {
            var tally = tallies[image.set, default: Tally()]
            tally.codes += image.codes.count
            for (name, read) in readers {
                let texts = read(grey).map { Corpus.normalized(PayloadText.text($0)) }
                // A photo may show the same code twice: count codes as a multiset.
                tally.read[name, default: 0] += Self.matches(image.codes, texts)
                // Anything not matched to a code, counted as a multiset, is false: also one code
                // reported twice where the photo shows it once (two engines' bytes for one code).
                tally.falseReads += Self.unmatched(image.codes, texts).filter { !Self.unlabeled.contains($0) }.map {
                    "\(name) \(image.path): \($0.prefix(60))"
                }
            }
            tallies[image.set] = tally
        }
        let columns = readers.map(\.0)
        var report = "set                  codes" + columns.map { pad($0, 11) }.joined() + "   (zxing-cpp \(QRScanner.zxingVersion))\n"
        for (set, tally) in tallies.sorted(by: { $0.key < $1.key }) {
            report += set.padding(toLength: 20, withPad: " ", startingAt: 0) + pad(String(tally.codes), 6)
            report += columns.map { pad(String(tally.read[$0] ?? 0), 11) }.joined() + "\n"
        }
        print(report)
        let falseReads = tallies.values.flatMap(\.falseReads)
        #expect(falseReads.isEmpty, "\(falseReads)")
        for (set, tally) in tallies {
            let both = tally.read["both"] ?? 0
            for other in columns where other != "both" {
                #expect(both >= tally.read[other] ?? 0, "\(set): both engines read fewer than \(other)")
            }
            #expect((tally.read["zbar"] ?? 0) >= (tally.read["bare-zbar"] ?? 0), "\(set): zbar's retries never worse than bare zbar")
            #expect((tally.read["zxing"] ?? 0) >= (tally.read["bare-zxing"] ?? 0), "\(set): zxing's negative never worse than bare")
        }
        let total = { (name: String) in tallies.values.map { $0.read[name] ?? 0 }.reduce(0, +) }
        let codes = tallies.values.map(\.codes).reduce(0, +)
        // Each engine alone is useful, and together they read clearly more than either.
        #expect(Double(total("zbar")) >= 0.8 * Double(codes))
        #expect(Double(total("zxing")) >= 0.75 * Double(codes))
        #expect(total("both") > max(total("zbar"), total("zxing")))
        #expect((tallies["boofcv-monitor"]?.read["both"] ?? 0) >= 8)
    }

    /// A code held in front of the camera: the live decoder sees the same picture frame after
    /// frame. Whatever bare zbar or bare zxing-cpp reads in one go, the live decoder must read
    /// within three frames, wherever in its cycle the code appears; with one engine configured,
    /// what that engine reads bare it reads in the first frame.
    @Test func live_decoder_reads_a_held_code_within_three_frames() throws {
        var late: [String] = []
        var heldCodes = 0
        var framesNeeded: [Int: Int] = [:]
        for (image, grey) in Self.images {
            let bareZbar = Set(ZbarReader().read(grey).map { Corpus.normalized(PayloadText.text($0)) })
            let bareZXing = Set(ZXingReader().read(grey).map { Corpus.normalized(PayloadText.text($0)) })
            for code in Set(image.codes) where bareZbar.contains(code) || bareZXing.contains(code) {
                heldCodes += 1
                for start in 0..<QRScanner.cycleLength {
                    let frames = Self.framesToRead(code, grey, QRScanner(effort: .live, engines: .zbarAndZXing, startingFrame: start), limit: 3)
                    if let frames { framesNeeded[frames, default: 0] += 1 } else { late.append("\(image.path) from frame \(start)") }
                }
                if bareZbar.contains(code), Self.framesToRead(code, grey, QRScanner(effort: .live, engines: .zbar), limit: 1) == nil {
                    late.append("\(image.path) with zbar alone")
                }
                if bareZXing.contains(code), Self.framesToRead(code, grey, QRScanner(effort: .live, engines: .zxing), limit: 1) == nil {
                    late.append("\(image.path) with zxing-cpp alone")
                }
            }
        }
        print("held codes: \(heldCodes); frames to the first read (each start in the cycle): \(framesNeeded.sorted { $0.key < $1.key })")
        #expect(heldCodes >= 200)
        #expect(late.isEmpty, "read late or never: \(late)")
    }

    /// Frames until the live scanner reads `code` from the same picture, or nil after `limit`.
    static func framesToRead(_ code: String, _ grey: GreyImage, _ scanner: QRScanner, limit: Int) -> Int? {
        for frame in 1...limit where scanner.scan(grey).payloads.contains(where: { Corpus.normalized(PayloadText.text($0)) == code }) {
            return frame
        }
        return nil
    }

    /// Real codes in the photos that the ground truth leaves out: zxing-qrcode-2/16 is a "double
    /// QR" demo with a second code inside the first; its text means "[inner QR code]".
    static let unlabeled: Set<String> = ["[内側QRコード]\r\n\r\n*ダブルQR*\r\nhttp://d-qr.net/ex/"]

    /// What was read beyond the expected codes (each expected code cancels one read of it).
    static func unmatched(_ expected: [String], _ read: [String]) -> [String] {
        var remaining = read
        for code in expected { if let index = remaining.firstIndex(of: code) { remaining.remove(at: index) } }
        return remaining
    }

    static func matches(_ expected: [String], _ read: [String]) -> Int {
        read.count - unmatched(expected, read).count
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

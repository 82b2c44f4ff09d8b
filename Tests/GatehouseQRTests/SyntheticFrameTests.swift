import Foundation
import GatehouseCore
import GatehouseImage
import GatehouseTestSupport
import QRReading
import QRRendering
import Testing

/// Ticket codes rendered by libqrencode and placed in camera-sized grey frames, made harder the
/// ways a gate camera sees them: scale, rotation, blur, sensor noise, low contrast, glare, and the
/// moiré of a phone screen. The live decoder (the daemon's) gets a few frames, as a code held up
/// to the camera would.
@Suite(.computeBound) struct SyntheticFrameTests {
    enum Condition: String, CaseIterable, Sendable {
        case plain, small, large, rotated15, rotated45, blurred, noisy, lowContrast, glare, screenMoire, darkMode
    }

    /// A frame of `width`×`height` showing `code` under `condition`.
    static func frame(_ code: String, _ condition: Condition, width: Int, height: Int, seed: UInt64) throws -> GreyImage {
        var noise = FastNoise(state: seed | 1)
        let matrix = try QRMatrix(encoding: code)
        let side = matrix.size + 2 * QRMatrix.quietZone
        var moduleSize = Double(height) / 3.2 / Double(side)  // code about a third of the frame high
        switch condition {
        case .small: moduleSize = max(2.6, moduleSize * 0.55)
        case .large: moduleSize *= 2.2
        default: break
        }
        let angle: Double = condition == .rotated15 ? 15 : condition == .rotated45 ? 45 : 3
        let (dark, light): (Double, Double) = condition == .lowContrast ? (105, 150) : condition == .darkMode ? (235, 25) : (30, 220)
        let background: Double = condition == .darkMode ? 60 : 170
        let cosA = cos(angle * .pi / 180)
        let sinA = sin(angle * .pi / 180)
        let centerX = Double(width) / 2 + Double(Int.random(in: -20...20, using: &noise))
        let centerY = Double(height) / 2 + Double(Int.random(in: -20...20, using: &noise))
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                // Inverse-rotate into code space, sample the module grid (supersampled for smooth edges).
                var sum = 0.0
                for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                    let dx = Double(x) + sx - centerX
                    let dy = Double(y) + sy - centerY
                    let u = (dx * cosA + dy * sinA) / moduleSize + Double(side) / 2
                    let v = (-dx * sinA + dy * cosA) / moduleSize + Double(side) / 2
                    if u >= 0, v >= 0, u < Double(side), v < Double(side) {
                        let mx = Int(u) - QRMatrix.quietZone
                        let my = Int(v) - QRMatrix.quietZone
                        let isDark = mx >= 0 && my >= 0 && mx < matrix.size && my < matrix.size && matrix[mx, my]
                        sum += isDark ? dark : light
                    } else {
                        sum += background + Double((x / 31 + y / 17) % 3) * 10
                    }
                }
                var value = sum / 4
                switch condition {
                case .glare:
                    let gx = Double(x) - centerX + moduleSize * 6
                    let gy = Double(y) - centerY - moduleSize * 4
                    value += 120 * exp(-(gx * gx + gy * gy) / (2 * pow(moduleSize * 7, 2)))
                case .screenMoire:
                    // The pixel grid of a phone screen: dark gaps between sub-pixels, beating against the sensor.
                    let grid = (sin(Double(x) * 2.4) * sin(Double(y) * 2.1) + 1) / 2
                    value = value * (0.55 + 0.45 * grid)
                default: break
                }
                if condition == .noisy { value += Double(Int.random(in: -45...45, using: &noise)) }
                value += Double(Int.random(in: -4...4, using: &noise))
                pixels[y * width + x] = UInt8(max(0, min(255, value)))
            }
        }
        var image = GreyImage(width: width, height: height, pixels: pixels)
        if condition == .blurred {
            for _ in 0..<2 { image = image.pixels.withUnsafeBufferPointer { ImageOps.boxBlur($0.baseAddress!, width: width, height: height) } }
        }
        return image
    }

    /// For each condition, how many frames of the same scene the live decoder needed (nil: none
    /// of six). `makeCode` gives each condition a fresh code.
    static func framesNeeded(width: Int, height: Int, _ makeCode: (Int) -> String) throws -> [Condition: Int?] {
        var needed: [Condition: Int?] = [:]
        for (index, condition) in Condition.allCases.enumerated() {
            let code = makeCode(index)
            let scanner = QRScanner(effort: .live)
            needed[condition] = .some(nil)
            // Six frames of the same scene (0.4 s at 15 fps): the live decoder rotates its five extra
            // attempts, one per frame.
            for attempt in 1...6 {
                let image = try Self.frame(code, condition, width: width, height: height, seed: UInt64(index * 10 + attempt))
                let payloads = scanner.scan(image).payloads
                #expect(payloads.allSatisfy { $0 == Array(code.utf8) }, "no false read under \(condition)")
                if payloads.contains(Array(code.utf8)) {
                    needed[condition] = attempt
                    break
                }
            }
        }
        return needed
    }

    static func report(_ label: String, _ needed: [Condition: Int?]) -> [String] {
        let missed = needed.filter { $0.value == nil }.map(\.key.rawValue).sorted()
        let read = needed.compactMap { key, value in value.map { "\(key.rawValue)=\($0)" } }.sorted()
        print("\(label): frames needed per condition \(read); missed \(missed)")
        return missed
    }

    @Test(arguments: [(640, 480), (1280, 720)])
    func ticket_codes_read_under_camera_conditions(width: Int, height: Int) throws {
        let needed = try Self.framesNeeded(width: width, height: height) { _ in
            TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
        }
        let missed = Self.report("\(width)×\(height) plain codes (25×25)", needed)
        #expect(missed.isEmpty, "\(width)×\(height) missed \(missed)")
    }

    /// Signed codes are bigger (131 characters: 41×41 modules instead of 25×25), so each module is
    /// smaller at the same distance. What the organizer trades, printed: the conditions a signed
    /// code is read under. The ordinary ones and a phone screen must still read; heavy blur and
    /// low contrast on the finer grid may need the holder to step closer or turn up the screen.
    @Test(arguments: [(640, 480), (1280, 720)])
    func signed_codes_read_under_camera_conditions(width: Int, height: Int) throws {
        // The same codes every run (a fixed "signature" per condition), so the figures compare.
        let needed = try Self.framesNeeded(width: width, height: height) { index in
            var noise = FastNoise(state: UInt64(index + 1) * 0x9E37_79B9)
            return SignedTicketCode.make(
                eventID: "EABCDEFG",
                keyID: 1,
                serial: UInt64(index),
                validFromHour: 100,
                validUntilHour: SignedTicketCode.noEnd
            ) { _ in (0..<64).map { _ in UInt8(truncatingIfNeeded: noise.next()) } }.text
        }
        let missed = Self.report("\(width)×\(height) signed codes (41×41)", needed)
        for condition in [Condition.plain, .large, .small, .rotated15, .rotated45, .glare, .screenMoire, .darkMode] {
            #expect(needed[condition] != .some(nil), "a signed code must read when \(condition.rawValue)")
        }
        _ = missed
    }

    @Test func empty_frames_read_nothing() throws {
        let scanner = QRScanner(effort: .live)
        var noise = FastNoise(state: 7)
        for _ in 0..<8 {
            let pixels = (0..<(640 * 480)).map { i in UInt8(clamping: 120 + (i % 640) / 8 + Int.random(in: -30...30, using: &noise)) }
            #expect(scanner.scan(GreyImage(width: 640, height: 480, pixels: pixels)).payloads.isEmpty)
        }
    }

    /// An empty lane: a fixed scene with fresh sensor noise (±6) in every frame.
    static func lane(width: Int, height: Int, noise: inout FastNoise) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height)
        pixels.withUnsafeMutableBufferPointer { pixels in
            for y in 0..<height {
                for x in 0..<width {
                    let scene = 90 + (x * 80) / width + (y * 40) / height + ((x / 37 + y / 23) % 3) * 12
                    pixels[y * width + x] = UInt8(truncatingIfNeeded: scene + Int(noise.next() >> 60) % 13 - 6)
                }
            }
        }
        return pixels
    }

    /// The lane with a code pasted in whose mean brightness is the lane's: a change only its
    /// edges show, the hardest kind for the scene comparison to notice.
    static func laneWithCode(_ code: String, width: Int, height: Int, noise: inout FastNoise) throws -> GreyImage {
        var pixels = lane(width: width, height: height, noise: &noise)
        let qr = try QRMatrix(encoding: code).greyImage(scale: max(3, height / 120))
        let left = (width - qr.width) / 2
        let top = (height - qr.height) / 2
        for y in 0..<qr.height {
            for x in 0..<qr.width {
                let index = (top + y) * width + left + x
                let around = Int(pixels[index])
                pixels[index] = UInt8(clamping: around + (qr.pixels[y * qr.width + x] == 0 ? -80 : 80))
            }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }

    /// The live decoder skips zbar's pass while the lane is as zbar last saw it, and a code held
    /// up is still read within three frames, from every point of the cycle, with zbar's pass run
    /// on the first zbar frame that shows it.
    @Test(arguments: [(640, 480), (1280, 720)])
    func a_static_empty_lane_skips_zbar_and_a_code_still_reads_within_three_frames(width: Int, height: Int) throws {
        for phase in 0..<QRScanner.cycleLength {
            var noise = FastNoise(state: UInt64(phase + 11))
            let scanner = QRScanner(effort: .live)
            let emptyFrames = 12 + phase
            for _ in 0..<emptyFrames {
                #expect(
                    scanner.scan(GreyImage(width: width, height: height, pixels: Self.lane(width: width, height: height, noise: &noise))).payloads
                        .isEmpty
                )
            }
            #expect(scanner.zbarPasses == 1, "one zbar pass for an unchanged lane, not \(scanner.zbarPasses)")
            let code = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
            let passesBefore = scanner.zbarPasses
            var readIn: Int?
            for index in 1...QRScanner.cycleLength {
                let frame = try Self.laneWithCode(code, width: width, height: height, noise: &noise)
                let payloads = scanner.scan(frame).payloads
                if readIn == nil, payloads.contains(Array(code.utf8)) { readIn = index }
            }
            #expect(readIn != nil, "\(width)×\(height), phase \(phase): the held code was not read within 3 frames")
            // One of these three frames was zbar's turn, and it showed a code: the pass ran.
            #expect(scanner.zbarPasses == passesBefore + 1, "\(width)×\(height), phase \(phase): zbar skipped a frame showing a code")
        }
    }
}

import FoundationEssentials

/// An 8-bit grey image, row-major, one byte a pixel: what a V4L2 grey capture gives and what
/// zbar reads (`Y800`).
public struct GreyImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public enum PGMError: Error, CustomStringConvertible {
        case notPGM(String)
        public var description: String {
            switch self {
            case .notPGM(let why): return "not a binary 8-bit PGM (P5) image: \(why)"
            }
        }
    }

    /// Largest image read from a file: four times a 4K camera frame's pixels.
    public static let maximumPixels = 4096 * 4096

    /// Reads a binary PGM (P5) with a maximum value of 255 or less.
    public init(pgm data: [UInt8]) throws {
        var index = 0
        func skipSpaceAndComments() {
            while index < data.count {
                if data[index] == UInt8(ascii: "#") {
                    while index < data.count && data[index] != UInt8(ascii: "\n") { index += 1 }
                } else if data[index] == 0x20 || (0x09...0x0d).contains(data[index]) {
                    index += 1
                } else {
                    return
                }
            }
        }
        func number(_ name: String) throws -> Int {
            skipSpaceAndComments()
            var value = 0
            var digits = 0
            while index < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[index]) {
                value = value * 10 + Int(data[index] - UInt8(ascii: "0"))
                index += 1
                digits += 1
                guard value < 1 << 20 else { throw PGMError.notPGM("\(name) is too large") }
            }
            guard digits > 0 else { throw PGMError.notPGM("\(name) is missing") }
            return value
        }
        guard data.count >= 2, data[0] == UInt8(ascii: "P"), data[1] == UInt8(ascii: "5") else {
            throw PGMError.notPGM("no P5 header")
        }
        index = 2
        let width = try number("width")
        let height = try number("height")
        let maxValue = try number("maximum value")
        guard width > 0, height > 0 else { throw PGMError.notPGM("empty image") }
        // The scanner's working copies cost many times the pixels: an 8000×8000 image took 1.7 GB.
        guard width * height <= Self.maximumPixels else {
            throw PGMError.notPGM(
                "\(width)×\(height) is \(width * height) pixels; at most \(Self.maximumPixels) (4096×4096) are read — scale it down first"
            )
        }
        guard (1...255).contains(maxValue) else { throw PGMError.notPGM("only 8-bit images are read (maximum value \(maxValue))") }
        index += 1  // exactly one white-space byte ends the header
        let count = width * height
        guard data.count - index >= count else { throw PGMError.notPGM("pixel data is cut short") }
        var pixels = Array(data[index..<(index + count)])
        if maxValue != 255 {
            for i in pixels.indices { pixels[i] = UInt8(min(255, Int(pixels[i]) * 255 / maxValue)) }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    public func pgm() -> [UInt8] {
        Array("P5\n\(width) \(height)\n255\n".utf8) + pixels
    }
}

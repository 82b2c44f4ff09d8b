import CQRencode
import FoundationEssentials
import GatehouseImage
import Glibc

/// A QR symbol as a square of dark/light modules, made by libqrencode.
public struct QRMatrix: Sendable, Equatable {
    public enum Error: Swift.Error, CustomStringConvertible {
        case encodingFailed(errno: Int32)
        public var description: String {
            switch self {
            case .encodingFailed(let code): return "libqrencode could not encode the text (errno \(code))"
            }
        }
    }

    /// Modules per side, without the quiet zone.
    public let size: Int
    /// Row-major, true = dark.
    public let modules: [Bool]

    public subscript(x: Int, y: Int) -> Bool { modules[y * size + x] }

    /// Encodes `text` at error-correction level M (15% of the symbol may be damaged), the usual
    /// choice for codes shown on phone screens. libqrencode picks the mode for each run of
    /// characters itself, so our uppercase base32 codes land in alphanumeric mode.
    public init(encoding text: String) throws {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else {
            throw Error.encodingFailed(errno: errno)
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        var modules = [Bool](repeating: false, count: width * width)
        for index in 0..<(width * width) {
            // Bit 0 of each byte is the module's colour; the other bits describe its role.
            modules[index] = code.pointee.data[index] & 1 == 1
        }
        self.size = width
        self.modules = modules
    }

    /// The QR spec asks for four light modules around the symbol.
    public static let quietZone = 4

    /// An SVG drawing: one path of unit squares, scaled by the viewer. Crisp at any size.
    public func svg(moduleSize: Int = 8) -> String { String(decoding: svgBytes(moduleSize: moduleSize), as: UTF8.self) }

    /// The SVG drawing's UTF-8 bytes, written digit by digit: string interpolation made drawing
    /// the path most of the time of issuing tickets with images.
    public func svgBytes(moduleSize: Int = 8) -> [UInt8] {
        let side = size + 2 * Self.quietZone
        let pixels = side * moduleSize
        var out: [UInt8] = []
        out.reserveCapacity(256 + size * size)
        func append(_ text: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)) }
        func append(_ number: Int) {
            if number >= 10 { append(number / 10) }
            out.append(UInt8(ascii: "0") + UInt8(number % 10))
        }
        append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        append(pixels)
        append("\" height=\"")
        append(pixels)
        append("\" viewBox=\"0 0 ")
        append(side)
        append(" ")
        append(side)
        append("\" shape-rendering=\"crispEdges\">\n<rect width=\"")
        append(side)
        append("\" height=\"")
        append(side)
        append("\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"")
        forEachDarkRun { x, y, run in
            append("M")
            append(x + Self.quietZone)
            append(" ")
            append(y + Self.quietZone)
            append("h")
            append(run)
            append("v1h-")
            append(run)
            append("z")
        }
        append("\"/>\n</svg>\n")
        return out
    }

    /// Calls `body` with each horizontal run of dark modules, row by row: drawings make one
    /// rectangle of each run rather than one per module.
    public func forEachDarkRun(_ body: (_ x: Int, _ y: Int, _ length: Int) -> Void) {
        for y in 0..<size {
            var x = 0
            while x < size {
                guard self[x, y] else {
                    x += 1
                    continue
                }
                var run = 1
                while x + run < size && self[x + run, y] { run += 1 }
                body(x, y, run)
                x += run
            }
        }
    }

    /// 8-bit grey pixels (0 = black, 255 = white), `scale` pixels a module, with the quiet zone.
    public func greyImage(scale: Int) -> GreyImage {
        let side = (size + 2 * Self.quietZone) * scale
        var pixels = [UInt8](repeating: 255, count: side * side)
        for y in 0..<size {
            for x in 0..<size where self[x, y] {
                let left = (x + Self.quietZone) * scale
                let top = (y + Self.quietZone) * scale
                for row in top..<(top + scale) {
                    for column in left..<(left + scale) { pixels[row * side + column] = 0 }
                }
            }
        }
        return GreyImage(width: side, height: side, pixels: pixels)
    }
}

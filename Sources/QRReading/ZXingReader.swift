import CZXing
import GatehouseImage

/// Reads QR codes from grey pixels with zxing-cpp (1.4 or 2.x, through the C shim in CZXing),
/// payloads as raw bytes where they are UTF-8 (every ticket code) or binary, else as zxing-cpp's
/// UTF-8 text: the raw bytes of a Kanji or Hanzi segment are in a legacy character set that
/// zxing-cpp knows from the code's segment modes and a reader of the bytes alone cannot.
///
/// The second engine: zxing-cpp locates codes with a local-average binariser and a finder-pattern
/// search that costs a fraction of zbar's full edge scan on an empty frame, and reads many photos
/// zbar misses (close-ups, skew); zbar reads others it misses (glare, some blur). One reader per
/// thread: the shim keeps the last results in the reader.
public final class ZXingReader {
    private let reader: OpaquePointer

    /// Light-on-dark codes: read the negative (`QRScanner` schedules it), not a pass of its own.
    public init() {
        // Out of memory at start-up: nothing sensible to go on with.
        guard let reader = gh_zxing_reader_create() else { fatalError("zxing-cpp: out of memory") }
        self.reader = reader
    }

    deinit { gh_zxing_reader_destroy(reader) }

    /// The zxing-cpp version compiled in, such as "1.4.0".
    public static var version: String {
        let number = Int(gh_zxing_version())
        return "\(number / 10000).\(number / 100 % 100).\(number % 100)"
    }

    public func read(_ image: GreyImage) -> [[UInt8]] {
        image.pixels.withUnsafeBufferPointer { read(pixels: $0.baseAddress!, width: image.width, height: image.height) }
    }

    /// Every QR payload decoded in the grey buffer (which the caller owns; nothing is kept).
    public func read(pixels: UnsafePointer<UInt8>, width: Int, height: Int) -> [[UInt8]] {
        readCodes(pixels: pixels, width: width, height: height).map(\.payload)
    }

    /// Each code's payload and its raw bytes: the same code as zbar reports it (zbar gives raw
    /// bytes too), so a caller running both engines can tell one code from two.
    /// `stride`: bytes from one row to the next (a window of a larger frame); the width by default.
    func readCodes(pixels: UnsafePointer<UInt8>, width: Int, height: Int, stride: Int? = nil) -> [(payload: [UInt8], raw: [UInt8])] {
        let count = gh_zxing_read(reader, pixels, Int32(width), Int32(height), Int32(stride ?? width))
        guard count > 0 else { return [] }
        var codes: [(payload: [UInt8], raw: [UInt8])] = []
        for index in 0..<count {
            var length = 0
            guard let bytes = gh_zxing_result_bytes(reader, index, &length), length > 0 else { continue }
            let raw = Array(UnsafeBufferPointer(start: bytes, count: length))
            var textLength = 0
            if String(validating: raw, as: UTF8.self) == nil, let text = gh_zxing_result_text(reader, index, &textLength), textLength > 0 {
                codes.append((Array(UnsafeRawBufferPointer(start: text, count: textLength)), raw))
            } else {
                codes.append((raw, raw))
            }
        }
        return codes
    }
}

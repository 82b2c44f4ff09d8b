import CZbar
import FoundationEssentials
import GatehouseImage

/// Reads QR codes from grey pixels with libzbar, QR only, payloads as raw bytes.
///
/// QR only: zbar's other decoders have had CVEs and cost CPU on every frame. Binary mode: zbar
/// would otherwise guess a character set and re-encode the bytes, which garbles non-ASCII codes.
/// One reader per thread: a zbar scanner is not thread-safe.
public final class ZbarReader {
    private let scanner: OpaquePointer

    public init() {
        scanner = zbar_image_scanner_create()
        zbar_image_scanner_set_config(scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0)
        zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1)
        zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1)
    }

    deinit { zbar_image_scanner_destroy(scanner) }

    /// Every QR payload zbar finds in the image, in the order zbar reports them.
    public func read(_ image: GreyImage) -> [[UInt8]] {
        image.pixels.withUnsafeBufferPointer { buffer in
            read(pixels: UnsafeRawPointer(buffer.baseAddress!), width: image.width, height: image.height)
        }
    }

    /// Reads straight from a grey buffer the caller owns (a mapped camera buffer): no copy. The
    /// zbar image is destroyed before this returns, so the caller may reuse the buffer then.
    public func read(pixels: UnsafeRawPointer, width: Int, height: Int) -> [[UInt8]] {
        guard let zimage = zbar_image_create() else { return [] }
        defer { zbar_image_destroy(zimage) }
        zbar_image_set_format(zimage, GH_ZBAR_FOURCC_Y800)
        zbar_image_set_size(zimage, UInt32(width), UInt32(height))
        // No cleanup handler: zbar must not free memory it does not own.
        zbar_image_set_data(zimage, pixels, UInt(width * height), nil)
        guard zbar_scan_image(scanner, zimage) > 0 else { return [] }
        var payloads: [[UInt8]] = []
        var symbol = zbar_image_first_symbol(zimage)
        while let current = symbol {
            if zbar_symbol_get_type(current) == ZBAR_QRCODE, let data = zbar_symbol_get_data(current) {
                let length = Int(zbar_symbol_get_data_length(current))
                payloads.append(Array(UnsafeRawBufferPointer(start: data, count: length)))
            }
            symbol = zbar_symbol_next(current)
        }
        return payloads
    }
}

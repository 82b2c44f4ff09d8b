import CZlib
import FoundationEssentials
import GatehouseImage

/// Writes 8-bit greyscale PNG files (with zlib for the compressed data and the CRCs).
public enum PNGWriter {
    public static func png(_ image: GreyImage) -> [UInt8] {
        // Each row starts with filter type 0 (none); QR images compress well without filters.
        var raw = [UInt8]()
        raw.reserveCapacity((image.width + 1) * image.height)
        for row in 0..<image.height {
            raw.append(0)
            raw.append(contentsOf: image.pixels[(row * image.width)..<((row + 1) * image.width)])
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 9)
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")
        compressed.removeSubrange(Int(compressedLength)...)

        var header = [UInt8]()
        header += bigEndian(UInt32(image.width))
        header += bigEndian(UInt32(image.height))
        header += [8, 0, 0, 0, 0]  // 8 bits, greyscale, deflate, no filter set, no interlace

        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += chunk("IHDR", header)
        file += chunk("IDAT", compressed)
        file += chunk("IEND", [])
        return file
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        let body = typeBytes + data
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return bigEndian(UInt32(data.count)) + body + bigEndian(UInt32(crc))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }
}

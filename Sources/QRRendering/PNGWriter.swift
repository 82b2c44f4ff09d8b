import CZlib
import FoundationEssentials
import GatehouseImage

/// Writes greyscale PNG files (with zlib for the compressed data and the CRCs).
public enum PNGWriter {
    /// An 8-bit greyscale PNG of `image`.
    public static func png(_ image: GreyImage) -> [UInt8] {
        // Each row starts with filter type 0 (none).
        var raw = [UInt8]()
        raw.reserveCapacity((image.width + 1) * image.height)
        for row in 0..<image.height {
            raw.append(0)
            raw.append(contentsOf: image.pixels[(row * image.width)..<((row + 1) * image.width)])
        }
        return file(width: image.width, height: image.height, bitDepth: 8, filteredRows: raw, level: 9)
    }

    /// A PNG from rows already in PNG form: each starts with its filter type byte, then the
    /// pixels packed at `bitDepth` bits (greyscale; for depth 1, 0 is black and 1 white).
    static func file(width: Int, height: Int, bitDepth: UInt8, filteredRows raw: [UInt8], level: Int32) -> [UInt8] {
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), level)
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")
        compressed.removeSubrange(Int(compressedLength)...)

        var header = [UInt8]()
        header += bigEndian(UInt32(width))
        header += bigEndian(UInt32(height))
        header += [bitDepth, 0, 0, 0, 0]  // greyscale, deflate, no filter set, no interlace

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

extension QRMatrix {
    /// A black-and-white PNG of the symbol with its quiet zone, `scale` pixels a module: one bit
    /// a pixel, and each row of modules drawn once then repeated with PNG's "Up" filter (a row
    /// equal to the one above is all zeros), so zlib sees a few hundred bytes of news per image.
    /// A twentieth of the work of an 8-bit image at the same size, and the same pixels.
    public func png(scale: Int = 8) -> [UInt8] {
        let side = (size + 2 * Self.quietZone) * scale
        let rowBytes = (side + 7) / 8
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * side)
        raw.withUnsafeMutableBufferPointer { raw in
            // The quiet zone's rows: white, the first one unfiltered, the rest "Up" (all zero).
            // (Bits past the image's width in a row's last byte are ignored by readers.)
            let white = rowBytes + 1
            for index in 1...rowBytes { raw[index] = 0xff }
            for row in 1..<(Self.quietZone * scale) { raw[row * white] = 2 }
            for y in 0..<size {
                let first = (Self.quietZone + y) * scale
                let start = first * white
                raw[start] = 0  // this row stands alone
                for bit in 0..<side {
                    let x = bit / scale - Self.quietZone
                    let dark = x >= 0 && x < size && self[x, y]
                    if !dark { raw[start + 1 + bit / 8] |= 0x80 >> UInt8(bit % 8) }
                }
                for row in (first + 1)..<(first + scale) { raw[row * white] = 2 }
            }
            let bottom = (Self.quietZone + size) * scale
            let bottomStart = bottom * white
            for index in 1...rowBytes { raw[bottomStart + index] = 0xff }
            for row in (bottom + 1)..<side { raw[row * white] = 2 }
        }
        return PNGWriter.file(width: side, height: side, bitDepth: 1, filteredRows: raw, level: 6)
    }
}

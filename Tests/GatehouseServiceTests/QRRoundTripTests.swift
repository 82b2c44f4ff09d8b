import CZlib
import Foundation
import GatehouseCore
import GatehouseImage
import QRReading
import QRRendering
import Testing

@Suite struct QRRoundTripTests {
    /// A ticket's QR, rendered by libqrencode and read back by libzbar, gives its qrData.
    @Test func rendered_codes_read_back_with_zbar() throws {
        let reader = ZbarReader()
        for _ in 0..<20 {
            let qrData = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
            let matrix = try QRMatrix(encoding: qrData)
            // Alphanumeric mode keeps a 38-character code at version 2 (25×25) at level M.
            #expect(matrix.size <= 25)
            for scale in [2, 4, 8] {
                let payloads = reader.read(matrix.greyImage(scale: scale))
                #expect(payloads == [Array(qrData.utf8)], "scale \(scale)")
                #expect(TicketCode.parse(bytes: payloads.first ?? [])?.text == qrData)
            }
        }
    }

    @Test func an_image_without_a_code_reads_nothing() {
        let reader = ZbarReader()
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<(320 * 240)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(reader.read(GreyImage(width: 320, height: 240, pixels: noise)).isEmpty)
        #expect(reader.read(GreyImage(width: 64, height: 64, pixels: [UInt8](repeating: 255, count: 64 * 64))).isEmpty)
    }

    @Test func svg_and_png_are_well_formed() throws {
        let matrix = try QRMatrix(encoding: "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let svg = matrix.svg()
        #expect(svg.hasPrefix("<?xml") && svg.contains("<path"))
        let png = PNGWriter.png(matrix.greyImage(scale: 4))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png.suffix(8)) == [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
        // The pixels themselves: IHDR's size and IDAT inflated back (zlib) to the image drawn.
        let image = matrix.greyImage(scale: 4)
        var chunks: [String: [UInt8]] = [:]
        var offset = 8
        while offset + 12 <= png.count {
            let length = png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: png[offset + 4..<offset + 8], as: UTF8.self)
            chunks[type, default: []] += png[offset + 8..<offset + 8 + length]
            offset += 12 + length
        }
        let header = try #require(chunks["IHDR"])
        #expect(header.prefix(4).reduce(0) { $0 << 8 | Int($1) } == image.width)
        #expect(header.dropFirst(4).prefix(4).reduce(0) { $0 << 8 | Int($1) } == image.height)
        let compressed = try #require(chunks["IDAT"])
        var inflated = [UInt8](repeating: 0, count: (image.width + 1) * image.height)
        var inflatedLength = uLong(inflated.count)
        #expect(uncompress(&inflated, &inflatedLength, compressed, uLong(compressed.count)) == Z_OK)
        #expect(Int(inflatedLength) == inflated.count)
        let rows = stride(from: 0, to: inflated.count, by: image.width + 1).map { inflated[$0 + 1..<$0 + 1 + image.width] }
        #expect(rows.allSatisfy { inflated[$0.startIndex - 1] == 0 }, "filter type 0 on every row")
        let samePixels = Array(rows.joined()) == image.pixels
        #expect(samePixels, "the PNG's pixels are the QR drawing")
    }

    @Test func pgm_round_trips_and_bad_files_are_refused() throws {
        let image = try QRMatrix(encoding: "hello").greyImage(scale: 3)
        #expect(try GreyImage(pgm: image.pgm()) == image)
        #expect(throws: GreyImage.PGMError.self) { try GreyImage(pgm: Array("P6\n1 1\n255\n".utf8) + [0, 0, 0]) }
        #expect(throws: GreyImage.PGMError.self) { try GreyImage(pgm: Array("P5\n100 100\n255\n".utf8) + [1, 2, 3]) }
        #expect(throws: GreyImage.PGMError.self) { try GreyImage(pgm: Array("P5\n99999999 1\n255\n".utf8)) }
        #expect(throws: GreyImage.PGMError.self) { try GreyImage(pgm: []) }
    }
}

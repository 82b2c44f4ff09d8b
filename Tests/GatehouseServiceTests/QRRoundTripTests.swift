import Foundation
import GatehouseCore
import GatehouseQR
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

import ArgumentParser
import FoundationEssentials
import GatehouseImage
import KioskCore
import KioskHardware
import QRReading

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the QR payloads in grey PGM images, one per line (like zbarimg --raw).",
        discussion: "Exit status: 0 when every file held a code, 1 when one held none, 2 when one could not be read."
    )

    @Argument(help: "PGM (P5) image files.")
    var files: [String]

    @Flag(help: "Say on stderr which attempt read each code.")
    var verbose = false

    @Option(help: "QR engines: zbar+zxing (the default), zbar or zxing (the configuration's `decoder` values).")
    var decoder: DecoderChoice = .zbarAndZXing

    func run() throws {
        let scanner = QRScanner(effort: .thorough, engines: QRScanner.Engines(decoder))
        var status: Int32 = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                POSIXOutput.write("gate-kiosk decode: cannot read \(file)\n", to: POSIXOutput.standardError)
                status = 2
                continue
            }
            let image: GreyImage
            do {
                image = try GreyImage(pgm: Array(data))
            } catch {
                POSIXOutput.write("gate-kiosk decode: \(file): \(error)\n", to: POSIXOutput.standardError)
                status = 2
                continue
            }
            let result = scanner.scan(image)
            if result.payloads.isEmpty {
                POSIXOutput.write("gate-kiosk decode: \(file): no QR code found\n", to: POSIXOutput.standardError)
                status = max(status, 1)
            }
            for payload in result.payloads { POSIXOutput.write(payload + [UInt8(ascii: "\n")], to: POSIXOutput.standardOutput) }
            if verbose {
                POSIXOutput.write(
                    "\(file): \(result.payloads.count) code(s) by \(result.attempts.map(\.rawValue).joined(separator: ", "))\n",
                    to: POSIXOutput.standardError
                )
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

extension DecoderChoice: ExpressibleByArgument {}

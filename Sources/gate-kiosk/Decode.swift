import ArgumentParser
import Foundation
import GatehouseQR

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the QR payloads in grey PGM images, one per line (like zbarimg --raw).",
        discussion: "Exit status: 0 when every file held a code, 1 when one held none, 2 when one could not be read.")

    @Argument(help: "PGM (P5) image files.")
    var files: [String]

    @Flag(help: "Say on stderr which attempt read each code.")
    var verbose = false

    func run() throws {
        let scanner = QRScanner(effort: .thorough)
        var status: Int32 = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("gate-kiosk decode: cannot read \(file)\n".utf8))
                status = 2
                continue
            }
            let image: GreyImage
            do {
                image = try GreyImage(pgm: Array(data))
            } catch {
                FileHandle.standardError.write(Data("gate-kiosk decode: \(file): \(error)\n".utf8))
                status = 2
                continue
            }
            let result = scanner.scan(image)
            if result.payloads.isEmpty {
                FileHandle.standardError.write(Data("gate-kiosk decode: \(file): no QR code found\n".utf8))
                status = max(status, 1)
            }
            for payload in result.payloads { FileHandle.standardOutput.write(Data(payload + [UInt8(ascii: "\n")])) }
            if verbose {
                FileHandle.standardError.write(Data("\(file): \(result.payloads.count) code(s) by \(result.attempts.map(\.rawValue).joined(separator: ", "))\n".utf8))
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

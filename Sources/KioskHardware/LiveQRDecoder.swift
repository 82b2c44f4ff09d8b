import KioskCore
import QRReading

/// The kiosk's decoder: `QRScanner` in its live, budgeted mode, with the engines configured.
public final class LiveQRDecoder: QRDecoder {
    private let scanner: QRScanner

    public init(engines: DecoderChoice = .zbarAndZXing, effort: QRScanner.Effort = .live) {
        scanner = QRScanner(effort: effort, engines: QRScanner.Engines(engines))
    }

    public func decode(pixels: UnsafePointer<UInt8>, width: Int, height: Int) -> [[UInt8]] {
        scanner.scan(pixels: pixels, width: width, height: height).payloads
    }
}

extension QRScanner.Engines {
    /// The scanner's engines for the configuration's `decoder` value (the same names).
    public init(_ choice: DecoderChoice) {
        switch choice {
        case .zbarAndZXing: self = .zbarAndZXing
        case .zbar: self = .zbar
        case .zxing: self = .zxing
        }
    }
}

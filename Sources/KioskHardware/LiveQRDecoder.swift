import KioskCore
import QRReading

/// The kiosk's decoder: `QRScanner` in its live, budgeted mode.
public final class LiveQRDecoder: QRDecoder {
    private let scanner: QRScanner

    public init(effort: QRScanner.Effort = .live) {
        scanner = QRScanner(effort: effort)
    }

    public func decode(pixels: UnsafePointer<UInt8>, width: Int, height: Int) -> [[UInt8]] {
        scanner.scan(pixels: pixels, width: width, height: height).payloads
    }
}

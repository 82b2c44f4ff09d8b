import FoundationEssentials
import GatehouseImage

/// Turns raw QR payload bytes into text for people (the `decode` command, logs of foreign codes).
///
/// zbar runs in binary mode so bytes arrive untouched; here we decide how to show them: UTF-8
/// when they are valid UTF-8 (what ISO 18004 readers assume today), else Shift_JIS (the other
/// encoding common in QR codes), else ISO 8859-1, QR's original default, which accepts any byte.
public enum PayloadText {
    public static func text(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        if let text = String(data: Data(bytes), encoding: .shiftJIS) { return text }
        return String(decoding: bytes.map { Unicode.Scalar($0) }.map(Character.init).map { String($0) }.joined().utf8, as: UTF8.self)
    }
}

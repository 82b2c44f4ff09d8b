/// RFC 4648 base32 alphabet, uppercase, no padding.
///
/// Chosen because every character (A–Z, 2–7) is in QR's alphanumeric mode, which packs 5.5 bits a
/// character instead of 8: a token in this alphabet makes a smaller QR code than hex or base64.
public enum Base32 {
    public static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// `count` characters, each carrying 5 bits from the system's CSPRNG
    /// (`SystemRandomNumberGenerator` reads getrandom(2) on Linux).
    public static func randomString(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        for _ in 0..<count {
            bytes.append(alphabet[Int(generator.next(upperBound: UInt8(32)))])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when every byte of `text` is in the alphabet.
    public static func isBase32<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "2") && byte <= UInt8(ascii: "7"))
        }
    }

    /// The bytes as base32, without padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` encodes; nil unless `text` is exactly what `encode` makes of them (one
    /// spelling per value: a code cannot be varied into a second, equally valid one).
    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = character - UInt8(ascii: "2") + 26
            default: return nil
            }
            buffer = (buffer << 5 | UInt32(value)) & 0xFFFF
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        // Leftover bits must be zero and fewer than a character: the canonical spelling.
        guard bits < 5, buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return bytes
    }
}

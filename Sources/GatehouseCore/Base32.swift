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
}

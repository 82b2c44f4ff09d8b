/// Small text helpers, so the kiosk needs only FoundationEssentials: full Foundation (with ICU)
/// added about 7 MB of resident code pages to the static daemon, the largest share of its memory.
extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line breaks.
    /// (Bytes, not Characters: "\r\n" is one Character and would not count as blank.)
    public var trimmedOfBlanks: String {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

extension Double {
    /// `value` with a fixed number of decimals: the value scaled by 10^decimals, then rounded half
    /// away from zero. For figures shown to a technician; unlike `%.1f` it rounds the scaled
    /// Double, so 14.95 (stored as 14.9499…) shows as 15.0 where printf shows 14.9.
    public func fixed(_ decimals: Int) -> String {
        guard isFinite else { return "\(self)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(self) * scale).rounded()
        let whole = Int64(scaled / scale)
        var text = (self < 0 && scaled != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            var fraction = String(Int64(scaled) - whole * Int64(scale))
            while fraction.count < decimals { fraction = "0" + fraction }
            text += "." + fraction
        }
        return text
    }
}

/// The folder part of a path (`/a/b/c` → `/a/b`, `c` → `.`).
public func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

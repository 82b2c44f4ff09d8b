import FoundationEssentials

/// The check-in answer written as JSON by hand: it is the service's hottest response, and
/// Foundation's JSONEncoder (with its date formatter) cost about a tenth of the service's time
/// per check-in. The output is the same document the API's JSONEncoder writes — keys sorted,
/// times as ISO 8601 UTC with milliseconds, absent values left out — which a test checks.
extension CheckinAnswer {
    public var jsonBytes: [UInt8] {
        var out = JSONOutput()
        out.bytes.reserveCapacity(192)
        out.raw("{")
        if let attention {
            out.key("attention", first: true)
            out.raw(attention ? "true" : "false")
        }
        if let firstUsedAt {
            out.key("firstUsedAt", first: attention == nil)
            out.string(firstUsedAt.iso8601Millis)
        }
        if let firstUsedGate {
            out.key("firstUsedGate", first: attention == nil && firstUsedAt == nil)
            out.string(firstUsedGate)
        }
        out.key("message", first: attention == nil && firstUsedAt == nil && firstUsedGate == nil)
        out.string(message)
        out.key("ok", first: false)
        out.raw(ok ? "true" : "false")
        out.key("result", first: false)
        out.string(result.rawValue)
        if let ticket {
            out.key("ticket", first: false)
            out.raw("{")
            if let holderName = ticket.holderName {
                out.key("holderName", first: true)
                out.string(holderName)
            }
            out.key("id", first: ticket.holderName == nil)
            out.string(ticket.id)
            out.key("number", first: false)
            out.raw(String(ticket.number))
            if let ticketType = ticket.ticketType {
                out.key("ticketType", first: false)
                out.string(ticketType)
            }
            out.raw("}")
        }
        out.raw("}")
        return out.bytes
    }
}

extension Date {
    /// `2026-11-26T07:53:49.123Z`, the API's form of a time: UTC, to the nearest millisecond —
    /// the unit every store keeps. (Foundation's ISO 8601 format style truncates the binary
    /// fraction, so a time stored as .123 could come out as .122.)
    public var iso8601Millis: String {
        var out = JSONOutput()
        out.timestamp(millisecondsSince1970: Int64((timeIntervalSince1970 * 1000).rounded()))
        return String(decoding: out.bytes, as: UTF8.self)
    }
}

/// Appends JSON tokens to a byte array.
package struct JSONOutput {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// A member name: our own constants, which need no escaping.
    package mutating func key(_ name: StaticString, first: Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8
    /// (slashes unescaped, like the API's encoder).
    package mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `2026-11-26T07:53:49.123Z` (proleptic Gregorian, UTC).
    mutating func timestamp(millisecondsSince1970 millis: Int64) {
        let (seconds, milli) = Self.floorDivision(millis, 1000)
        let (days, secondOfDay) = Self.floorDivision(seconds, 86_400)
        let (year, month, day) = Self.civilDate(daysSince1970: days)
        digits(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        digits(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        digits(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, width: 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, width: 2)
        bytes.append(UInt8(ascii: "."))
        digits(milli, width: 3)
        bytes.append(UInt8(ascii: "Z"))
    }

    private mutating func digits(_ value: Int64, width: Int) {
        var text = Array(String(value).utf8)
        while text.count < width { text.insert(UInt8(ascii: "0"), at: 0) }
        bytes.append(contentsOf: text)
    }

    /// Quotient rounded down and a remainder that is never negative (times before 1970).
    static func floorDivision(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    static func civilDate(daysSince1970: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSince1970 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

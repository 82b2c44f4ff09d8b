import FoundationEssentials

/// Strict ISO 8601 times as the API and CLI take them: `2026-12-31T20:00:00Z`, with optional
/// fraction and a `Z` or `±HH:MM` (`±HHMM`, `±HH`) offset, years 0001–9999, on the proleptic Gregorian calendar
/// (the one `iso8601Millis` writes, so every accepted time comes back as it went in).
///
/// Why not Foundation's parser: it rolled impossible dates over (`2026-02-30` became March 2,
/// `25:00` the next day, year 100000 was taken) and shifted dates before 1582 by the Julian
/// calendar, so `0001-01-01` came back as `0000-12-30`.
public enum ISO8601Time {
    public static func parse(_ text: String) -> Date? {
        var reader = Reader(bytes: Array(text.utf8))
        guard let year = reader.number(digits: 4), reader.take("-"),
            let month = reader.number(digits: 2), reader.take("-"),
            let day = reader.number(digits: 2), reader.take("T") || reader.take("t"),
            let hour = reader.number(digits: 2), reader.take(":"),
            let minute = reader.number(digits: 2)
        else { return nil }
        var second: Int64 = 0
        var millis: Int64 = 0
        if reader.take(":") {
            guard let value = reader.number(digits: 2) else { return nil }
            second = value
            if reader.take(".") || reader.take(",") {
                var digits = 0
                while let digit = reader.digit() {
                    digits += 1
                    if digits <= 3 { millis = millis * 10 + digit }
                }
                guard (1...9).contains(digits) else { return nil }
                if digits < 3 { for _ in digits..<3 { millis *= 10 } }
            }
        }
        var offsetMinutes: Int64 = 0
        if reader.take("Z") || reader.take("z") {
        } else if let sign: Int64 = reader.take("+") ? 1 : reader.take("-") ? -1 : nil {
            // +01:00, +0100 or +01
            guard let hours = reader.number(digits: 2), hours <= 23 else { return nil }
            var minutes: Int64 = 0
            if reader.take(":") {
                guard let value = reader.number(digits: 2) else { return nil }
                minutes = value
            } else if !reader.atEnd {
                guard let value = reader.number(digits: 2) else { return nil }
                minutes = value
            }
            guard minutes <= 59 else { return nil }
            offsetMinutes = sign * (hours * 60 + minutes)
        } else {
            return nil
        }
        guard reader.atEnd, (1...9999).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let days = daysSince1970(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return Date(millis: seconds * 1000 + millis)
    }

    static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(character.value) else { return false }
            index += 1
            return true
        }

        mutating func digit() -> Int64? {
            guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { return nil }
            defer { index += 1 }
            return Int64(bytes[index] - UInt8(ascii: "0"))
        }

        mutating func number(digits: Int) -> Int64? {
            var value: Int64 = 0
            for _ in 0..<digits {
                guard let digit = digit() else { return nil }
                value = value * 10 + digit
            }
            return value
        }
    }
}

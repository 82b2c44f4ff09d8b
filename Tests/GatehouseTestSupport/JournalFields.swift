/// Parses one datagram of the systemd journal's native protocol back into its fields:
/// `KEY=value\n`, or `KEY\n` + 64-bit little-endian length + bytes + `\n` for values with newlines.
public func journalFields(_ bytes: [UInt8]) -> [String: String] {
    var fields: [String: String] = [:]
    var index = 0
    while index < bytes.count {
        guard let lineEnd = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else { break }
        let line = bytes[index..<lineEnd]
        if let equals = line.firstIndex(of: UInt8(ascii: "=")) {
            fields[String(decoding: line[..<equals], as: UTF8.self)] = String(decoding: line[(equals + 1)...], as: UTF8.self)
            index = lineEnd + 1
        } else {
            var length: UInt64 = 0
            withUnsafeMutableBytes(of: &length) { $0.copyBytes(from: bytes[(lineEnd + 1)..<(lineEnd + 9)]) }
            let start = lineEnd + 9
            let count = Int(UInt64(littleEndian: length))
            fields[String(decoding: line, as: UTF8.self)] = String(decoding: bytes[start..<(start + count)], as: UTF8.self)
            index = start + count + 1
        }
    }
    return fields
}

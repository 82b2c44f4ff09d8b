/// The check-in request read by hand when it has the shape scanners send: one JSON object of the
/// request's own keys, each once, with plain string values. It is the service's hottest request,
/// and Foundation's JSONDecoder cost about a thirtieth of the service's CPU per check-in. Anything
/// else — escapes, `null`, numbers, unknown or repeated keys, a value no field takes, malformed
/// JSON — is left to JSONDecoder, which reads the rest of the language and names what is wrong;
/// a test holds the two to the same answer on every body this reader takes.
extension CheckinRequest {
    /// Nil when `body` is not of the plain shape (not when it is invalid: that is JSONDecoder's
    /// to say).
    public init?(plainJSON body: [UInt8]) {
        var reader = PlainJSONReader(body)
        var values = [String?](repeating: nil, count: PlainKey.allCases.count)
        guard reader.take(UInt8(ascii: "{")) else { return nil }
        repeat {
            guard let key = reader.plainString(), reader.take(UInt8(ascii: ":")), let value = reader.plainString(),
                let slot = PlainKey.names.firstIndex(where: { $0.elementsEqual(key.utf8) }), values[slot] == nil
            else { return nil }
            values[slot] = value
        } while reader.take(UInt8(ascii: ","))
        func value(_ key: PlainKey) -> String? { values[key.rawValue] }
        guard reader.take(UInt8(ascii: "}")), reader.atEnd, let qrData = value(.qrData), let deviceId = value(.deviceId), let gateId = value(.gateId)
        else { return nil }
        var mode: CheckinMode?
        if let text = value(.mode) {
            guard let value = CheckinMode(rawValue: text) else { return nil }
            mode = value
        }
        var direction: ScanDirection?
        if let text = value(.direction) {
            guard let value = ScanDirection(rawValue: text) else { return nil }
            direction = value
        }
        self.init(qrData: qrData, deviceId: deviceId, gateId: gateId, scanId: value(.scanId), mode: mode, direction: direction)
    }

    /// The request's keys; a body's values are kept at their key's position.
    private enum PlainKey: Int, CaseIterable {
        case qrData, deviceId, gateId, scanId, mode, direction

        /// Each key as it is written in the body: the case's name.
        static let names: [[UInt8]] = allCases.map { Array("\($0)".utf8) }
    }
}

/// Reads JSON's plainest tokens from bytes, skipping the whitespace JSON allows around them.
private struct PlainJSONReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool {
        mutating get {
            skipSpace()
            return index == bytes.count
        }
    }

    /// Takes `byte` if it comes next.
    mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string that comes next, when it has no escape or control character and is valid UTF-8.
    mutating func plainString() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(validating: bytes[start..<index - 1], as: UTF8.self)
            }
            guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
            index += 1
        }
        return nil
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}

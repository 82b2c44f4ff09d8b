import FoundationEssentials
import Logging
import SystemdNotify

#if canImport(Glibc)
import Glibc
#endif

/// swift-log handler that writes structured entries to the systemd journal with its native
/// protocol: one datagram per entry to `/run/systemd/journal/socket`, fields `KEY=value`, plus
/// our metadata as fields (`gate.id` → `GATE_ID`), so `journalctl -u gate-kiosk GATE_ID=north-1`
/// finds a gate's entries.
public struct JournalLogHandler: LogHandler {
    public static let defaultSocket = "/run/systemd/journal/socket"

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let identifier: String
    private let sender: UnixDatagramSender

    init(identifier: String, sender: UnixDatagramSender) {
        self.identifier = identifier
        self.sender = sender
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        // swift-log's levels stop at critical; an entry may ask for syslog's alert (1) or
        // emergency (0) by `syslog.priority`, never for less than its level.
        let asked = all.removeValue(forKey: "syslog.priority").flatMap { Int($0.description) }
        let priority = min(Self.priority(event.level), asked.map { max(0, $0) } ?? 7)
        var fields: [(String, String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", String(priority)),
            ("SYSLOG_IDENTIFIER", identifier),
        ]
        for (key, value) in all {
            if let name = Self.fieldName(key) { fields.append((name, value.description)) }
        }
        let datagram = Self.encode(fields)
        if sender.send(datagram) != 0 {
            // The journal is away or the entry is too large: keep the line on stderr.
            let line = Array("<\(Self.priority(event.level))>\(event.message)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
    }

    /// syslog priorities, as journald expects them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Journal field names: 1–64 of A–Z, 0–9 and _, not starting with a digit or _.
    static func fieldName(_ key: String) -> String? {
        var name = String(key.uppercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
        while let first = name.first, first == "_" || first.isNumber { name.removeFirst() }
        guard !name.isEmpty else { return nil }
        return String(name.prefix(64))
    }

    /// Native protocol: `KEY=value\n`, or for a value with a newline `KEY\n`, its length as a
    /// little-endian 64-bit number, the bytes, `\n`.
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (key, value) in fields {
            let valueBytes = Array(value.utf8)
            if valueBytes.contains(UInt8(ascii: "\n")) {
                bytes += Array(key.utf8) + [UInt8(ascii: "\n")]
                withUnsafeBytes(of: UInt64(valueBytes.count).littleEndian) { bytes += $0 }
                bytes += valueBytes + [UInt8(ascii: "\n")]
            } else {
                bytes += Array(key.utf8) + [UInt8(ascii: "=")] + valueBytes + [UInt8(ascii: "\n")]
            }
        }
        return bytes
    }
}

/// Picks where the kiosk's logs go: the journal when systemd runs us (`$JOURNAL_STREAM` set, or
/// `$GATE_KIOSK_JOURNAL_SOCKET` naming a socket, as tests do), else plain lines on stderr.
public enum KioskLogging {
    public static func makeHandlerFactory(
        environment: [String: String],
        identifier: String = "gate-kiosk",
        level: Logger.Level
    ) -> @Sendable (String) -> any LogHandler {
        let socket =
            environment["GATE_KIOSK_JOURNAL_SOCKET"]
            ?? (environment["JOURNAL_STREAM"] != nil && FileManager.default.fileExists(atPath: JournalLogHandler.defaultSocket)
                ? JournalLogHandler.defaultSocket : nil)
        if let socket, let sender = UnixDatagramSender(path: socket) {
            return { _ in
                var handler = JournalLogHandler(identifier: identifier, sender: sender)
                handler.logLevel = level
                return handler
            }
        }
        return { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

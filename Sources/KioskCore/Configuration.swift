import FoundationEssentials
import GatehouseCore

/// Where a GPIO output is wired: the chip, the line offset, and whether it is active-low.
public struct LineWiring: Sendable, Equatable {
    public var chip: String
    public var offset: Int
    public var activeLow: Bool

    public init(chip: String, offset: Int, activeLow: Bool) {
        self.chip = chip
        self.offset = offset
        self.activeLow = activeLow
    }
}

/// One position of a lane's key switch: the mode it sets, and the input closed in it.
public struct KeySwitchPosition: Sendable, Equatable {
    public var mode: LaneMode
    public var wiring: LineWiring

    public init(mode: LaneMode, wiring: LineWiring) {
        self.mode = mode
        self.wiring = wiring
    }
}

/// Everything the kiosk daemon is told, validated. Read from `/etc/gate-kiosk/gate-kiosk.conf`,
/// then `GATE_KIOSK_<KEY>` environment variables, then `--set key=value` flags (later wins).
public struct KioskConfiguration: Sendable, Equatable {
    public var serverURL: String
    public var deviceID: String
    public var gateID: String
    /// File holding the device token. Default: `$CREDENTIALS_DIRECTORY/device-token` (systemd's
    /// LoadCredential=, which reads `defaultTokenPath`), else `defaultTokenPath` itself: one file,
    /// where `gate-kiosk enroll` writes it, whether the daemon runs under systemd or by hand.
    public var tokenFile: String?
    public var connectTimeout: Duration
    public var requestDeadline: Duration

    public var cameraDevice: String
    public var frameWidth: Int
    public var frameHeight: Int
    public var frameRate: Int
    /// Which QR engines read the frames.
    public var decoder: DecoderChoice

    public var green: LineWiring
    public var red: LineWiring
    public var relay: LineWiring

    public var relayPulse: Duration
    public var greenTime: Duration
    public var redTime: Duration
    public var cooldown: Duration

    /// What the gate does when the service does not answer.
    public var offlineMode: OfflineMode
    /// A snapshot not synced for longer than this is not trusted: the gate shuts.
    public var offlineMaxAge: Duration
    /// Which way this lane's scans go: an exit lane lets everyone out and counts them out.
    public var direction: ScanDirection = .entry
    /// A bidirectional lane: an input says each scan's way (asserted: leaving).
    public var directionInput = false
    public var directionLine = LineWiring(chip: "gpiochip0", offset: 25, activeLow: false)
    /// A bidirectional lane's relay for people leaving; nil: the one relay opens both ways.
    public var exitRelay: LineWiring?

    /// The fire panel's contact, if one is wired: while it signals (or its line cannot be read),
    /// the lane is held open and scanning stops.
    public var alarm: AlarmWiring = .none
    public var alarmLine = LineWiring(chip: "gpiochip0", offset: 23, activeLow: false)
    /// The alarm ends after its input has read clear this long without a break.
    public var alarmClear: Duration = .seconds(5)
    /// A level must hold this long to count (contact bounce).
    public var inputDebounce: Duration = .milliseconds(20)

    /// With a passage sensor, an admission stands only once the turnstile reports a passage.
    public var passage: PassageMode = .none
    public var passageLine = LineWiring(chip: "gpiochip0", offset: 24, activeLow: false)
    public var passageTimeout: Duration = .seconds(5)
    public var relayMode: RelayMode = .pulse

    /// The staff button that lets a ticket of an attention type through.
    public var attentionButton = false
    public var attentionButtonLine = LineWiring(chip: "gpiochip0", offset: 16, activeLow: false)
    /// How long a ticket that needs a look waits for the button before it is taken back.
    public var attentionTimeout: Duration = .seconds(30)

    /// node_exporter's textfile collector file the kiosk rewrites every 10 s; nil: none.
    public var metricsTextfile: String?
    /// Where the box serves its own `/metrics`; nil: nowhere.
    public var metricsListen: ListenAddress?

    /// A key switch at the lane, one input per position (free, locked, out of order).
    public var modeInput = false
    public var modeLines: [KeySwitchPosition] = []

    /// The gates of the same event this one exchanges used records with (IPv4); empty: none,
    /// and no socket is opened for them unless `peerDiscovery` is on.
    public var peers: [ListenAddress] = []
    /// Where this gate listens for its peers.
    public var peerListen = ListenAddress("0.0.0.0:7447")!
    /// Also find the event's gates by multicast on the LAN.
    public var peerDiscovery = false
    /// Whether this gate talks to peer gates at all.
    public var usesPeers: Bool { !peers.isEmpty || peerDiscovery }

    /// Every key the file may hold, with its default (nil: required) and what it allows.
    public static let keys: [(key: String, defaultValue: String?, help: String)] = [
        ("server_url", nil, "check-in service base URL, http:// or https://"),
        ("device_id", nil, "this kiosk's device id (from `gatehouse device add`)"),
        ("gate_id", nil, "the gate this kiosk stands at, as registered"),
        ("token_file", "", "file with the device token (default: systemd credential device-token, else /etc/gate-kiosk/device-token)"),
        ("connect_timeout_ms", "500", "TCP/TLS connect timeout, 50–10000"),
        ("request_deadline_ms", "1500", "total time for one check-in answer, 100–30000"),
        ("camera_device", "/dev/gate-camera", "V4L2 device path (a stable name, not /dev/videoN)"),
        ("frame_width", "640", "capture width in pixels, 160–4096"),
        ("frame_height", "480", "capture height in pixels, 120–4096"),
        ("frame_rate", "15", "frames per second asked of the camera, 1–120"),
        ("decoder", "zbar+zxing", "QR engines: zbar+zxing (both, the default), zbar or zxing"),
        ("green_chip", "gpiochip0", "GPIO chip of the green LED"),
        ("green_line", "17", "line offset of the green LED, 0–1023"),
        ("green_active_low", "false", "true when the green LED lights on a low level"),
        ("red_chip", "gpiochip0", "GPIO chip of the red LED"),
        ("red_line", "27", "line offset of the red LED, 0–1023"),
        ("red_active_low", "false", "true when the red LED lights on a low level"),
        ("relay_chip", "gpiochip0", "GPIO chip of the turnstile relay"),
        ("relay_line", "22", "line offset of the turnstile relay, 0–1023"),
        ("relay_active_low", "false", "true for relay boards that switch on a low level (most opto-isolated boards)"),
        ("relay_pulse_ms", "300", "how long the relay closes for a valid ticket, 20–10000"),
        ("green_ms", "2000", "how long green shows, 200–30000"),
        ("red_ms", "2500", "how long a refusal shows, 200–30000"),
        ("cooldown_ms", "8000", "a code decided is not sent again within this time, 0–600000"),
        ("direction", "entry", "which way this lane's scans go: entry, or exit (lets everyone out and counts them out)"),
        ("direction_input", "off", "on: a bidirectional lane; an input (two-way button or side detector) says each scan's way, closed = exit"),
        ("direction_chip", "gpiochip0", "GPIO chip of the direction input"),
        ("direction_line", "25", "line offset of the direction input, 0–1023"),
        ("direction_active_low", "false", "true when the direction contact reads low when closed (a contact to ground with a pull-up)"),
        ("exit_relay_chip", "gpiochip0", "GPIO chip of the exit relay"),
        ("exit_relay_line", "none", "line offset of a bidirectional lane's exit relay, 0–1023, or none (exits open the relay)"),
        ("exit_relay_active_low", "false", "true for an exit relay board that switches on a low level"),
        ("offline_mode", "snapshot", "when the service does not answer: snapshot (decide from the synced tickets) or deny (shut)"),
        ("offline_max_age", "12h", "a snapshot not synced for longer is not trusted, 1m–7d (units s, m, h, d)"),
        ("alarm", "none", "fire panel contact: none, nc (normally closed: a cut wire is an alarm) or no (normally open)"),
        ("alarm_chip", "gpiochip0", "GPIO chip of the fire alarm input"),
        ("alarm_line", "23", "line offset of the fire alarm input, 0–1023"),
        ("alarm_active_low", "false", "true when a closed contact reads low (a contact to ground with a pull-up)"),
        ("alarm_clear_ms", "5000", "the lane stays open until the alarm input has read clear this long, 0–600000"),
        ("input_debounce_ms", "20", "an input level must hold this long to count, 0–1000"),
        ("passage", "none", "none, or sensor: an admission stands only once the turnstile's passage sensor reports a passage"),
        ("passage_chip", "gpiochip0", "GPIO chip of the passage sensor input"),
        ("passage_line", "24", "line offset of the passage sensor input, 0–1023"),
        ("passage_active_low", "false", "true when the sensor's contact reads low when closed (a contact to ground with a pull-up)"),
        ("passage_timeout_ms", "5000", "with passage = sensor: no passage this long after opening takes the admission back, 500–60000"),
        ("relay_mode", "pulse", "pulse (relay_pulse_ms) or hold (energised until the passage or the timeout; with passage = sensor)"),
        ("attention_button", "off", "on: a staff button lets a ticket of the list's attention types through (without one they are taken back)"),
        ("attention_button_chip", "gpiochip0", "GPIO chip of the staff button"),
        ("attention_button_line", "16", "line offset of the staff button, 0–1023"),
        ("attention_button_active_low", "false", "true when the pressed button reads low (a button to ground with a pull-up)"),
        ("attention_timeout_ms", "30000", "how long a ticket that needs a look waits for the staff button, 1000–600000"),
        (
            "metrics_textfile", "",
            "a .prom file for node_exporter's textfile collector, rewritten every 10 s (e.g. /var/lib/node_exporter/textfile_collector/gate_kiosk.prom); empty: none"
        ),
        (
            "metrics_listen", "",
            "an address and port where the box serves its figures at /metrics for a Prometheus server (e.g. 127.0.0.1:9101, or the box's LAN address); empty: none"
        ),
        ("mode_input", "off", "on: a key switch sets the lane mode, one input per position (it outranks the box and the organizer)"),
        ("mode_chip", "gpiochip0", "GPIO chip of the key switch's inputs"),
        ("mode_free_line", "5", "line offset of the key switch's free-passage position, 0–1023"),
        ("mode_locked_line", "6", "line offset of the key switch's locked position, 0–1023"),
        ("mode_out_of_order_line", "13", "line offset of the key switch's out-of-order position, 0–1023"),
        ("mode_active_low", "false", "true when a closed position reads low (contacts to ground with pull-ups)"),
        (
            "peers", "",
            "the event's other gates on the LAN, IPv4 address:port, comma-separated (e.g. 10.1.0.12:7447, 10.1.0.13:7447): they tell each other of offline admissions; empty: no peer traffic"
        ),
        ("peer_listen", "0.0.0.0:7447", "where this gate listens for its peers (UDP; with peers or peer_discovery only)"),
        ("peer_discovery", "off", "on: also find the event's gates by UDP multicast on the LAN (group 239.255.74.47, the peer_listen port)"),
    ]

    public static let defaultPath = "/etc/gate-kiosk/gate-kiosk.conf"
    public static let environmentPrefix = "GATE_KIOSK_"
}

/// Which QR engines read the camera's frames (QRReading's `QRScanner.Engines`, named here so the
/// configuration needs no decoder library).
public enum DecoderChoice: String, Sendable, CaseIterable {
    /// zbar and zxing-cpp in turn: reads what either reads, and an empty frame costs less than zbar.
    case zbarAndZXing = "zbar+zxing"
    /// zbar and its retries on transformed frames only.
    case zbar
    /// zxing-cpp only: the cheapest per frame.
    case zxing
}

/// Whether the lane waits for the turnstile to report a passage.
public enum PassageMode: String, Sendable, CaseIterable {
    /// An admission stands when the relay opens (no sensor).
    case none
    /// An admission stands once the sensor reports a passage; else it is taken back.
    case sensor
}

/// What a gate does when the service does not answer.
public enum OfflineMode: String, Sendable, CaseIterable {
    /// Decide from the synced ticket snapshot (an unused ticket is admitted once, journaled).
    case snapshot
    /// Stay shut until the service answers.
    case deny
}

/// A configuration value that cannot be used: names the key, the value and what is allowed.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public var source: String
    public var key: String
    public var value: String
    public var allowed: String

    public var description: String {
        value.isEmpty && allowed.hasPrefix("required")
            ? "\(source): \(key) is \(allowed)"
            : "\(source): \(key) = '\(value)' is not allowed: expected \(allowed)"
    }
}

extension KioskConfiguration {
    /// Parses `key = value` lines ('#' starts a comment) into raw values, naming any unknown key.
    public static func parseFile(_ text: String, source: String) throws -> [String: (value: String, source: String)] {
        var values: [String: (String, String)] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = line.trimmedOfBlanks
            guard !trimmed.isEmpty else { continue }
            let where_ = "\(source) line \(number + 1)"
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ConfigurationError(source: where_, key: trimmed, value: "", allowed: "a line of the form key = value")
            }
            let key = trimmed[..<equals].trimmedOfBlanks
            var value = trimmed[trimmed.index(after: equals)...].trimmedOfBlanks
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard keys.contains(where: { $0.key == key }) else {
                throw ConfigurationError(source: where_, key: key, value: value, allowed: "one of the keys `gate-kiosk config` lists")
            }
            values[key] = (value, where_)
        }
        return values
    }

    /// Builds the configuration from layered raw values; every value is checked.
    public static func resolve(
        file: [String: (value: String, source: String)],
        environment: [String: String],
        overrides: [String: String]
    ) throws -> KioskConfiguration {
        var raw: [String: (value: String, source: String)] = [:]
        for (key, defaultValue, _) in keys { if let defaultValue { raw[key] = (defaultValue, "default") } }
        for (key, entry) in file { raw[key] = entry }
        for (key, _, _) in keys {
            let name = environmentPrefix + key.uppercased()
            if let value = environment[name] { raw[key] = (value, "environment \(name)") }
        }
        for (key, value) in overrides {
            guard keys.contains(where: { $0.key == key }) else {
                throw ConfigurationError(source: "--set", key: key, value: value, allowed: "one of the documented keys")
            }
            raw[key] = (value, "--set")
        }
        let reader = ValueReader(raw: raw)
        let tokenFile = try reader.text("token_file", allowEmpty: true)
        if try reader.boolean("direction_input"), try reader.choice("direction", ScanDirection.self) == .exit {
            let (value, source) = try reader.entry("direction")
            throw ConfigurationError(
                source: source,
                key: "direction",
                value: value,
                allowed: "entry with direction_input = on (the input says which scans are exits)"
            )
        }
        var configuration = KioskConfiguration(
            serverURL: try reader.url("server_url"),
            deviceID: try reader.text("device_id"),
            gateID: try reader.text("gate_id"),
            tokenFile: tokenFile.isEmpty ? nil : tokenFile,
            connectTimeout: try reader.milliseconds("connect_timeout_ms", 50...10_000),
            requestDeadline: try reader.milliseconds("request_deadline_ms", 100...30_000),
            cameraDevice: try reader.text("camera_device"),
            frameWidth: try reader.integer("frame_width", 160...4096),
            frameHeight: try reader.integer("frame_height", 120...4096),
            frameRate: try reader.integer("frame_rate", 1...120),
            decoder: try reader.choice("decoder", DecoderChoice.self),
            green: LineWiring(
                chip: try reader.text("green_chip"),
                offset: try reader.integer("green_line", 0...1023),
                activeLow: try reader.boolean("green_active_low")
            ),
            red: LineWiring(
                chip: try reader.text("red_chip"),
                offset: try reader.integer("red_line", 0...1023),
                activeLow: try reader.boolean("red_active_low")
            ),
            relay: LineWiring(
                chip: try reader.text("relay_chip"),
                offset: try reader.integer("relay_line", 0...1023),
                activeLow: try reader.boolean("relay_active_low")
            ),
            relayPulse: try reader.milliseconds("relay_pulse_ms", 20...10_000),
            greenTime: try reader.milliseconds("green_ms", 200...30_000),
            redTime: try reader.milliseconds("red_ms", 200...30_000),
            cooldown: try reader.milliseconds("cooldown_ms", 0...600_000),
            offlineMode: try reader.choice("offline_mode", OfflineMode.self),
            offlineMaxAge: try reader.duration("offline_max_age", .seconds(60)...(.seconds(7 * 86_400))),
            direction: try reader.choice("direction", ScanDirection.self),
            directionInput: try reader.boolean("direction_input"),
            directionLine: LineWiring(
                chip: try reader.text("direction_chip"),
                offset: try reader.integer("direction_line", 0...1023),
                activeLow: try reader.boolean("direction_active_low")
            ),
            exitRelay: try reader.lineOrNone("exit_relay_line").map {
                LineWiring(chip: try reader.text("exit_relay_chip"), offset: $0, activeLow: try reader.boolean("exit_relay_active_low"))
            },
            alarm: try reader.choice("alarm", AlarmWiring.self),
            alarmLine: LineWiring(
                chip: try reader.text("alarm_chip"),
                offset: try reader.integer("alarm_line", 0...1023),
                activeLow: try reader.boolean("alarm_active_low")
            ),
            alarmClear: try reader.milliseconds("alarm_clear_ms", 0...600_000),
            inputDebounce: try reader.milliseconds("input_debounce_ms", 0...1000),
            passage: try reader.choice("passage", PassageMode.self),
            passageLine: LineWiring(
                chip: try reader.text("passage_chip"),
                offset: try reader.integer("passage_line", 0...1023),
                activeLow: try reader.boolean("passage_active_low")
            ),
            passageTimeout: try reader.milliseconds("passage_timeout_ms", 500...60_000),
            relayMode: try reader.choice("relay_mode", RelayMode.self),
            attentionButton: try reader.boolean("attention_button"),
            attentionButtonLine: LineWiring(
                chip: try reader.text("attention_button_chip"),
                offset: try reader.integer("attention_button_line", 0...1023),
                activeLow: try reader.boolean("attention_button_active_low")
            ),
            attentionTimeout: try reader.milliseconds("attention_timeout_ms", 1000...600_000),
            metricsTextfile: try reader.promFile("metrics_textfile"),
            metricsListen: try reader.listenAddress("metrics_listen"),
            modeInput: try reader.boolean("mode_input"),
            modeLines: try [(LaneMode.free, "mode_free_line"), (.locked, "mode_locked_line"), (.outOfOrder, "mode_out_of_order_line")].map {
                KeySwitchPosition(
                    mode: $0.0,
                    wiring: LineWiring(
                        chip: try reader.text("mode_chip"),
                        offset: try reader.integer($0.1, 0...1023),
                        activeLow: try reader.boolean("mode_active_low")
                    )
                )
            }
        )
        configuration.peers = try reader.peerList("peers")
        configuration.peerListen = try reader.peerAddress("peer_listen")
        configuration.peerDiscovery = try reader.boolean("peer_discovery")
        return configuration
    }

    /// Reads the file (if any), then environment and overrides.
    public static func load(path: String?, environment: [String: String], overrides: [String: String]) throws -> KioskConfiguration {
        let path = path ?? environment["GATE_KIOSK_CONFIG"] ?? defaultPath
        var file: [String: (value: String, source: String)] = [:]
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(source: path, key: "file", value: path, allowed: "a readable file")
            }
            file = try parseFile(String(decoding: data, as: UTF8.self), source: path)
        }
        return try resolve(file: file, environment: environment, overrides: overrides)
    }

    /// Where `gate-kiosk enroll` writes the device token and the unit's LoadCredential= reads it.
    public static let defaultTokenPath = "/etc/gate-kiosk/device-token"

    /// Where the device token is read from.
    public func tokenPath(environment: [String: String]) -> String {
        if let tokenFile { return tokenFile }
        if let credentials = environment["CREDENTIALS_DIRECTORY"] { return credentials + "/device-token" }
        return Self.defaultTokenPath
    }
}

private struct ValueReader {
    let raw: [String: (value: String, source: String)]

    func entry(_ key: String) throws -> (value: String, source: String) {
        guard let entry = raw[key] else {
            throw ConfigurationError(source: "configuration", key: key, value: "", allowed: "required but not set")
        }
        return entry
    }

    func text(_ key: String, allowEmpty: Bool = false) throws -> String {
        let (value, source) = try entry(key)
        guard allowEmpty || !value.isEmpty else { throw ConfigurationError(source: source, key: key, value: value, allowed: "required but empty") }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ConfigurationError(source: source, key: key, value: value.debugDescription, allowed: "text without control characters")
        }
        return value
    }

    func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
        let (value, source) = try entry(key)
        guard let number = Int(value), range.contains(number) else {
            throw ConfigurationError(
                source: source,
                key: key,
                value: value,
                allowed: "a whole number from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return number
    }

    /// Comma-separated IPv4 addresses with ports; empty: none.
    func peerList(_ key: String) throws -> [ListenAddress] {
        let value = try text(key, allowEmpty: true)
        let items = value.split(separator: ",").map { String($0).trimmedOfBlanks }.filter { !$0.isEmpty }
        var peers: [ListenAddress] = []
        for item in items {
            guard let address = ListenAddress(item), !address.isIPv6, address.host != "0.0.0.0", peers.count < 64 else {
                let (_, source) = try entry(key)
                throw ConfigurationError(
                    source: source,
                    key: key,
                    value: value,
                    allowed: "up to 64 IPv4 addresses with ports, comma-separated, e.g. 10.1.0.12:7447, 10.1.0.13:7447 (\(item) is not one)"
                )
            }
            if !peers.contains(address) { peers.append(address) }
        }
        return peers
    }

    func peerAddress(_ key: String) throws -> ListenAddress {
        let value = try text(key)
        guard let address = ListenAddress(value), !address.isIPv6 else {
            let (_, source) = try entry(key)
            throw ConfigurationError(source: source, key: key, value: value, allowed: "an IPv4 address and a port, e.g. 0.0.0.0:7447")
        }
        return address
    }

    /// An absolute path ending in `.prom` (node_exporter reads only those), or nil when empty.
    func listenAddress(_ key: String) throws -> ListenAddress? {
        let value = try text(key, allowEmpty: true)
        guard !value.isEmpty else { return nil }
        guard let address = ListenAddress(value) else {
            let (_, source) = try entry(key)
            throw ConfigurationError(
                source: source,
                key: key,
                value: value,
                allowed: "an IP address and a port, e.g. 127.0.0.1:9101 or [::1]:9101, or nothing"
            )
        }
        return address
    }

    func promFile(_ key: String) throws -> String? {
        let value = try text(key, allowEmpty: true)
        guard !value.isEmpty else { return nil }
        guard value.hasPrefix("/"), value.hasSuffix(".prom"), !value.hasSuffix("/.prom") else {
            let (_, source) = try entry(key)
            throw ConfigurationError(source: source, key: key, value: value, allowed: "an absolute path ending in .prom, or nothing")
        }
        return value
    }

    /// A line offset, or `none` for an output that is not wired.
    func lineOrNone(_ key: String) throws -> Int? {
        let (value, source) = try entry(key)
        if value.lowercased() == "none" { return nil }
        guard let number = Int(value), (0...1023).contains(number) else {
            throw ConfigurationError(source: source, key: key, value: value, allowed: "a line offset from 0 to 1023, or none")
        }
        return number
    }

    func milliseconds(_ key: String, _ range: ClosedRange<Int>) throws -> Duration {
        .milliseconds(try integer(key, range))
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws -> T where T.RawValue == String {
        let (value, source) = try entry(key)
        guard let choice = T(rawValue: value.lowercased()) else {
            throw ConfigurationError(source: source, key: key, value: value, allowed: T.allCases.map(\.rawValue).joined(separator: " or "))
        }
        return choice
    }

    /// A duration such as `90s`, `30m`, `12h` or `2d` (a bare number is seconds).
    func duration(_ key: String, _ range: ClosedRange<Duration>) throws -> Duration {
        let (value, source) = try entry(key)
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(value.lowercased())
        var unit = 1
        if let last = digits.last, let seconds = units[last] {
            unit = seconds
            digits = digits.dropLast()
        }
        guard let number = Int(digits), number >= 0, number <= Int(Int32.max), range.contains(.seconds(number * unit)) else {
            throw ConfigurationError(
                source: source,
                key: key,
                value: value,
                allowed: "a duration such as 30m or 12h, from \(range.lowerBound.components.seconds) s to \(range.upperBound.components.seconds) s"
            )
        }
        return .seconds(number * unit)
    }

    func boolean(_ key: String) throws -> Bool {
        let (value, source) = try entry(key)
        switch value.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw ConfigurationError(source: source, key: key, value: value, allowed: "true or false")
        }
    }

    func url(_ key: String) throws -> String {
        let value = try text(key)
        let (_, source) = try entry(key)
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw ConfigurationError(
                source: source,
                key: key,
                value: value,
                allowed: "an http:// or https:// URL such as https://checkin.example.org"
            )
        }
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }
}

/// An IP address and port to listen on: `127.0.0.1:9101`, `[::1]:9101`. A literal address only:
/// the kiosk must not wait for a name server to start.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isIPv6: Bool

    public init?(_ text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
            isIPv6 = true
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            isIPv6 = false
        }
        guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isASCII) else { return nil }
        guard isIPv6 ? Self.isIPv6(host) : Self.isIPv4(host) else { return nil }
        self.host = String(host)
        self.port = number
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
            }
    }

    /// Hex groups and colons (at most one `::`), or an IPv4 tail: checked once more by the
    /// socket's own parser when the listener binds.
    static func isIPv6(_ text: Substring) -> Bool {
        guard (2...45).contains(text.count), text.contains(":") else { return false }
        guard text.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
        return text.components(separatedBy: "::").count <= 2
    }
}

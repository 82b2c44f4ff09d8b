/// Prometheus's text exposition format, written by hand where there is no registry to emit it:
/// the service's figures read at a scrape, and a kiosk's node_exporter textfile.
public struct PrometheusText: Sendable {
    public private(set) var text = ""

    public init() {}

    /// A metric's `# HELP` and `# TYPE` lines: once, before its samples.
    public mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        if !labels.isEmpty { text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}" }
        text += " " + Self.number(value) + "\n"
    }

    /// Whole numbers without a fraction, the rest as Swift writes a Double.
    public static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Label values: backslash, double quote and line feed escaped, as the format asks.
    public static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}

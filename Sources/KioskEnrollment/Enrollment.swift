import CCurl
import FoundationEssentials
import KioskCore
import KioskHardware

#if canImport(Glibc)
import Glibc
#endif

/// `gate-kiosk enroll`: trades a one-time pairing code for this kiosk's device token, stores the
/// token where the unit's `LoadCredential=` reads it (mode 0600), and writes the service URL,
/// device id and gate into the configuration. Nothing is written unless the service said yes.
public enum Enrollment {
    /// `POST /api/enroll`'s answer, or its problem+json refusal (then only `detail` is set).
    struct EnrollAnswer: Decodable {
        var token: String?
        var deviceId: String?
        var gateId: String?
        var eventId: String?
        var detail: String?
    }

    public struct Result: Sendable {
        public var deviceID: String
        public var eventID: String
        public var gateID: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case refused(status: Int, detail: String)
        case unreachable(String)
        case local(String)

        public var description: String {
            switch self {
            case .refused(let status, let detail): return "the service refused the code (HTTP \(status)): \(detail)"
            case .unreachable(let why): return "cannot reach the service: \(why)"
            case .local(let why): return why
            }
        }
    }

    public static func enroll(
        server: String,
        code: String,
        tokenPath: String,
        configPath: String,
        replaceToken: Bool,
        insecure: Bool = false
    ) throws(Failure) -> Result {
        let server = server.hasSuffix("/") ? String(server.dropLast()) : server
        guard let url = URL(string: server), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), let host = url.host, isSafeValue(server)
        else {
            throw .local("--server '\(printable(server))' is not an http:// or https:// URL")
        }
        // Over plain http anyone in the path could answer with their own server and token.
        if url.scheme?.lowercased() == "http" && !isLoopback(host) && !insecure {
            throw .local(
                "--server \(server) is plain http to another host: the token would cross the network readable. Use https://, or --insecure on a network you trust"
            )
        }
        // Check where the token goes before spending the code: a one-time code must not be used
        // up by a kiosk that then cannot store its token.
        if FileManager.default.fileExists(atPath: tokenPath) && !replaceToken {
            throw .local("\(tokenPath) exists already: this kiosk is enrolled. Use --force to replace its token")
        }
        let folder = parentFolder(of: tokenPath)
        guard access(folder.isEmpty ? "." : folder, W_OK) == 0 else { throw .local("cannot write in \(folder) (run as root?)") }

        let body = (try? JSONEncoder().encode(["code": code])) ?? Data()
        let (status, answer) = try post(server + "/api/enroll", body: body)
        let json = try? JSONDecoder().decode(EnrollAnswer.self, from: answer)
        guard status == 201, let token = json?.token, let device = json?.deviceId, let gate = json?.gateId, let event = json?.eventId else {
            throw .refused(status: status, detail: printable(json?.detail ?? String(decoding: answer.prefix(200), as: UTF8.self)))
        }
        // Everything the service said goes into files: checked against the rules for those keys
        // first, so no answer can add a line, a key, or a token of another shape.
        guard isDeviceToken(token) else { throw .local("the service answered with a token of an unexpected form; nothing was saved") }
        for (name, value) in [("deviceId", device), ("gateId", gate), ("eventId", event)] where !isIdentifier(value) {
            throw .local("the service answered with an unusable \(name) '\(printable(value))'; nothing was saved")
        }
        do {
            try writePrivately(tokenPath, token + "\n")
            try updateConfiguration(configPath, ["server_url": server, "device_id": device, "gate_id": gate])
        } catch {
            throw .local("enrolled as \(device), but saving failed: \(error). Ask for a new code and enroll again with --force")
        }
        return Result(deviceID: device, eventID: event, gateID: gate)
    }

    /// A device token as the service makes them: `ghd_` and base32.
    static func isDeviceToken(_ text: String) -> Bool {
        text.hasPrefix("ghd_") && text.utf8.count <= 100 && text.utf8.count > 4
            && text.utf8.dropFirst(4).allSatisfy {
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains($0)
            }
    }

    /// An id for the configuration: 1–128 bytes of letters, digits and `. _ : -` (gate names such
    /// as `north-1`); nothing that could end a line, start a comment or hide in a terminal.
    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-")].contains(byte)
            }
    }

    /// A value that may stand on one `key = value` line: printable, no line break, no NUL.
    static func isSafeValue(_ text: String) -> Bool {
        !text.unicodeScalars.contains {
            $0.value < 0x20 || $0.value == 0x7f || $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}"
        }
    }

    /// Text from the network made safe for a terminal: control characters (escape sequences
    /// included) shown as `\u{…}`, at most 300 characters.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(300) {
            if scalar.value < 0x20 || scalar.value == 0x7f || scalar.properties.generalCategory == .control
                || scalar.properties.generalCategory == .format
            {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Whether plain http to `host` stays on this machine: an address in 127.0.0.0/8 or ::1
    /// (parsed as an address, in any spelling), or exactly the name `localhost`. A prefix test let
    /// `127.0.0.1.gate-login.example` pass, sending the code and the token over the network.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            // An IPv4-mapped loopback address (::ffff:127.x.y.z).
            return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
        }
        return false
    }

    /// One POST with libcurl; 10 s at most.
    static func post(_ url: String, body: Data) throws(Failure) -> (Int, Data) {
        guard let handle = curl_easy_init() else { throw .unreachable("curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        let headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Content-Type: application/json")
        defer { curl_slist_free_all(headers) }
        let buffer = ResponseBuffer()
        _ = gh_curl_set_string(handle, CURLOPT_URL, url)
        _ = gh_curl_set_long(handle, CURLOPT_POST, 1)
        _ = gh_curl_set_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers))
        _ = gh_curl_set_long(handle, CURLOPT_TIMEOUT_MS, 10_000)
        _ = gh_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 3_000)
        _ = gh_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = gh_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = buffer.attach(to: handle)
        let code: CURLcode = body.withUnsafeBytes { raw in
            _ = gh_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, raw.count)
            _ = gh_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress))
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else { throw .unreachable(String(cString: curl_easy_strerror(code))) }
        var status = 0
        _ = gh_curl_get_response_code(handle, &status)
        return (status, Data(buffer.bytes))
    }

    /// Writes a file that only its owner may read: created 0600 beside the target, then renamed
    /// over it, so the secret is never readable by others, not even for a moment.
    static func writePrivately(_ path: String, _ contents: String) throws {
        let temporary = path + ".new"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure.local("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure.local("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Sets `key = value` lines in the configuration file (creating it if missing), keeping
    /// every other line and comment as it was.
    static func updateConfiguration(_ path: String, _ values: [String: String]) throws {
        // The last line of defence: whatever reached here, no value starts a new line or key.
        for (key, value) in values where !isSafeValue(value) || value.contains("=") && key != "server_url" {
            throw Failure.local("refusing to write \(key) = '\(printable(value))' into \(path)")
        }
        let existing = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        var lines = existing.isEmpty ? [] : existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var pending = values
        for index in lines.indices {
            let key = lines[index].split(separator: "=", maxSplits: 1).first?.trimmedOfBlanks ?? ""
            if let value = pending.removeValue(forKey: key) { lines[index] = "\(key) = \(value)" }
        }
        for key in ["server_url", "device_id", "gate_id"] where pending[key] != nil { lines.append("\(key) = \(pending[key]!)") }
        // The file keeps the mode it had (a technician's 0600 stays 0600); a new one is 0644.
        var existingMode: mode_t = 0o644
        var info = stat()
        if stat(path, &info) == 0 { existingMode = info.st_mode & 0o7777 }
        let temporary = path + ".new"
        guard
            FileManager.default.createFile(
                atPath: temporary,
                contents: Data((lines.joined(separator: "\n") + "\n").utf8),
                attributes: [.posixPermissions: Int(existingMode)]
            ),
            chmod(temporary, existingMode) == 0,
            rename(temporary, path) == 0
        else { throw Failure.local("cannot write \(path)") }
    }
}

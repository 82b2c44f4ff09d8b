import CCurl
import FoundationEssentials
import KioskCore

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

    public static func enroll(server: String, code: String, tokenPath: String, configPath: String, replaceToken: Bool) throws(Failure) -> Result {
        let server = server.hasSuffix("/") ? String(server.dropLast()) : server
        guard let url = URL(string: server), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
            throw .local("--server '\(server)' is not an http:// or https:// URL")
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
            throw .refused(status: status, detail: json?.detail ?? String(decoding: answer.prefix(200), as: UTF8.self))
        }
        do {
            try writePrivately(tokenPath, token + "\n")
            try updateConfiguration(configPath, ["server_url": server, "device_id": device, "gate_id": gate])
        } catch {
            throw .local("enrolled as \(device), but saving failed: \(error). Ask for a new code and enroll again with --force")
        }
        return Result(deviceID: device, eventID: event, gateID: gate)
    }

    /// One POST with libcurl; 10 s at most.
    static func post(_ url: String, body: Data) throws(Failure) -> (Int, Data) {
        guard let handle = curl_easy_init() else { throw .unreachable("curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Content-Type: application/json")
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
        headers = nil
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
        let existing = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        var lines = existing.isEmpty ? [] : existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var pending = values
        for index in lines.indices {
            let key = lines[index].split(separator: "=", maxSplits: 1).first?.trimmedOfBlanks ?? ""
            if let value = pending.removeValue(forKey: key) { lines[index] = "\(key) = \(value)" }
        }
        for key in ["server_url", "device_id", "gate_id"] where pending[key] != nil { lines.append("\(key) = \(pending[key]!)") }
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((lines.joined(separator: "\n") + "\n").utf8), attributes: [.posixPermissions: 0o644]),
            rename(temporary, path) == 0
        else { throw Failure.local("cannot write \(path)") }
    }
}

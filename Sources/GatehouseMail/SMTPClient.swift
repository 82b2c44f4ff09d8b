import CCurl

/// Sends one message over SMTP with libcurl, which does the protocol, STARTTLS, authentication
/// and dot-stuffing. Blocking: call it from a thread of its own (the CLI) or a sender's queue.
public struct SMTPClient: Sendable {
    /// The server's last reply: "250 2.0.0 Ok: queued as 4F2A".
    public struct Reply: Sendable, Equatable, CustomStringConvertible {
        public var code: Int
        public var text: String
        public var description: String { text }
    }

    /// Why a message was not sent, and whether trying again later may help.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// A server that is down, slow, busy (4xx) or cut the connection: the message waits and
        /// is tried again. Otherwise the server refused it (5xx), or the settings are wrong.
        public var temporary: Bool
        /// What went wrong, with the server's own words where it gave any.
        public var description: String

        public init(temporary: Bool, description: String) {
            self.temporary = temporary
            self.description = description
        }
    }

    public var settings: SMTPSettings
    public var connectTimeoutMilliseconds: Int
    /// The longest an exchange may take (a server that stops answering: at most twice this, as
    /// the goodbye after a failure has a limit of its own).
    public var timeoutMilliseconds: Int

    public init(settings: SMTPSettings, connectTimeoutMilliseconds: Int = 10_000, timeoutMilliseconds: Int = 60_000) {
        self.settings = settings
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public func send(_ message: MailMessage) throws(Failure) -> Reply {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { throw Failure(temporary: true, description: "libcurl could not start a transfer") }
        defer { curl_easy_cleanup(handle) }
        let exchange = Exchange(body: message.rendered())
        let recipients = curl_slist_append(nil, "<\(message.to.address)>")
        defer { curl_slist_free_all(recipients) }
        let context = Unmanaged.passUnretained(exchange).toOpaque()

        var settingFailed: String?
        func set(_ code: CURLcode, _ what: String) {
            if code != CURLE_OK, settingFailed == nil { settingFailed = "\(what): \(String(cString: curl_easy_strerror(code)))" }
        }
        set(gh_curl_set_string(handle, CURLOPT_URL, settings.curlURL), "url")
        set(gh_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"), "protocols")
        set(
            gh_curl_set_long(handle, CURLOPT_USE_SSL, settings.security == .none ? Int(CURLUSESSL_NONE.rawValue) : Int(CURLUSESSL_ALL.rawValue)),
            "TLS"
        )
        if let username = settings.username { set(gh_curl_set_string(handle, CURLOPT_USERNAME, username), "user name") }
        if let password = settings.password { set(gh_curl_set_string(handle, CURLOPT_PASSWORD, password), "password") }
        set(gh_curl_set_string(handle, CURLOPT_MAIL_FROM, "<\(message.from.address)>"), "sender")
        set(gh_curl_set_pointer(handle, CURLOPT_MAIL_RCPT, UnsafeMutableRawPointer(recipients)), "recipient")
        set(gh_curl_set_long(handle, CURLOPT_UPLOAD, 1), "upload")
        set(gh_curl_set_read_function(handle, readBody), "read function")
        set(gh_curl_set_pointer(handle, CURLOPT_READDATA, context), "read data")
        // The server's replies come only through the debug callback; the password never does.
        set(gh_curl_set_debug_function(handle, collectReplies), "debug function")
        set(gh_curl_set_pointer(handle, CURLOPT_DEBUGDATA, context), "debug data")
        set(gh_curl_set_long(handle, CURLOPT_VERBOSE, 1), "verbose")
        set(gh_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds), "connect timeout")
        set(gh_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds), "timeout")
        // The wait for each reply, QUIT's after a failure included (which the transfer's own
        // timeout does not cover): a server that stops answering costs at most twice the limit.
        set(gh_curl_set_long(handle, CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, timeoutMilliseconds / 1000)), "reply timeout")
        set(gh_curl_set_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
        if let settingFailed { throw Failure(temporary: false, description: "libcurl refused a setting: \(settingFailed)") }

        let result = withExtendedLifetime(exchange) { curl_easy_perform(handle) }
        var code = 0
        _ = gh_curl_get_response_code(handle, &code)
        let said = (exchange.firstRefusal ?? exchange.lastReply).map { ": the server said “\($0)”" } ?? ""
        guard result == CURLE_OK else {
            let what = String(cString: curl_easy_strerror(result))
            switch result {
            case CURLE_USE_SSL_FAILED:
                throw Failure(temporary: false, description: "\(settings.host) does not offer STARTTLS, which is required (\(what))\(said)")
            case CURLE_LOGIN_DENIED:
                throw Failure(temporary: false, description: "\(settings.host) refused the user name or password\(said)")
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_NOT_BUILT_IN:
                throw Failure(temporary: false, description: "libcurl cannot reach \(settings): \(what)")
            default:
                // A 5xx answer is the server's final word on this message; anything else (no
                // connection, a timeout, a 4xx, garbage) may pass later.
                throw Failure(temporary: !(500...599).contains(code), description: "\(what)\(said)")
            }
        }
        return Reply(code: code, text: exchange.lastReply ?? "\(code)")
    }
}

/// What one transfer reads from and writes to, reached from libcurl's C callbacks.
private final class Exchange {
    let body: [UInt8]
    var sent = 0
    /// The server's replies as they come, the last one kept (a multi-line reply joined).
    var lastReply: String?
    /// The first reply that refused something (4xx or 5xx): after it, libcurl says goodbye, and
    /// the goodbye's reply is not the reason.
    var firstRefusal: String?
    private var pending: [String] = []

    init(body: [UInt8]) { self.body = body }

    func take(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let count = min(capacity, body.count - sent)
        body.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + sent, byteCount: count)
        }
        sent += count
        return count
    }

    /// A line the server sent ("250-SIZE", "250 OK"): "NNN-" continues a reply, "NNN " ends it.
    func heard(_ text: String) {
        for line in text.split(whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) {
            let clean = String(line.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 }.prefix(300).map(Character.init))
            pending.append(clean)
            let bytes = Array(clean.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") {
                let reply = pending.suffix(5).joined(separator: " ")
                lastReply = reply
                if firstRefusal == nil, let first = reply.first, first == "4" || first == "5" { firstRefusal = reply }
                pending = []
            }
        }
    }
}

private let readBody: gh_curl_read_callback = { buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
    return exchange.take(into: buffer, capacity: size * count)
}

private let collectReplies: gh_curl_debug_callback = { _, kind, data, size, context in
    guard kind == CURLINFO_HEADER_IN, let data, let context else { return 0 }
    let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
    exchange.heard(String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self))
    return 0
}

import Foundation

/// One Server-Sent Events message.
public struct ServerSentEvent: Sendable, Equatable {
    public var id: String?
    public var event: String
    public var data: String

    /// `data` as a JSON object.
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
    }
}

/// Reads an event stream with curl for a while, then cuts the connection as a flaky network
/// would, possibly in the middle of a message.
public enum EventStreamReader {
    /// The complete messages read from `path` in `seconds` (a message cut off is dropped, as an
    /// EventSource drops it), resuming after `lastEventID` when given. Waits on a thread of its
    /// own: a test's blocked reader must not hold one of the few threads every task runs on.
    public static func read(port: Int, path: String, bearer: String, lastEventID: String?, seconds: Double) async throws -> [ServerSentEvent] {
        try await onOwnThread { try readBlocking(port: port, path: path, bearer: bearer, lastEventID: lastEventID, seconds: seconds) }
    }

    static func readBlocking(port: Int, path: String, bearer: String, lastEventID: String?, seconds: Double) throws -> [ServerSentEvent] {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var arguments = ["-sN", "--max-time", String(format: "%.2f", seconds), "-H", "Authorization: Bearer \(bearer)"]
        if let lastEventID { arguments += ["-H", "Last-Event-ID: \(lastEventID)"] }
        curl.arguments = arguments + ["http://127.0.0.1:\(port)\(path)"]
        let output = Pipe()
        curl.standardOutput = output
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return parse(text)
    }

    /// The messages of `text`, each ended by a blank line; what follows the last one is incomplete.
    public static func parse(_ text: String) -> [ServerSentEvent] {
        var blocks = text.components(separatedBy: "\n\n")
        blocks.removeLast()
        return blocks.compactMap { block in
            var message = ServerSentEvent(id: nil, event: "message", data: "")
            var fields = 0
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
                guard !line.hasPrefix(":") else { continue }
                let (name, value) = line.firstIndex(of: ":").map { (line[..<$0], line[line.index(after: $0)...].drop { $0 == " " }) } ?? (line, "")
                switch name {
                case "id": message.id = String(value)
                case "event": message.event = String(value)
                case "data": message.data += (message.data.isEmpty ? "" : "\n") + value
                default: continue
                }
                fields += 1
            }
            return fields == 0 ? nil : message
        }
    }
}

/// Runs blocking `work` (a child process, a socket) on a thread of its own, so the few threads
/// Swift's tasks share stay free while it waits.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result(catching: work)) }.start()
    }
}

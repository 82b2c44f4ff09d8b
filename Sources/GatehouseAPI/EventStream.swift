import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// `GET /api/events/{id}/stream`: the event's check-ins and conflicts as the log commits them,
/// and its devices' states, as Server-Sent Events.
///
/// A check-in (`event: checkin`) or a conflict (`event: conflict`: an offline admission that
/// collided, sent again when the log marks it) carries the row's place in the log as its `id`,
/// so a client that reconnects with `Last-Event-ID` gets every row after it and none twice —
/// the store hands rows out in commit order (`GatehouseStore.checkinStream`), across processes.
/// A device's state (`event: device`) is a level, not a log: every device's at the start of
/// each connection, then each change; those messages carry no id, so they leave the client's
/// place in the log where it was.
package struct EventStream: Sendable {
    package let gatehouse: Gatehouse
    package let eventId: String
    package var cursor: ChangeCursor?
    /// How often the log is read while nothing new came (several processes may write it, so no
    /// in-process signal would see every row).
    package var pollInterval: Duration = .milliseconds(250)
    package var fleetInterval: Duration = .seconds(2)
    /// A comment line this often keeps proxies and the client's timeout from closing a quiet stream.
    package var keepAlive: Duration = .seconds(15)
    package var pageSize = 500

    package static let lastEventID = HTTPField.Name("Last-Event-ID")!

    package init(gatehouse: Gatehouse, eventId: String, cursor: ChangeCursor?) {
        self.gatehouse = gatehouse
        self.eventId = eventId
        self.cursor = cursor
    }

    /// Where a client resumes: the `Last-Event-ID` header (an EventSource sends it when it
    /// reconnects), else `?lastEventId=` (a first connection cannot set headers); nil: from the
    /// start of the log.
    package static func resumePoint(_ request: Request) throws -> ChangeCursor? {
        guard let text = request.headers[lastEventID] ?? request.uri.queryParameters["lastEventId"].map(String.init), !text.isEmpty else {
            return nil
        }
        guard let cursor = ChangeCursor(text: text) else { throw InvalidInputError("Last-Event-ID must be an id this stream sent") }
        return cursor
    }

    package func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // nginx would otherwise hold the events back in its buffer.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let stream = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await stream.run(&writer) })
    }

    /// Writes until the client goes or the service shuts down (the client then reconnects
    /// with its last id and misses nothing).
    func run(_ writer: inout any ResponseBodyWriter) async throws {
        var cursor = self.cursor
        var states: [String: String] = [:]
        let clock = ContinuousClock()
        var nextFleet = clock.now
        var lastWrite = clock.now
        try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            var text = ""
            var rows: [StreamedCheckin] = []
            do {
                if clock.now >= nextFleet {
                    for device in try await gatehouse.fleet(eventId: eventId) {
                        let message = try Self.message(device)
                        if states[device.deviceId] != message.key {
                            states[device.deviceId] = message.key
                            text += message.text
                        }
                    }
                    nextFleet = clock.now + fleetInterval
                }
                rows = try await gatehouse.checkinStream(eventId: eventId, after: cursor, limit: pageSize)
            } catch StoreError.unavailable {
                // The database is away for a moment: the stream waits for it where it was.
            }
            for row in rows { text += try Self.message(row) }
            cursor = rows.last?.position ?? cursor
            if !text.isEmpty {
                try await writer.write(ByteBuffer(string: text))
                lastWrite = clock.now
            } else if clock.now - lastWrite >= keepAlive {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                lastWrite = clock.now
            }
            if rows.count < pageSize { try await Task.sleep(for: pollInterval) }
        }
        try await writer.finish(nil)
    }

    /// One log row as a message.
    static func message(_ row: StreamedCheckin) throws -> String {
        let kind = row.entry.conflict == nil ? "checkin" : "conflict"
        let data = String(decoding: try APIJSON.encoder.encode(row.entry), as: UTF8.self)
        return "id: \(row.position)\nevent: \(kind)\ndata: \(data)\n\n"
    }

    /// One device's state as a message, and what must change for it to be sent again.
    static func message(_ device: Gatehouse.DeviceStatus) throws -> (key: String, text: String) {
        let state = DeviceStateMessage(device)
        return (state.key, "event: device\ndata: \(String(decoding: try APIJSON.encoder.encode(state), as: UTF8.self))\n\n")
    }
}

import Foundation
import GatehouseDomain
import GatehouseStorage
import Hummingbird
import NIOCore
import Synchronization

/// The per-request context: a small upload limit, because no request of this API needs more.
public struct GatehouseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address (without port), for slowing down guessing of pairing codes.
    public let remoteHost: String?
    private let channel: any Channel
    /// Who is asking, once `AccessGate` has found out (organizer routes and pages only).
    package var principal: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteHost = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }

    /// Lets the connection read the body its guard holds (`ConnectionGuardHandler.heldBodyPaths`):
    /// a route of such a path calls this once it has accepted the request, before reading it.
    package func readHeldBody() {
        channel.triggerUserOutboundEvent(ReadHeldBody(), promise: nil)
    }

    /// Largest request body read (1 MiB fits 10,000 ticket holders); routes that need less say so.
    public var maxUploadSize: Int { 1024 * 1024 }
}

/// What the bodies of the routes anyone can reach may be: a check-in is under 1 KiB, an
/// enrollment a code, an offline upload 1,000 entries of a few hundred bytes.
package enum BodyLimit {
    package static let checkin = 4 * 1024
    package static let enroll = 1024
    package static let offlineUpload = 512 * 1024
    package static let form = 64 * 1024
    /// A heartbeat with its 50 events at most.
    package static let heartbeat = 32 * 1024
}

/// The bytes of request bodies being read at once, across all connections, bounded: a flood of
/// half-sent bodies cannot take the service towards an out-of-memory kill, whatever the connection
/// cap. A request reserves its route's limit before it reads a byte, and returns it when done.
package final class BodyBudget: Sendable {
    package static let shared = BodyBudget(bytes: 64 * 1024 * 1024)

    package let bytes: Int
    private let reserved = Atomic<Int>(0)

    package init(bytes: Int) { self.bytes = bytes }

    package var inUse: Int { reserved.load(ordering: .relaxed) }

    /// Reserves `count` bytes, or false when that would pass the budget.
    package func reserve(_ count: Int) -> Bool {
        let after = reserved.add(count, ordering: .relaxed).newValue
        guard after <= bytes else {
            reserved.subtract(count, ordering: .relaxed)
            return false
        }
        return true
    }

    package func release(_ count: Int) { reserved.subtract(count, ordering: .relaxed) }

    /// Runs `body` with `count` bytes reserved; 503 when the budget is spent.
    package func withReservation<T>(_ count: Int, _ body: () async throws -> T) async throws -> T {
        guard reserve(count) else {
            throw Problem(.serviceUnavailable, "too many request bodies are being received at once; retry shortly", headers: [.retryAfter: "1"])
        }
        defer { release(count) }
        return try await body()
    }
}

extension Request {
    /// Reads and decodes a JSON body of at most `limit` bytes (the context's by default), refusing
    /// a larger one before it is read whole, within the process's body budget, and turning
    /// decoding failures into a 400 that names the bad field.
    ///
    /// `offLoop`: decode on Dispatch's threads, for bodies large enough (an offline upload of a
    /// thousand entries) to hold an event loop, and every other gate's check-in, for milliseconds.
    /// `plain`: a reader of the body's usual shape, tried first; where it answers nil the
    /// JSONDecoder reads the body (and names what is wrong with it).
    package func decodeJSON<T: Decodable & Sendable>(
        as type: T.Type,
        context: GatehouseRequestContext,
        limit: Int? = nil,
        offLoop: Bool = false,
        plain: (([UInt8]) -> T?)? = nil
    ) async throws -> T {
        let limit = limit ?? context.maxUploadSize
        let declared = headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit {
            throw Problem(.contentTooLarge, "request body is larger than \(limit) bytes")
        }
        // What is reserved: the declared length when there is one, else the limit.
        let bytes = try await BodyBudget.shared.withReservation(min(limit, declared ?? limit)) {
            var buffer = try await body.collect(upTo: min(limit, declared ?? limit))
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        if let plain, let value = plain(bytes) { return value }
        do {
            if offLoop { return try await OffLoop.run { try APIJSON.decoder.decode(T.self, from: Data(bytes)) } }
            return try APIJSON.decoder.decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw Problem(.badRequest, Self.describe(error))
        } catch {
            throw Problem(.badRequest, "body is not valid JSON")
        }
    }

    package static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "body" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)) must be of type \(type)"
        case .valueNotFound(let type, let context): return "\(path(context.codingPath)) must be a \(type), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "body is not valid JSON" : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "body does not match the API contract"
        }
    }

    /// The token of an `Authorization: Bearer …` header, or nil.
    package var bearerToken: String? {
        // Byte by byte, not with Foundation's character sets: this runs on every check-in.
        guard let value = headers[.authorization] else { return nil }
        let bytes = value.utf8
        let scheme = "bearer".utf8
        guard bytes.count > scheme.count,
            zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
            let afterScheme = bytes.dropFirst(scheme.count).first, afterScheme == UInt8(ascii: " ") || afterScheme == UInt8(ascii: "\t")
        else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let token = bytes.dropFirst(scheme.count).drop(while: isBlank)
        guard let last = token.lastIndex(where: { !isBlank($0) }) else { return nil }
        return String(Substring(token[...last]))
    }
}

/// A JSON answer with a chosen status, encoded the API's way.
package struct JSONAnswer<Value: Encodable & Sendable>: ResponseGenerator {
    package var status: HTTPResponse.Status = .ok
    package var value: Value

    package init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try APIJSON.encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

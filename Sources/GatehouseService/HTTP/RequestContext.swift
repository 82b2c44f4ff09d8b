import Foundation
import Hummingbird
import NIOCore

/// The per-request context: a small upload limit, because no request of this API needs more.
public struct GatehouseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address (without port), for slowing down guessing of pairing codes.
    public let remoteHost: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteHost = source.channel.remoteAddress?.ipAddress
    }

    /// Largest request body read (1 MiB fits 10,000 ticket holders; a check-in needs < 1 KiB).
    public var maxUploadSize: Int { 1024 * 1024 }
}

extension Request {
    /// Reads and decodes a JSON body, refusing one over the context's limit before it is read whole
    /// and turning decoding failures into a 400 that names the bad field.
    func decodeJSON<T: Decodable>(as type: T.Type, context: GatehouseRequestContext) async throws -> T {
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > context.maxUploadSize {
            throw Problem(.contentTooLarge, "request body is larger than \(context.maxUploadSize) bytes")
        }
        var buffer = try await body.collect(upTo: context.maxUploadSize)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        do {
            return try APIJSON.decoder.decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw Problem(.badRequest, Self.describe(error))
        } catch {
            throw Problem(.badRequest, "body is not valid JSON")
        }
    }

    static func describe(_ error: DecodingError) -> String {
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
    var bearerToken: String? {
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
struct JSONAnswer<Value: Encodable & Sendable>: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    var value: Value

    init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try APIJSON.encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

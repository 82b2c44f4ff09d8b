import GatehouseAPI
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The connection guard in a real NIO pipeline (an embedded channel): which socket reads it lets
/// through while a held body waits for its route, and how a refusal ends the connection.
@Suite struct ConnectionGuardTests {
    /// Sits next to the socket and counts the reads that reach it.
    final class SocketReads: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var count = 0
        func read(context: ChannelHandlerContext) {
            count += 1
            context.read()
        }
    }

    struct Connection {
        let channel = EmbeddedChannel()
        let reads = SocketReads()

        init(held: Set<String> = ["/api/scanner/decode"]) throws {
            let registry = ConnectionRegistry(limits: ConnectionLimits(maximumConnections: 8))
            try channel.pipeline.syncOperations.addHandler(reads)
            try channel.pipeline.syncOperations.addHandler(ConnectionGuardHandler(registry: registry, heldBodyPaths: held))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func receive(_ part: HTTPRequestPart) throws { try channel.writeInbound(part) }

        func head(_ method: HTTPRequest.Method, _ path: String) throws {
            try receive(.head(HTTPRequest(method: method, scheme: "http", authority: "gate", path: path)))
        }

        /// What the application above the guard does after each read completes: ask for more.
        func applicationAsksForMore() -> Int {
            let before = reads.count
            channel.read()
            return reads.count - before
        }
    }

    @Test func a_held_frame_is_not_read_until_its_route_accepts_it() throws {
        let connection = try Connection()
        try connection.head(.post, "/api/scanner/decode?width=640&height=480")
        try connection.receive(.body(ByteBuffer(repeating: 7, count: 1024)))
        #expect(connection.applicationAsksForMore() == 0, "the socket is read while the route has not accepted the frame")
        #expect(connection.applicationAsksForMore() == 0)
        try connection.channel.triggerUserOutboundEvent(ReadHeldBody()).wait()
        #expect(connection.reads.count == 1, "one deferred read once the route accepts the frame")
        #expect(connection.applicationAsksForMore() == 1, "then the body is read as any other")
        try connection.receive(.end(nil))
        try connection.head(.post, "/api/scanner/decode?width=640&height=480")
        #expect(connection.applicationAsksForMore() == 0, "the next frame on the connection is held again")
    }

    @Test func other_requests_are_read_as_they_come() throws {
        let connection = try Connection()
        try connection.head(.post, "/api/checkin")
        #expect(connection.applicationAsksForMore() == 1)
        try connection.receive(.body(ByteBuffer(string: "{}")))
        #expect(connection.applicationAsksForMore() == 1)
        try connection.receive(.end(nil))
        try connection.head(.get, "/api/scanner/decode")
        #expect(connection.applicationAsksForMore() == 1, "only a POST carries a frame")
    }

    @Test func a_refused_frame_ends_the_connection_with_its_body_unread() throws {
        let connection = try Connection()
        try connection.head(.post, "/api/scanner/decode?width=640&height=480")
        #expect(connection.applicationAsksForMore() == 0)
        try connection.channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .tooManyRequests)))
        try connection.channel.writeOutbound(HTTPResponsePart.end(nil))
        guard case .head(let sent) = try connection.channel.readOutbound(as: HTTPResponsePart.self) else {
            Issue.record("no response head")
            return
        }
        #expect(sent.headerFields[.connection] == "close")
        connection.channel.embeddedEventLoop.run()
        #expect(!connection.channel.isActive, "the refusal closes the connection")
        #expect(connection.reads.count == 0, "not one read of the refused frame's body")
    }

    @Test func an_answer_that_accepts_lets_the_rest_of_the_body_be_read() throws {
        let connection = try Connection()
        try connection.head(.post, "/api/scanner/decode?width=640&height=480")
        #expect(connection.applicationAsksForMore() == 0)
        try connection.channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        #expect(connection.reads.count == 1, "the server reads what is left to drain it")
        #expect(connection.channel.isActive)
    }

    @Test func a_body_that_came_with_its_head_leaves_nothing_held() throws {
        let connection = try Connection()
        try connection.head(.post, "/api/scanner/decode?width=32&height=32")
        #expect(connection.applicationAsksForMore() == 0)
        try connection.receive(.body(ByteBuffer(repeating: 0, count: 1024)))
        try connection.receive(.end(nil))
        #expect(connection.reads.count == 1, "the deferred read goes out when the request is complete")
        #expect(connection.applicationAsksForMore() == 1)
    }
}

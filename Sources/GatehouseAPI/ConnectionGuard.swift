import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How many connections the server holds and how long a request may take to arrive.
///
/// Why: without limits, ~1,000 idle connections from anyone took the service to the
/// file-descriptor limit and down with it, and half-sent requests were held forever.
public struct ConnectionLimits: Sendable {
    /// Connections held at once; past it the longest-idle connection is closed for the new one.
    public var maximumConnections: Int
    /// A connection with no request in progress is closed after this long (also a request
    /// whose head never completes: no HTTP part has been read yet).
    public var idleTimeout: Duration
    /// A request's body must be complete this long after its head.
    public var bodyTimeout: Duration

    public init(maximumConnections: Int, idleTimeout: Duration = .seconds(30), bodyTimeout: Duration = .seconds(30)) {
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
    }

    /// File descriptors kept free of connections: the database (SQLite readers and writer, their
    /// WAL and shm files, PostgreSQL's pool), logs, and the listening socket.
    public static let reservedDescriptors = 128

    /// Raises the soft descriptor limit to the hard one (systemd's default soft limit is 1024,
    /// its hard limit far higher) and returns the connection cap that leaves the reserve free.
    public static func fittingDescriptorLimit(requested: Int?) -> ConnectionLimits {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            if limit.rlim_cur < limit.rlim_max {
                var raised = limit
                raised.rlim_cur = min(limit.rlim_max, 1 << 20)
                if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
            }
        } else {
            limit.rlim_cur = 1024
        }
        let fitting = max(16, Int(min(limit.rlim_cur, 1 << 20)) - reservedDescriptors)
        return ConnectionLimits(maximumConnections: min(requested ?? 10_000, fitting))
    }
}

/// Every open connection of one server, so a new one can take the place of the longest idle.
///
/// Evicting instead of refusing (as nginx drops idle keep-alive connections when it runs out):
/// an attacker holding idle or half-sent connections cannot lock a gate's new connection out;
/// a connection whose request is complete and being answered is never closed.
public final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        var answering: Bool
        var lastActive: ContinuousClock.Instant
    }

    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    /// Connections refused (every held one was answering) and idle ones closed for a new one.
    private let refusals = Atomic<Int>(0)
    private let evictions = Atomic<Int>(0)
    /// Most connections held since memory was last handed back (see `closed`).
    private let peak = Mutex<Int>(0)
    public let limits: ConnectionLimits

    public init(limits: ConnectionLimits) { self.limits = limits }

    public var count: Int { entries.withLock { $0.count } }
    public var refused: Int { refusals.load(ordering: .relaxed) }
    public var evicted: Int { evictions.load(ordering: .relaxed) }

    /// Registers a new connection; false when every held connection is answering a request.
    package func opened(_ channel: any Channel) -> Bool {
        let now = ContinuousClock.now
        let evicted = entries.withLock { table -> (any Channel)?? in
            var victim: (any Channel)? = nil
            if table.count >= limits.maximumConnections {
                guard let oldest = table.filter({ !$0.value.answering }).min(by: { $0.value.lastActive < $1.value.lastActive }) else { return .none }
                table.removeValue(forKey: oldest.key)
                victim = oldest.value.channel
            }
            table[ObjectIdentifier(channel)] = Entry(channel: channel, answering: false, lastActive: now)
            let count = table.count
            peak.withLock { $0 = max($0, count) }
            return .some(victim)
        }
        guard let evicted else {
            refusals.add(1, ordering: .relaxed)
            return false
        }
        if let evicted {
            evictions.add(1, ordering: .relaxed)
            evicted.close(promise: nil)
        }
        return true
    }

    package func closed(_ channel: any Channel) {
        let count = entries.withLock { table -> Int in
            table.removeValue(forKey: ObjectIdentifier(channel))
            return table.count
        }
        // A flood of connections (~20 KB each) leaves glibc's heap at its high-water mark: 3,000
        // connections kept ~60 MB after they closed. Once a big peak has drained, hand the free
        // memory back to the system — rarely (at most once per peak of 512+), off the event loop.
        let drained = peak.withLock { peak -> Bool in
            guard peak >= 512, count <= peak / 8 else { return false }
            peak = count
            return true
        }
        if drained { DispatchQueue.global(qos: .utility).async { FreedMemory.returnToSystem() } }
    }

    package func answering(_ channel: any Channel, _ answering: Bool) {
        let now = ContinuousClock.now
        entries.withLock { table in
            table[ObjectIdentifier(channel)]?.answering = answering
            table[ObjectIdentifier(channel)]?.lastActive = now
        }
    }
}

/// The outbound user event a route sends down its connection when it has accepted a request
/// whose body the guard holds (see `ConnectionGuardHandler.heldBodyPaths`): read it now.
package struct ReadHeldBody: Sendable {
    package init() {}
}

/// Sits in each connection's pipeline after HTTP decoding: registers the connection, bounds the
/// time a body may take, and answers 503 (then closes) when the server is full of busy ones.
///
/// For the routes in `heldBodyPaths` it also stops reading from the socket after the request's
/// head until the route accepts the request (`ReadHeldBody`). Why: NIO reads ahead of the route,
/// ten parts of up to 64 KB, so a refused 400 KB camera frame was mostly read off the socket on
/// the event loop anyway, only to be thrown away, and a route that makes a client wait before
/// refusing it (see the decode route) would have read its whole frame meanwhile. Held, a refused
/// frame costs one socket read; the refusal closes the connection with the rest unread.
package final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPRequestPart
    package typealias InboundOut = HTTPRequestPart
    package typealias OutboundIn = HTTPResponsePart
    package typealias OutboundOut = HTTPResponsePart

    private let registry: ConnectionRegistry
    private let heldBodyPaths: Set<String>
    private var admitted = false
    private var registered = false
    /// The current request's end has arrived (its body is all read).
    private var requestComplete = true
    /// The answer went out before its request's body arrived, and refused it: the connection
    /// ends with the answer instead of reading the body only to throw it away.
    private var closeAfterAnswer = false
    private var bodyDeadline: Scheduled<Void>?
    private var refusalDeadline: Scheduled<Void>?
    /// The current request's body is not read until its route accepts it.
    private var holdingBody = false
    /// A read was asked for while the body was held: issued when the hold ends.
    private var readDeferred = false

    package init(registry: ConnectionRegistry, heldBodyPaths: Set<String> = []) {
        self.registry = registry
        self.heldBodyPaths = heldBodyPaths
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        register(context)
        context.fireChannelActive()
    }

    private func register(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        admitted = registry.opened(context.channel)
        if !admitted {
            // Not one idle connection to give way: answer the first request 503, or close soon.
            let channel = context.channel
            refusalDeadline = context.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard admitted else {
            if case .head = part { refuse(context) }
            return
        }
        switch part {
        case .head(let request):
            requestComplete = false
            if request.method == .post, let path = request.path {
                holdingBody = heldBodyPaths.contains(String(path.prefix { $0 != "?" }))
            }
            let channel = context.channel
            let timeout = registry.limits.bodyTimeout
            bodyDeadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                channel.close(promise: nil)
            }
        case .body: break
        case .end:
            requestComplete = true
            bodyDeadline?.cancel()
            bodyDeadline = nil
            registry.answering(context.channel, true)
            // The whole body came with the head's read: nothing left to hold.
            stopHoldingBody(context)
        }
        context.fireChannelRead(data)
    }

    package func read(context: ChannelHandlerContext) {
        if holdingBody {
            readDeferred = true
        } else {
            context.read()
        }
    }

    package func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is ReadHeldBody else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        stopHoldingBody(context)
        promise?.succeed(())
    }

    private func stopHoldingBody(_ context: ChannelHandlerContext) {
        holdingBody = false
        if readDeferred {
            readDeferred = false
            context.read()
        }
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            // A refusal sent before the body came (a stranger's token, a busy decoder, a device
            // over its rate): whatever the body holds would only be read to be thrown away.
            if response.status.code >= 400 && !requestComplete {
                closeAfterAnswer = true
                var response = response
                response.headerFields[.connection] = "close"
                context.write(wrapOutboundOut(.head(response)), promise: promise)
                return
            }
            // Answered without refusing: the server reads (and drains) whatever body is left.
            stopHoldingBody(context)
        case .body: break
        case .end:
            registry.answering(context.channel, false)
            if closeAfterAnswer {
                closeAfterAnswer = false
                let channel = context.channel
                let written = context.eventLoop.makePromise(of: Void.self)
                if let promise { written.futureResult.cascade(to: promise) }
                context.writeAndFlush(data, promise: written)
                written.futureResult.whenComplete { _ in channel.close(promise: nil) }
                return
            }
        }
        context.write(data, promise: promise)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        finish(context)
        context.fireChannelInactive()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        finish(context)
    }

    private func finish(_ context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        refusalDeadline?.cancel()
        bodyDeadline = nil
        refusalDeadline = nil
        if registered { registry.closed(context.channel) }
    }

    private func refuse(_ context: ChannelHandlerContext) {
        let head = HTTPResponse(
            status: .serviceUnavailable,
            headerFields: [.connection: "close", .retryAfter: "1", .contentLength: "0"]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

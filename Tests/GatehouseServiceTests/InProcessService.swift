import Foundation
import GatehouseStorage
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import Synchronization
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

/// One answer of the in-process service, in the shape the process tests' HTTP client gives.
struct RouteResponse: Sendable {
    var status: Int
    /// Header names in lower case.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw InProcessServiceError("not a JSON object: \(text)")
        }
        return object
    }
}

struct InProcessServiceError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A device as the admin API made it (the process tests' type, so helpers serve both).
typealias DeviceCredentials = AdminClient.DeviceCredentials

/// Talks to the service through Hummingbird's router test framework: the real router, middleware
/// and store, without sockets.
struct RouteClient: Sendable {
    let client: any TestClientProtocol
    let adminToken: String

    func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) async throws -> RouteResponse {
        var fields = HTTPFields()
        for (name, value) in headers {
            guard let field = HTTPField.Name(name) else { throw InProcessServiceError("bad header name \(name)") }
            fields[field] = value
        }
        let response = try await client.execute(
            uri: path,
            method: HTTPRequest.Method(rawValue: method)!,
            headers: fields,
            body: body.map { ByteBuffer(bytes: $0) }
        )
        var answerHeaders: [String: String] = [:]
        for field in response.headers {
            // Several Set-Cookie fields stay apart, one per line.
            let name = field.name.canonicalName
            answerHeaders[name] = answerHeaders[name].map { $0 + "\n" + field.value } ?? field.value
        }
        return RouteResponse(status: Int(response.status.code), headers: answerHeaders, body: Array(buffer: response.body))
    }

    /// A JSON request (`body` encoded with JSONSerialization) with an optional bearer token.
    func json(_ method: String, _ path: String, _ body: Any? = nil, bearer: String? = nil) async throws -> RouteResponse {
        var headers: [String: String] = [:]
        if let bearer { headers["authorization"] = "Bearer \(bearer)" }
        var bytes: [UInt8]?
        if let body {
            bytes = Array(try JSONSerialization.data(withJSONObject: body))
            headers["content-type"] = "application/json"
        }
        return try await request(method, path, body: bytes, headers: headers)
    }

    /// An admin call that must answer `status`; its JSON object.
    func call(_ method: String, _ path: String, _ body: Any? = nil, expect status: Int) async throws -> [String: Any] {
        let response = try await json(method, path, body, bearer: adminToken)
        guard response.status == status else {
            throw InProcessServiceError("\(method) \(path): expected \(status), got \(response.status): \(response.text)")
        }
        return response.body.isEmpty ? [:] : try response.json()
    }

    func createEvent(_ name: String = "Test event") async throws -> String {
        try await call("POST", "/api/events", ["name": name], expect: 201)["id"] as! String
    }

    func issue(event: String, quantity: Int = 1, extra: [String: Any] = [:]) async throws -> [(id: String, qrData: String)] {
        var body = extra
        body["quantity"] = quantity
        let tickets = try await call("POST", "/api/events/\(event)/tickets", body, expect: 201)["tickets"] as! [[String: Any]]
        return tickets.map { ($0["id"] as! String, $0["qrData"] as! String) }
    }

    func addDevice(event: String, gate: String = "north-1") async throws -> DeviceCredentials {
        let answer = try await call("POST", "/api/devices", ["name": "kiosk \(gate)", "gateId": gate, "eventId": event], expect: 201)
        return DeviceCredentials(id: answer["deviceId"] as! String, token: answer["token"] as! String, gate: gate)
    }

    func checkin(_ qrData: String, device: DeviceCredentials, scanId: String? = nil, mode: String? = nil) async throws -> RouteResponse {
        var body: [String: Any] = ["qrData": qrData, "deviceId": device.id, "gateId": device.gate]
        if let scanId { body["scanId"] = scanId }
        if let mode { body["mode"] = mode }
        return try await json("POST", "/api/checkin", body, bearer: device.token)
    }

    /// The `result` of a check-in that must be answered 200.
    func checkinResult(_ qrData: String, device: DeviceCredentials, scanId: String? = nil, mode: String? = nil) async throws -> String {
        let response = try await checkin(qrData, device: device, scanId: scanId, mode: mode)
        guard response.status == 200 else { throw InProcessServiceError("check-in answered \(response.status): \(response.text)") }
        return try response.json()["result"] as! String
    }
}

/// Log lines the service wrote, for tests that look for (or for the absence of) something:
/// swift-log's in-memory handler, each entry shown as "level message key=value …".
final class LogCapture: Sendable {
    private let handler = InMemoryLogHandler()
    var text: String {
        handler.entries.map { entry in
            let fields = entry.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(entry.level) \(entry.message) \(fields)"
        }.joined(separator: "\n")
    }

    func logger() -> Logger {
        let handler = self.handler
        var logger = Logger(label: "gatehouse", factory: { _ in handler })
        logger.logLevel = .info
        return logger
    }
}

/// A service clock that stands still at `instant`: everything a test does falls in one instant,
/// so limits and "this minute" are passed by count, never by how fast the machine is.
func stillClock(at instant: Date = Date()) -> @Sendable () -> Date {
    { instant }
}

/// The service exactly as `gatehouse serve` composes it — `buildApplication(configuration)` opens
/// and migrates the store, the application's service group runs the store's services — answering
/// requests in-process through the router test framework. Each call has its own SQLite file (or,
/// for PostgreSQL, works in events of its own on the shared test database).
func withService<T: Sendable>(
    _ kind: StoreKind = .sqlite,
    logs: LogCapture = LogCapture(),
    timeZone: String = "UTC",
    now: @escaping @Sendable () -> Date = { Date() },
    metricsToken: String? = nil,
    alone: Bool = false,
    _ body: @Sendable (RouteClient) async throws -> T
) async throws -> T {
    let folder = try TemporaryFolder()
    let adminToken = "test-admin-token-\(UUID().uuidString)"
    // `alone`: a database of its own, for a test whose clock runs ahead — its service's
    // background work (lists counted out, webhooks claimed) would reach the other tests' rows.
    let own = alone ? try kind.aloneURL() : nil
    let database: DatabaseLocation =
        switch kind {
        case .sqlite: .sqlite(path: folder.file("g.sqlite"), createFolder: false)
        case .postgres: .postgres(url: own ?? StoreKind.postgresURL!)
        case .mysql: .mysql(url: own ?? StoreKind.mysqlURL!)
        }
    var configuration = ServiceConfiguration(
        database: database,
        poolSize: 4,
        databaseLimits: StoreKind.sharedServerLimits,
        dataDirectory: folder.path,
        timeZone: TimeZone(identifier: timeZone)!,
        environment: ["GATEHOUSE_ADMIN_TOKEN": adminToken],
        now: now,
        metricsToken: metricsToken
    )
    // Frames are read at the process's own priority: beside the decoder's suites, which keep
    // every core busy, the service's idle-cores-only reading never got a turn and every frame
    // was answered "busy". The real binary's class is checked end to end (HardeningTests).
    configuration.frameDecodingCores = .shared
    let app = try await buildApplication(configuration, logger: logs.logger())
    defer { withExtendedLifetime(folder) {} }
    return try await app.test(.router) { client in try await body(RouteClient(client: client, adminToken: adminToken)) }
}

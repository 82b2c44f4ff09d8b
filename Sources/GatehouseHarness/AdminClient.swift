import Foundation

/// Admin API calls the tests repeat, on one connection, failing loudly on unexpected statuses.
public struct AdminClient: @unchecked Sendable {
    public let connection: HTTPConnection
    public let token: String

    public init(_ service: ServiceProcess) throws {
        connection = try service.connection()
        token = service.adminToken
    }

    public func call(_ method: String, _ path: String, _ body: Any? = nil, expect status: Int) throws -> [String: Any] {
        let response = try connection.json(method, path, body, bearer: token)
        guard response.status == status else {
            throw HTTPClientError("\(method) \(path): expected \(status), got \(response.status): \(response.text)")
        }
        return try response.json()
    }

    /// An organizer page's HTML (the admin token as a Bearer credential).
    public func page(_ path: String) throws -> String {
        let response = try connection.request("GET", path, headers: ["Authorization": "Bearer \(token)"])
        guard response.status == 200 else { throw HTTPClientError("GET \(path): expected 200, got \(response.status)") }
        return response.text
    }

    public func createEvent(_ name: String = "Test event") throws -> String {
        try call("POST", "/api/events", ["name": name], expect: 201)["id"] as! String
    }

    /// Issues tickets; returns (ticket id, qrData) pairs.
    public func issue(event: String, quantity: Int = 1, extra: [String: Any] = [:]) throws -> [(id: String, qrData: String)] {
        var body = extra
        body["quantity"] = quantity
        let tickets = try call("POST", "/api/events/\(event)/tickets", body, expect: 201)["tickets"] as! [[String: Any]]
        return tickets.map { ($0["id"] as! String, $0["qrData"] as! String) }
    }

    public struct DeviceCredentials: Sendable {
        public let id: String
        public let token: String
        public let gate: String

        public init(id: String, token: String, gate: String) {
            self.id = id
            self.token = token
            self.gate = gate
        }
    }

    /// A check-in body for `device`, with any of its ids replaced (for hostile-input tests).
    public static func checkinBody(
        _ qrData: String,
        device: DeviceCredentials,
        gate: String? = nil,
        scanId: String? = nil,
        deviceId: String? = nil
    ) throws -> [UInt8] {
        var body: [String: Any] = ["qrData": qrData, "deviceId": deviceId ?? device.id, "gateId": gate ?? device.gate]
        if let scanId { body["scanId"] = scanId }
        return Array(try JSONSerialization.data(withJSONObject: body))
    }

    public func addDevice(event: String, gate: String = "north-1") throws -> DeviceCredentials {
        let answer = try call("POST", "/api/devices", ["name": "kiosk \(gate)", "gateId": gate, "eventId": event], expect: 201)
        return DeviceCredentials(id: answer["deviceId"] as! String, token: answer["token"] as! String, gate: gate)
    }
}

extension HTTPConnection {
    /// `POST /api/checkin` as a device; returns the response.
    public func checkin(_ qrData: String, device: AdminClient.DeviceCredentials, scanId: String? = nil, mode: String? = nil) throws -> Response {
        var body: [String: Any] = ["qrData": qrData, "deviceId": device.id, "gateId": device.gate]
        if let scanId { body["scanId"] = scanId }
        if let mode { body["mode"] = mode }
        return try json("POST", "/api/checkin", body, bearer: device.token)
    }

    /// The `result` of a check-in that must be answered 200.
    public func checkinResult(_ qrData: String, device: AdminClient.DeviceCredentials, scanId: String? = nil, mode: String? = nil) throws -> String {
        let response = try checkin(qrData, device: device, scanId: scanId, mode: mode)
        guard response.status == 200 else { throw HTTPClientError("check-in answered \(response.status): \(response.text)") }
        return try response.json()["result"] as! String
    }
}

// Offline gates benchmark (issue #11): a 100,000-ticket snapshot pulled and applied, a delta after
// 1,000 changes, the offline decision beside the online check-in, an upload of 10,000 offline
// admissions, and the kiosk daemon's resident memory holding the snapshot. Prints figures; asserts
// nothing. Run with `make bench-offline` (release build).
import Foundation
import GatehouseCore
import GatehouseHarness
import KioskCore
import KioskHardware
import KioskOffline
import Logging

#if canImport(Glibc)
import Glibc
#endif

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

let ticketCount = Int(ProcessInfo.processInfo.environment["TICKETS"] ?? "") ?? 100_000
let work = NSTemporaryDirectory() + "/offline-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: work + "/state", withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }
// The release gatehouse beside this binary (ServiceProcess looks there first).
let service = try ServiceProcess(databasePath: work + "/bench.sqlite", extraArguments: ["--log-level", "warning"])
defer { service.stop() }
let admin = try AdminClient(service)
let port = service.port

func api(_ method: String, _ path: String, _ body: [String: Any]? = nil) -> [String: Any] {
    do {
        return try admin.call(method, path, body, expect: method == "POST" ? 201 : 200)
    } catch {
        fatalError("\(method) \(path): \(error)")
    }
}

let eventID = api("POST", "/api/events", ["name": "Offline bench"])["id"] as! String
let device = api("POST", "/api/devices", ["name": "bench", "gateId": "bench-1", "eventId": eventID])
let deviceID = device["deviceId"] as! String
let deviceToken = device["token"] as! String
var codes: [String] = []
for _ in 0..<(ticketCount / 10_000) {
    codes += (api("POST", "/api/events/\(eventID)/tickets", ["quantity": 10_000])["tickets"] as! [[String: Any]]).map { $0["qrData"] as! String }
}
print("Offline gates, \(codes.count) tickets, SQLite service (release) on loopback")

let settings = CurlCheckinClient.Settings(
    serverURL: "http://127.0.0.1:\(port)",
    deviceID: deviceID,
    gateID: "bench-1",
    token: deviceToken,
    connectTimeout: .milliseconds(500),
    deadline: .milliseconds(1500)
)
let transport = try CurlSyncClient(settings: settings)
let snapshotPath = work + "/state/offline.sqlite"
let snapshot = try OfflineSnapshot(path: snapshotPath)
let clock = TrustedClock.system
let encoder = JSONEncoder()

/// Pulls and applies pages until complete; returns (pages, tickets, bytes of the pages as JSON).
func pullAll() async throws -> (pages: Int, tickets: Int, bytes: Int) {
    var pages = 0
    var tickets = 0
    var bytes = 0
    var cursor = try snapshot.state.cursor
    while true {
        guard case .success(let page) = await transport.pull(after: cursor, limit: 1000) else { fatalError("pull failed") }
        bytes += try encoder.encode(page).count
        try snapshot.apply(page, contact: clock.contact(serverTime: page.serverTime))
        pages += 1
        tickets += page.tickets.count
        cursor = page.cursor
        if page.complete { return (pages, tickets, bytes) }
    }
}

var started = ContinuousClock.now
let full = try await pullAll()
let fullTime = ContinuousClock.now - started
let disk = fileSize(snapshotPath) + fileSize(snapshotPath + "-wal")
print(
    String(
        format: "full snapshot: %d tickets in %d pages, %.2f s pull+apply, %.1f MB on the wire (JSON), %.1f MB on disk (with WAL)",
        full.tickets,
        full.pages,
        milliseconds(fullTime) / 1000,
        Double(full.bytes) / 1e6,
        Double(disk) / 1e6
    )
)

// 1,000 changes (online check-ins at another gate), then the delta.
let other = api("POST", "/api/devices", ["name": "other", "gateId": "bench-2", "eventId": eventID])
let online = try CurlCheckinClient(
    settings: .init(
        serverURL: settings.serverURL,
        deviceID: other["deviceId"] as! String,
        gateID: "bench-2",
        token: other["token"] as! String,
        connectTimeout: .milliseconds(500),
        deadline: .milliseconds(1500)
    )
)
var onlineTimes: [Double] = []
for code in codes[0..<1000] {
    let start = ContinuousClock.now
    _ = await online.checkin(qrData: code, scanId: UUID().uuidString)
    onlineTimes.append(milliseconds(ContinuousClock.now - start))
}
started = ContinuousClock.now
let delta = try await pullAll()
print(
    String(
        format: "delta after 1,000 check-ins elsewhere: %d tickets, %.1f ms, %.1f kB",
        delta.tickets,
        milliseconds(ContinuousClock.now - started),
        Double(delta.bytes) / 1e3
    )
)

// The decision: offline from the snapshot (SHA-256, lookup, journal fsync) beside online.
let decider = SnapshotDecider(snapshot: snapshot, clock: clock, maxAge: .seconds(3600), gateID: "bench-1")
var offlineTimes: [Double] = []
var refusedTimes: [Double] = []
for (index, code) in codes[1000..<11_000].enumerated() {
    let start = ContinuousClock.now
    guard case .decided(let answer) = decider.decide(qrData: code, scanId: "offline-\(index)"), answer.ok else { fatalError("not admitted offline") }
    offlineTimes.append(milliseconds(ContinuousClock.now - start))
}
for (index, code) in codes[0..<1000].enumerated() {
    let start = ContinuousClock.now
    _ = decider.decide(qrData: code, scanId: "refused-\(index)")
    refusedTimes.append(milliseconds(ContinuousClock.now - start))
}
print(
    String(
        format:
            "decision: online check-in over libcurl median %.2f ms p99 %.2f ms; offline admission (journal fsync) median %.2f ms p99 %.2f ms; offline refusal median %.3f ms p99 %.3f ms",
        percentile(onlineTimes, 0.5),
        percentile(onlineTimes, 0.99),
        percentile(offlineTimes, 0.5),
        percentile(offlineTimes, 0.99),
        percentile(refusedTimes, 0.5),
        percentile(refusedTimes, 0.99)
    )
)

// Upload of the 10,000 offline admissions, as the sync loop does it (batches of 500).
let sync = OfflineSyncService(
    snapshot: snapshot,
    transport: transport,
    clock: clock,
    timekeeper: SystemTimekeeper(),
    health: KioskHealth(),
    deviceID: deviceID,
    gateID: "bench-1",
    logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
)
started = ContinuousClock.now
let problem = await sync.syncOnce()
let uploadTime = ContinuousClock.now - started
let usedNow = api("GET", "/api/events/\(eventID)")["used"] as? Int ?? -1
print(
    String(
        format: "upload: 10,000 offline check-ins in %.2f s (%@); tickets used on the service: %d",
        milliseconds(uploadTime) / 1000,
        problem ?? "no error",
        usedNow
    )
)

// The daemon's resident memory with this snapshot, against an empty state directory.
func kioskMemory(state: String) throws -> Int {
    let frames = work + "/frames"
    try? FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
    try (deviceToken + "\n").write(toFile: work + "/token", atomically: true, encoding: .utf8)
    let kiosk = Process()
    kiosk.executableURL = ServiceProcess.builtExecutable("gate-kiosk", override: "GATE_KIOSK_BIN")
    kiosk.arguments = [
        "run", "--dry-run", "--frames", frames, "--config", work + "/none.conf", "--set", "server_url=\(settings.serverURL)",
        "--set", "device_id=\(deviceID)", "--set", "gate_id=bench-1", "--set", "token_file=\(work)/token",
    ]
    kiosk.environment = ["STATE_DIRECTORY": state]
    kiosk.standardOutput = FileHandle.nullDevice
    kiosk.standardError = FileHandle.nullDevice
    try kiosk.run()
    sleep(8)
    let status = (try? String(contentsOfFile: "/proc/\(kiosk.processIdentifier)/status", encoding: .utf8)) ?? ""
    kiosk.terminate()
    kiosk.waitUntilExit()
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}
try FileManager.default.createDirectory(atPath: work + "/empty", withIntermediateDirectories: true)
let withSnapshot = try kioskMemory(state: work + "/state")
let emptyState = try kioskMemory(state: work + "/empty")
print(
    "kiosk daemon resident memory: \(withSnapshot) kB holding the \(codes.count)-ticket snapshot (syncing every 2 s), \(emptyState) kB after its first full pull into an empty state directory"
)

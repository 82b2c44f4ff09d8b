import Foundation
import GatehouseCore
import GatehouseTestSupport

/// One lane for the inputs' end-to-end tests: the real service on SQLite, an event with one
/// ticket, and a dry-run kiosk at gate north-1 whose inputs are files in `inputs`, each written
/// with its first value before the kiosk starts.
struct DryRunLane {
    let folder: TemporaryDirectory
    let port: Int
    let service: ServiceProcess
    let admin: AdminClient
    let event: String
    let device: AdminClient.DeviceCredentials
    let ticket: (id: String, qrData: String)
    let inputs: String
    let state: String
    let kiosk: OfflineGateTests.DryRunKiosk

    init(event name: String, inputs initial: [String: String], settings: [String]) throws {
        folder = try TemporaryDirectory()
        port = ServiceProcess.freePort()
        service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        admin = try AdminClient(service)
        event = try admin.createEvent(name)
        device = try admin.addDevice(event: event, gate: "north-1")
        ticket = try admin.issue(event: event)[0]
        inputs = folder.file("inputs")
        state = folder.file("state")
        for path in [inputs, state] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        for (name, value) in initial { try Self.write(name, value, in: inputs) }
        kiosk = try OfflineGateTests.DryRunKiosk(
            folder: folder,
            name: "north",
            port: port,
            device: device,
            state: state,
            extra: ["--inputs", inputs] + settings.flatMap { ["--set", $0] }
        )
    }

    /// Sets an input file as the wiring would.
    func write(_ input: String, _ value: String) throws { try Self.write(input, value, in: inputs) }

    private static func write(_ input: String, _ value: String, in folder: String) throws {
        try (value + "\n").write(toFile: folder + "/" + input, atomically: true, encoding: .utf8)
    }
}

import ArgumentParser
import Foundation
import GatehouseService
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the check-in HTTP service.")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on.")
    var host: String = ProcessInfo.processInfo.environment["GATEHOUSE_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one and prints it).")
    var port: Int = Int(ProcessInfo.processInfo.environment["GATEHOUSE_PORT"] ?? "") ?? 8080

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "PostgreSQL connections this process may open (default: $GATEHOUSE_DB_POOL_SIZE or 8).")
    var poolSize: Int = Int(ProcessInfo.processInfo.environment["GATEHOUSE_DB_POOL_SIZE"] ?? "") ?? 8

    @Option(help: "Folder for the admin token file (default: the SQLite file's folder; $GATEHOUSE_DATA_DIR or gatehouse-data with PostgreSQL).")
    var dataDir: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
        guard (1...200).contains(poolSize) else { throw ValidationError("--pool-size must be between 1 and 200, not \(poolSize)") }
    }

    func run() async throws {
        var logger = Logger(label: "gatehouse")
        logger.logLevel = logLevel
        let environment = ProcessInfo.processInfo.environment
        let location = StoreOpener.location(flag: database.db, environment: environment)
        let store = try await openStore(location, poolSize: poolSize, logger: logger)
        let dataDirectory = StoreOpener.dataDirectory(for: location, flag: dataDir, environment: environment)
        if environment["GATEHOUSE_ADMIN_TOKEN"] == nil && environment["CREDENTIALS_DIRECTORY"] == nil {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        let admin = try AdminToken.load(environment: environment, dataDirectory: dataDirectory)
        switch admin.source {
        case .newFile(let path, let token):
            // Printed once, here only: it is the one time the plain token exists outside its file.
            FileHandle.standardError.write(Data("Admin token (saved in \(path), mode 0600): \(token)\n".utf8))
        case .existingFile(let path): logger.info("Admin token loaded", metadata: ["file": "\(path)"])
        case .environment: logger.info("Admin token from GATEHOUSE_ADMIN_TOKEN")
        case .credential(let path): logger.info("Admin token from systemd credential", metadata: ["file": "\(path)"])
        }
        let app = buildApplication(
            gatehouse: Gatehouse(store: store),
            configuration: ServiceConfiguration(host: host, port: port, adminTokenHash: admin.hash),
            logger: logger,
            onServerRunning: { port in
                // One parseable line, so scripts and tests that asked for port 0 find the port.
                say("gatehouse listening on http://\(host):\(port)")
            })
        do {
            try await app.runService()
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

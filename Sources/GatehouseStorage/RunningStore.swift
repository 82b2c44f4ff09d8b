import Logging
import ServiceLifecycle

extension GatehouseStore {
    /// Runs the store's services around `body` and stops them gracefully afterwards, whether
    /// `body` returned or threw: for a process that does one job (an admin command) and for tests.
    /// The HTTP service instead puts `services` into its application's group.
    public func whileRunning<T>(logger: Logger, _ body: () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }
}

import GatehouseStorage
import Logging
import ServiceLifecycle

/// A store whose services run in the background while a test uses it, the way a process's
/// service group runs them; `stop()` shuts them down gracefully (queued writes commit) and waits.
/// A test body that calls `store.whileRunning` would nest every assertion one level deeper.
final class RunningStore: Sendable {
    let store: any GatehouseStore
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(_ store: any GatehouseStore) {
        self.store = store
        let group = ServiceGroup(
            configuration: .init(
                services: store.services.map { .init(service: $0) },
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        )
        self.group = group
        task = Task { try await group.run() }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

import CV4L2

#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread of its own for a loop that blocks for the kiosk's whole life (the capture loop
/// in poll(2)). Not a Dispatch worker: Dispatch's pool is sized by the cores, and a worker held
/// for hours would be missing for every other queue (the curl clients' transfers among them).
package enum DedicatedThread {
    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new, detached thread named `name` (at most 15 bytes show in top and ps).
    package static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread,
            nil,
            { raw in
                let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
                gh_name_this_thread(start.name)
                start.body()
                return nil
            },
            start
        )
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}

import Synchronization

/// Whether the service is known to be unreachable: set by a check-in that got no answer, cleared
/// by the next sync round that reached it (the sync loop keeps trying in the background). While
/// it is set, a gate with a snapshot decides each scan from it at once instead of waiting out the
/// request deadline per scan.
public final class Uplink: Sendable {
    private let down = Atomic<Bool>(false)

    public init() {}

    public var isKnownDown: Bool { down.load(ordering: .acquiring) }

    public func lost() { down.store(true, ordering: .releasing) }

    public func reached() { down.store(false, ordering: .releasing) }
}

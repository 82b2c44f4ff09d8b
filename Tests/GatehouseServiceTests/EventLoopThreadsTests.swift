import GatehouseService
import GatehouseStorage
import Testing

/// `gatehouse serve`'s default event-loop count, by database and cores.
@Suite struct EventLoopThreadsTests {
    @Test func sqlite_gets_a_loop_per_core_and_networked_stores_one_per_two() {
        let sqlite = DatabaseLocation.sqlite(path: "g.sqlite", createFolder: true)
        let postgres = DatabaseLocation.postgres(url: "postgres://gate@db/gh")
        let mysql = DatabaseLocation.mysql(url: "mysql://gate:secret@db/gh")
        #expect([1, 2, 8].map { EventLoopThreads.defaultCount(for: sqlite, cores: $0) } == [1, 2, 8])
        #expect([1, 2, 3, 8].map { EventLoopThreads.defaultCount(for: postgres, cores: $0) } == [1, 1, 1, 4])
        #expect([1, 2, 3, 8].map { EventLoopThreads.defaultCount(for: mysql, cores: $0) } == [1, 1, 1, 4])
        // A machine that reports no cores still gets a loop.
        #expect(EventLoopThreads.defaultCount(for: sqlite, cores: 0) == 1)
        #expect(EventLoopThreads.defaultCount(for: postgres, cores: 0) == 1)
    }
}

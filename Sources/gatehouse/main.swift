import ArgumentParser
import NIOCore
import NIOPosix

// Swift concurrency's jobs run on the event-loop threads that already do the network I/O (HTTP
// and PostgreSQL), instead of hopping to a separate thread pool and back for every request and
// every database answer. Measured on 2 cores with PostgreSQL: more check-ins/s in each of four
// alternating rounds. It must happen before the first task starts: the very first statement.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// In an async function `main()` is AsyncParsableCommand's; at top level the compiler picks the
/// synchronous one, which only prints help for our async subcommands.
func runCommand() async { await GatehouseCommand.main() }
await runCommand()

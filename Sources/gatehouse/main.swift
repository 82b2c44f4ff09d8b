import ArgumentParser
import NIOCore
import NIOPosix

// The command line is read before any task runs: `serve` sizes the event-loop group, which can
// be sized only before its first use (and installing it below is its first use).
let command: any ParsableCommand
do {
    command = try GatehouseCommand.parseAsRoot()
} catch {
    GatehouseCommand.exit(withError: error)
}
if let serve = command as? Serve { NIOSingletons.groupLoopCountSuggestion = serve.eventLoopCount }

// Swift concurrency's jobs run on the event-loop threads that already do the network I/O (HTTP
// and PostgreSQL), instead of hopping to a separate thread pool and back for every request and
// every database answer. Measured on 2 cores with PostgreSQL: more check-ins/s in each of four
// alternating rounds. It must happen before the first task starts.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// What `AsyncParsableCommand.main()` does after parsing: run the command, and end any error
/// with its message and exit status.
func run(_ command: any ParsableCommand) async {
    do {
        if var command = command as? any AsyncParsableCommand {
            try await command.run()
        } else {
            var command = command
            try command.run()
        }
    } catch {
        GatehouseCommand.exit(withError: error)
    }
}
await run(command)

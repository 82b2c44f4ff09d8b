import ArgumentParser

struct GatehouseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "Ticket check-in service and its admin tools.",
        discussion: """
            The database is a SQLite file (default gatehouse-data/gatehouse.sqlite, or $GATEHOUSE_DB, \
            or --db). Admin commands work on the database directly, next to a running service.
            """,
        subcommands: [
            Serve.self, EventCommand.self, TicketsCommand.self, DeviceCommand.self, CheckinsCommand.self, ConflictsCommand.self, MailCommand.self,
            UserCommand.self, TokenCommand.self, AuditCommand.self,
        ]
    )
}

/// `--db`, shared by every subcommand.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "The database: a SQLite file path, sqlite:///absolute/path or postgres://user@host/db (default: $GATEHOUSE_DB or gatehouse-data/gatehouse.sqlite)."
    )
    var db: String?
}

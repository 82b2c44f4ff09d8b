// swift-tools-version:6.1
// Gatehouse: ticket check-in service (`gatehouse`) and gate kiosk daemon (`gate-kiosk`).
import PackageDescription

// Settings shared by every Swift target, declared once (see docs in ../shared/design/STYLE.md).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// libgpiod and zxing-cpp from another system's files: when GATEHOUSE_GUEST_SYSROOT names a
/// folder with include/gpiod.h, include/ZXing/, lib/libgpiod.so and lib/libZXing.so, the kiosk is
/// built against those instead of this machine's. The field rig builds on Debian 12 (libgpiod
/// 1.6, zxing-cpp 1.4) for its Debian 13 guest (libgpiod 2.x, zxing-cpp 2.3) this way. The
/// manifest then only leaves out `-lgpiod` and `-lZXing` (which would find this machine's
/// libraries); the headers and the guest's libraries are named on the build's command line by
/// `make static` (see the Makefile), so the manifest needs no unsafe flags.
enum GuestSysroot {
    static let folder = Context.environment["GATEHOUSE_GUEST_SYSROOT"]
    static func library(_ name: String) -> [LinkerSetting] { folder == nil ? [.linkedLibrary(name)] : [] }
}

let package = Package(
    name: "gatehouse",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"]),
        .executable(name: "gate-kiosk", targets: ["gate-kiosk"]),
    ],
    // What a service build includes besides SQLite. All are on by default; a small venue's build
    // (`swift build --disable-default-traits`) needs neither libmariadb nor zxing-cpp.
    traits: [
        .trait(name: "PostgreSQL", description: "The PostgreSQL store (PostgresNIO)."),
        .trait(name: "MySQL", description: "The MySQL/MariaDB store (MariaDB Connector/C, libmariadb)."),
        .trait(
            name: "ServerQRDecoding",
            description: "The staff scanner's server-side reading of camera frames (zbar and zxing-cpp), for phones without a QR detector."
        ),
        .default(enabledTraits: ["PostgreSQL", "MySQL", "ServerQRDecoding"]),
    ],
    dependencies: [
        // Only the traits we use: swift-configuration support is not needed and costs build time.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Already in the graph through Hummingbird and PostgresNIO; named for the executor take-over in gatehouse/main.swift.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through Hummingbird and PostgresNIO: HTTP parts for the connection
        // guard, TLS contexts for the start-up probe of PostgreSQL.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Already in the graph through Hummingbird: the service's metrics are swift-metrics
        // objects; swift-prometheus writes them in Prometheus's text format for GET /metrics.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CZbar", pkgConfig: "zbar", providers: [.apt(["libzbar-dev"])]),
        .systemLibrary(name: "CMariaDBClient", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        // Argon2id, the reference implementation (Debian's libargon2-dev): organizers' passwords.
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        // zxing-cpp (C++, 1.4 or 2.x) behind a C interface: the second QR engine.
        .target(
            name: "CZXing",
            cxxSettings: [.define("ZX_USE_UTF8")],
            linkerSettings: GuestSysroot.library("ZXing") + [.linkedLibrary("stdc++")]
        ),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // cairo's PDF surface with Pango's text layout (Debian's libpango1.0-dev), behind a small
        // C interface: ticket PDFs.
        .systemLibrary(name: "CPangoCairo", pkgConfig: "pangocairo", providers: [.apt(["libpango1.0-dev"])]),
        .target(name: "CTicketDrawing", dependencies: ["CPangoCairo"]),
        // The loops over every pixel of a frame, in C: as fast in a debug build (the tests) as in
        // a release one, where Swift's would need an unsafe flag to be optimised.
        .target(name: "CPixelKernels"),
        // MariaDB Connector/C (Debian's libmariadb-dev, for MySQL and MariaDB servers alike)
        // behind a small C interface: prepared statements with bound parameters only.
        .target(name: "CMariaDB", dependencies: ["CMariaDBClient"]),

        .target(
            name: "GatehouseCore",
            swiftSettings: swiftSettings
        ),
        // Grey pixel images and their PGM form, shared by QR rendering and reading.
        .target(
            name: "GatehouseImage",
            swiftSettings: swiftSettings
        ),
        // Drawing ticket codes (libqrencode, PNG through zlib): the service and the CLI.
        .target(
            name: "QRRendering",
            dependencies: ["GatehouseImage", "CQRencode", "CZlib"],
            swiftSettings: swiftSettings
        ),
        // E-mail: addresses checked, MIME messages composed, sent over SMTP by libcurl.
        .target(
            name: "GatehouseMail",
            dependencies: ["CCurl"],
            swiftSettings: swiftSettings
        ),
        // Tickets as PDF pages (cairo and Pango): the mail's attachment, the CLI's files.
        .target(
            name: "TicketPDF",
            dependencies: ["CTicketDrawing", "QRRendering"],
            swiftSettings: swiftSettings
        ),
        // Reading codes from camera frames and photos (libzbar and the retries around it): the
        // kiosk, and the service for the staff scanner's frames from phones without a built-in
        // QR detector. Separate from rendering so the kiosk links no libqrencode.
        .target(
            name: "QRReading",
            dependencies: ["GatehouseImage", "CPixelKernels", "CZbar", "CZXing"],
            swiftSettings: swiftSettings
        ),
        // The store protocol, the records it trades in and the `--db` forms: what the stores and
        // the service share, and nothing else (no HTTP, no SQL driver).
        .target(
            name: "GatehouseStorage",
            dependencies: [
                "GatehouseCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // One SQLite connection with prepared statements (FoundationEssentials only): the embedded
        // store, and the kiosk's offline snapshot and journal.
        .target(name: "SQLiteSupport", dependencies: ["CSQLite"], swiftSettings: swiftSettings),
        // The embedded store: SQLite, one writer thread with group commit.
        .target(
            name: "GatehouseSQLite",
            dependencies: [
                "GatehouseStorage", "GatehouseCore", "SQLiteSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The MySQL/MariaDB store: blocking connector calls on threads of its own, group commit.
        .target(
            name: "GatehouseMySQL",
            dependencies: [
                "GatehouseStorage", "GatehouseCore", "CMariaDB",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL store: PostgresNIO's pool, migrations, the check-in function and its batcher.
        .target(
            name: "GatehousePostgres",
            dependencies: [
                "GatehouseStorage", "GatehouseCore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The service's logic without HTTP: ids and secrets, admin input, decisions turned into
        // answers, offline gates, signed codes, holder files. Routes and the admin CLI call it.
        .target(
            name: "GatehouseDomain",
            dependencies: [
                "GatehouseCore", "GatehouseStorage", "GatehouseMail", "CArgon2",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP API: the request context, problem answers, authentication, the connection
        // guard, and the /api routes.
        .target(
            name: "GatehouseAPI",
            dependencies: [
                "GatehouseCore", "GatehouseStorage", "GatehouseDomain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The organizer's pages and the staff scanner: templates, scripts and the stylesheet in
        // files of their own (embedded at build time), page data as Codable values.
        .target(
            name: "GatehouseWeb",
            dependencies: [
                "GatehouseCore", "GatehouseStorage", "GatehouseDomain", "GatehouseAPI", "GatehouseImage", "GatehouseMail", "QRRendering",
                .target(name: "QRReading", condition: .when(traits: ["ServerQRDecoding"])),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Assets"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedWebAssets"]
        ),
        // Ticket mail: the message a ticket is delivered in, and the outbox sender.
        .target(
            name: "GatehouseDelivery",
            dependencies: [
                "GatehouseCore", "GatehouseStorage", "GatehouseDomain", "GatehouseAPI", "GatehouseMail", "GatehouseWeb", "QRRendering", "TicketPDF",
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root of `gatehouse serve`: opens the store the `--db` value names,
        // builds the router, runs the service group.
        .target(
            name: "GatehouseService",
            dependencies: [
                "GatehouseCore", "GatehouseStorage", "GatehouseDomain", "GatehouseAPI", "GatehouseWeb", "GatehouseDelivery", "GatehouseSQLite",
                "GatehouseMail", "SystemdNotify",
                .target(name: "GatehousePostgres", condition: .when(traits: ["PostgreSQL"])),
                .target(name: "GatehouseMySQL", condition: .when(traits: ["MySQL"])),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web assets (templates, scripts, the stylesheet) compiled into GatehouseWeb as text,
        // with a content hash each for long-cache names.
        .executableTarget(name: "embed-web-assets", path: "Plugins/EmbedWebAssetsTool"),
        .plugin(name: "EmbedWebAssets", capability: .buildTool(), dependencies: ["embed-web-assets"]),

        // The gate kiosk: lane rules and loops against protocols (KioskCore), the real hardware
        // behind them (KioskHardware), and C shims for the libraries Swift cannot call directly.
        .target(name: "CV4L2", linkerSettings: [.linkedLibrary("v4l2")]),
        .target(name: "CGpiod", linkerSettings: GuestSysroot.library("gpiod")),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // sd_notify(3) and AF_UNIX datagrams without libsystemd, for the daemon and the service.
        .target(name: "SystemdNotify", swiftSettings: swiftSettings),
        // A swift-log handler writing to the systemd journal's native socket (fields, priorities).
        .target(
            name: "SystemdJournal",
            dependencies: ["SystemdNotify", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskCore",
            dependencies: ["GatehouseCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskHardware",
            dependencies: [
                "KioskCore", "KioskOffline", "GatehouseCore", "GatehouseImage", "QRReading", "CV4L2", "CGpiod", "CCurl",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `gate-kiosk enroll`: a pairing code traded for the device token, written where the unit reads it.
        .target(name: "KioskEnrollment", dependencies: ["KioskCore", "KioskHardware", "CCurl"], swiftSettings: swiftSettings),
        // Offline gates on the box: the ticket snapshot and the journal of offline admissions
        // (SQLite in the state directory), the trusted clock, the offline decision, the sync loop.
        .target(
            name: "KioskOffline",
            dependencies: [
                "KioskCore", "GatehouseCore", "SQLiteSupport", "CCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Gates that tell each other of offline admissions over the LAN (UDP, HMAC under the
        // event's peer key from the sync): the wire format, the exchange, its socket service.
        .target(
            name: "KioskPeers",
            dependencies: [
                "KioskOffline", "KioskCore", "KioskHardware", "GatehouseCore", "CCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Stand-ins for camera and GPIO (frames from a folder, line changes to a file): the
        // daemon's --dry-run, the technician's rehearsal, and the tests. Not part of KioskHardware,
        // so nothing real can reach them by accident.
        .target(
            name: "KioskDryRun",
            dependencies: ["KioskCore", "KioskHardware", "GatehouseCore", "GatehouseImage"],
            swiftSettings: swiftSettings
        ),
        // The daemon and the technician's commands; its composition root (the parts, the service
        // group) lives here.
        .executableTarget(
            name: "gate-kiosk",
            dependencies: [
                "KioskCore", "KioskHardware", "KioskDryRun", "KioskOffline", "KioskPeers", "KioskEnrollment", "GatehouseCore", "GatehouseImage",
                "QRReading",
                "SystemdNotify", "SystemdJournal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the tests and the benchmarks share: the real service started as a process, a raw
        // HTTP/1.1 client, the photo corpus, a fast noise source.
        .target(name: "GatehouseHarness", swiftSettings: swiftSettings),
        // `make bench-kiosk`: decode cost, frame-to-relay latency, daemon memory.
        .executableTarget(
            name: "kiosk-bench",
            dependencies: [
                "KioskCore", "KioskHardware", "KioskDryRun", "GatehouseCore", "GatehouseImage", "QRRendering", "QRReading", "GatehouseHarness",
            ],
            swiftSettings: swiftSettings
        ),
        // `make bench-offline`: snapshot pull, delta, offline decision, upload, kiosk memory.
        .executableTarget(
            name: "offline-bench",
            dependencies: [
                "KioskCore", "KioskHardware", "KioskOffline", "GatehouseCore", "GatehouseHarness",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseService", "GatehouseDomain", "GatehouseStorage", "GatehouseImage", "QRRendering", "TicketPDF", "GatehouseMail",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Helpers only the tests use (a canned HTTP server, a datagram sink, journal fields), and
        // the harness re-exported.
        .target(
            name: "GatehouseTestSupport",
            dependencies: ["GatehouseHarness"],
            path: "Tests/GatehouseTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseCoreTests",
            dependencies: ["GatehouseCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseServiceTests",
            dependencies: [
                "GatehouseService", "GatehouseDomain", "GatehouseAPI", "GatehouseWeb", "GatehouseStorage", "GatehouseSQLite", "SQLiteSupport",
                "GatehousePostgres", "GatehouseMySQL", "GatehouseCore", "GatehouseImage", "QRRendering", "QRReading", "CZlib", "GatehouseTestSupport",
                "GatehouseMail", "KioskOffline", "KioskCore", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseQRTests",
            dependencies: ["GatehouseImage", "QRRendering", "QRReading", "TicketPDF", "GatehouseTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KioskCoreTests",
            dependencies: [
                "KioskCore", "GatehouseCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KioskOfflineTests",
            // swift-crypto only to sign test codes; the kiosk itself verifies with libcrypto.
            dependencies: [
                "KioskOffline", "KioskPeers", "KioskCore", "GatehouseCore", "SQLiteSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KioskHardwareTests",
            dependencies: [
                "KioskHardware", "KioskDryRun", "KioskCore", "KioskEnrollment", "GatehouseImage", "QRRendering", "GatehouseCore", "CV4L2",
                "GatehouseTestSupport", "SystemdNotify", "SystemdJournal", "gate-kiosk",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tests that start the real `gatehouse` process and talk HTTP to it.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "gatehouse", "gate-kiosk", "GatehouseTestSupport", "GatehouseCore", "GatehouseImage", "QRRendering", "QRReading", "CZlib",
                "GatehouseMail",
                // To check webhook signatures as a receiver would.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// swift-tools-version:6.1
// Gatehouse: ticket check-in service (`gatehouse`) and gate kiosk daemon (`gate-kiosk`).
import PackageDescription

// Settings shared by every Swift target, declared once (see docs in ../shared/design/STYLE.md).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// libgpiod and zxing-cpp from another system's files: GATEHOUSE_GUEST_SYSROOT names a folder
/// with include/gpiod.h, include/ZXing/, lib/libgpiod.so and lib/libZXing.so, and the kiosk is
/// built against those instead of this machine's. The field rig builds on Debian 12 (libgpiod
/// 1.6, zxing-cpp 1.4) for its Debian 13 guest (libgpiod 2.x, zxing-cpp 2.3) this way; `-L` would
/// not do, since pkg-config puts this machine's library folder first.
enum GuestSysroot {
    static let folder = Context.environment["GATEHOUSE_GUEST_SYSROOT"]
    static var include: [String] { folder.map { ["-I\($0)/include"] } ?? [] }
    /// The guest's libraries may need newer glibc and libstdc++ symbols than this machine has
    /// (zxing-cpp 2.3 on Debian 13 does); the guest provides them, so the linker is told not to
    /// look for them here.
    static func library(_ name: String) -> [LinkerSetting] {
        folder.map { [.unsafeFlags(["\($0)/lib/lib\(name).so", "-Xlinker", "--allow-shlib-undefined"])] } ?? [.linkedLibrary(name)]
    }
}

let package = Package(
    name: "gatehouse",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"]),
        .executable(name: "gate-kiosk", targets: ["gate-kiosk"]),
    ],
    dependencies: [
        // Only the traits we use: swift-configuration support is not needed and costs build time.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
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
    ],
    targets: [
        // C libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CZbar", pkgConfig: "zbar", providers: [.apt(["libzbar-dev"])]),
        // zxing-cpp (C++, 1.4 or 2.x) behind a C interface: the second QR engine.
        .target(
            name: "CZXing",
            cxxSettings: [.define("ZX_USE_UTF8"), .unsafeFlags(GuestSysroot.include + ["-O2"])],
            linkerSettings: GuestSysroot.library("ZXing") + [.linkedLibrary("stdc++")]
        ),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // MariaDB Connector/C (Debian's libmariadb-dev, for MySQL and MariaDB servers alike)
        // behind a small C interface: prepared statements with bound parameters only.
        .target(
            name: "CMariaDB",
            cSettings: [.unsafeFlags(["-I/usr/include/mariadb"])],
            linkerSettings: [.linkedLibrary("mariadb")]
        ),

        .target(
            name: "GatehouseCore",
            swiftSettings: swiftSettings
        ),
        // Grey pixel images and their PGM form, shared by QR rendering and reading.
        .target(
            name: "GatehouseImage",
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // Drawing ticket codes (libqrencode, PNG through zlib): the service and the CLI.
        .target(
            name: "QRRendering",
            dependencies: ["GatehouseImage", "CQRencode", "CZlib"],
            swiftSettings: swiftSettings
        ),
        // Reading codes from camera frames and photos (libzbar and the retries around it): the
        // kiosk, and the service for the staff scanner's frames from phones without a built-in
        // QR detector. Separate from rendering so the kiosk links no libqrencode.
        .target(
            name: "QRReading",
            dependencies: ["GatehouseImage", "CZbar", "CZXing"],
            // Pixel loops run on every camera frame and over the photo corpus in the tests:
            // optimised even in debug builds, or the tests take minutes instead of seconds.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // The store protocol, the records it trades in and the `--db` forms: what both stores and
        // the service share, and nothing else (no HTTP, no SQL).
        .target(
            name: "GatehouseStore",
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
                "GatehouseStore", "GatehouseCore", "SQLiteSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The MySQL/MariaDB store: blocking connector calls on threads of its own, group commit.
        .target(
            name: "GatehouseMySQL",
            dependencies: [
                "GatehouseStore", "GatehouseCore", "CMariaDB",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP service and its composition root (`buildApplication`), which opens either store.
        .target(
            name: "GatehouseService",
            dependencies: [
                "GatehouseCore", "QRRendering", "QRReading", "GatehouseImage", "GatehouseStore", "GatehouseSQLite", "GatehousePostgres", "GatehouseMySQL",
                "SystemdNotify",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The gate kiosk: lane rules and loops against protocols (KioskCore), the real hardware
        // behind them (KioskHardware), and C shims for the libraries Swift cannot call directly.
        .target(name: "CV4L2", linkerSettings: [.linkedLibrary("v4l2")]),
        .target(name: "CGpiod", cSettings: [.unsafeFlags(GuestSysroot.include)], linkerSettings: GuestSysroot.library("gpiod")),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // sd_notify(3) and AF_UNIX datagrams without libsystemd, for the daemon and the service.
        .target(name: "SystemdNotify", swiftSettings: swiftSettings),
        .target(
            name: "KioskCore",
            dependencies: ["GatehouseCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KioskHardware",
            dependencies: [
                "KioskCore", "KioskOffline", "GatehouseCore", "GatehouseImage", "QRReading", "CV4L2", "CGpiod", "CCurl", "SystemdNotify",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
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
        // Stand-ins for camera and GPIO (frames from a folder, line changes to a file): the
        // daemon's --dry-run, the technician's rehearsal, and the tests. Not part of KioskHardware,
        // so nothing real can reach them by accident.
        .target(
            name: "KioskDryRun",
            dependencies: ["KioskCore", "KioskHardware", "GatehouseCore", "GatehouseImage"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "gate-kiosk",
            dependencies: [
                "KioskCore", "KioskHardware", "KioskDryRun", "KioskOffline", "GatehouseCore", "GatehouseImage", "QRReading", "SystemdNotify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `make bench-kiosk`: decode cost, frame-to-relay latency, daemon memory.
        .executableTarget(
            name: "kiosk-bench",
            dependencies: [
                "KioskCore", "KioskHardware", "KioskDryRun", "GatehouseCore", "GatehouseImage", "QRRendering", "QRReading", "GatehouseTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        // `make bench-offline`: snapshot pull, delta, offline decision, upload, kiosk memory.
        .executableTarget(
            name: "offline-bench",
            dependencies: [
                "KioskCore", "KioskHardware", "KioskOffline", "GatehouseCore", "GatehouseTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatehousePostgres",
            dependencies: [
                "GatehouseStore", "GatehouseCore",
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
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseService",
                "GatehouseStore",
                "GatehousePostgres",
                "GatehouseImage",
                "QRRendering",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Helpers for the tests: a raw HTTP/1.1 client and a launcher for the real service binary.
        .target(
            name: "GatehouseTestSupport",
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
                "GatehouseService", "GatehouseStore", "GatehouseSQLite", "SQLiteSupport", "GatehousePostgres", "GatehouseCore", "GatehouseImage",
                "QRRendering",
                "QRReading", "CZlib", "GatehouseTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatehouseQRTests",
            dependencies: ["GatehouseImage", "QRRendering", "QRReading", "GatehouseTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KioskCoreTests",
            dependencies: ["KioskCore", "GatehouseCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KioskOfflineTests",
            // swift-crypto only to sign test codes; the kiosk itself verifies with libcrypto.
            dependencies: [
                "KioskOffline", "KioskCore", "GatehouseCore", "SQLiteSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KioskHardwareTests",
            dependencies: [
                "KioskHardware", "KioskDryRun", "KioskCore", "GatehouseImage", "QRRendering", "GatehouseCore", "CV4L2", "GatehouseTestSupport",
                "SystemdNotify",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tests that start the real `gatehouse` process and talk HTTP to it.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "gatehouse", "gate-kiosk", "GatehouseTestSupport", "GatehouseCore", "GatehouseImage", "QRRendering", "QRReading", "CZlib",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

import ArgumentParser
import FoundationEssentials
import KioskCore
import KioskEnrollment
import KioskHardware

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll this kiosk with a one-time pairing code from the organizer.",
        discussion: """
            Trades the code for this kiosk's device token, stores it in --token-file (mode 0600, where \
            gate-kiosk.service's LoadCredential= reads it) and writes server_url, device_id and gate_id \
            into the configuration file. Run as root; then `systemctl restart gate-kiosk`.
            """
    )

    @Option(help: "The check-in service, e.g. https://checkin.example.org")
    var server: String

    @Option(help: "The pairing code, e.g. ABCD-EFGH-JKLM-NPQR (`gatehouse device pair` makes one).")
    var code: String

    @Option(help: "Where the device token goes.")
    var tokenFile = KioskConfiguration.defaultTokenPath

    @Option(help: "The configuration file to update.")
    var config = KioskConfiguration.defaultPath

    @Flag(help: "Replace an existing device token (re-enrolling a kiosk).")
    var force = false

    @Flag(help: "Allow a plain http:// service on another host (the token then crosses the network readable).")
    var insecure = false

    func run() throws {
        do {
            let result = try Enrollment.enroll(
                server: server,
                code: code,
                tokenPath: tokenFile,
                configPath: config,
                replaceToken: force,
                insecure: insecure
            )
            print("Enrolled: device \(result.deviceID), gate \(result.gateID), event \(result.eventID).")
            print("Token saved in \(tokenFile) (mode 0600); \(config) updated. Now: systemctl restart gate-kiosk")
        } catch {
            POSIXOutput.write("gate-kiosk enroll: \(error)\n", to: POSIXOutput.standardError)
            if case .unreachable = error { throw ExitCode(exitUnavailable) }
            throw ExitCode(1)
        }
    }
}

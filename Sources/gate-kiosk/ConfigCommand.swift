import ArgumentParser
import KioskCore

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print every configuration key with its default: a commented gate-kiosk.conf."
    )

    func run() {
        print("# /etc/gate-kiosk/gate-kiosk.conf — key = value; '#' starts a comment.")
        print("# Environment GATE_KIOSK_<KEY> and --set key=value override the file.")
        print("# The device token is never here: it comes from the systemd credential device-token")
        print("# (LoadCredential=) or from token_file.\n")
        for (key, defaultValue, help) in KioskConfiguration.keys {
            print("# \(help)")
            print(defaultValue.map { "#\(key) = \($0)" } ?? "\(key) =")
            print("")
        }
    }
}

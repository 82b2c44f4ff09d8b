import ArgumentParser
import FoundationEssentials
import GatehouseCore
import KioskCore
import KioskHardware

/// `gate-kiosk mode free|locked|out_of_order|normal|remote`: the box's lane mode, for a
/// technician at the lane. It outranks the organizer's setting and yields to the key switch;
/// `remote` hands the lane back to the organizer. Kept in the state directory: it survives
/// restarts, and the running daemon applies it within a second.
struct ModeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mode",
        abstract: "Set this lane's mode on the box: normal, free, locked, out_of_order, or remote (the organizer's).",
        discussion: "Without an argument, prints the box's setting."
    )

    @Argument(help: "normal, free, locked, out_of_order, or remote.")
    var mode: String?

    func run() throws {
        let path = KioskParts.stateDirectory(ProcessInfo.processInfo.environment) + "/" + KioskParts.laneModeFile
        guard let mode else {
            let current = LaneModeFile(path: path, clearWord: "remote").read()
            print(current.map { "\($0.rawValue) (set on the box)" } ?? "remote (the organizer's setting, or normal)")
            return
        }
        let word = mode.lowercased()
        guard word == "remote" || LaneMode(rawValue: word) != nil else {
            throw ValidationError("mode must be one of normal, free, locked, out_of_order, remote")
        }
        do {
            try LaneModeFile.write(word, to: path)
        } catch {
            fail("cannot write the lane mode: \(error) (run as root; the state directory is the kiosk's)", code: exitUnavailable)
        }
        print(word == "remote" ? "lane mode: back to the organizer's setting" : "lane mode: \(word) (set on the box)")
    }
}

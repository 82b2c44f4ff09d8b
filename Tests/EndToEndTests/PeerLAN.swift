import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A venue's LAN made of network namespaces the test owns: a bridge in a namespace of its own,
/// one namespace per gate plugged into it (10.231.N.11, .12, …), and the service's side, a veth
/// in the test's namespace (10.231.N.1), as the uplink. Cutting a bridge port is pulling a cable:
/// packets to it are lost, so a kiosk's request runs into its timeout as at a real venue. All of
/// it is removed when the value goes.
final class PeerLAN {
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ip"
    private static let counter = NSLock()
    nonisolated(unsafe) private static var made = 0

    let subnet: String
    let lan: String
    let uplink: String
    let gates: [String]
    private var created: [String] = []
    private var uplinkMade = false

    var serviceAddress: String { "\(subnet).1" }
    func address(_ gate: Int) -> String { "\(subnet).\(11 + gate)" }
    func peer(_ gate: Int) -> String { "\(address(gate)):7447" }

    init(gates count: Int) throws {
        let serial = Self.counter.withLock {
            Self.made += 1
            return Self.made
        }
        let n = (Int(getpid()) % 100) * 2 + serial % 2 + 20
        let tag = "\(getpid() % 100_000)\(serial)"
        subnet = "10.231.\(n)"
        lan = "ghlan\(tag)"
        uplink = "ghup\(tag)"
        gates = (0..<count).map { "ghgate\($0)-\(tag)" }
        try run(["netns", "add", lan])
        created.append(lan)
        try run(["-n", lan, "link", "add", "br0", "type", "bridge"])
        try run(["-n", lan, "link", "set", "br0", "up"])
        try run(["link", "add", uplink, "type", "veth", "peer", "name", "uplink", "netns", lan])
        uplinkMade = true
        try run(["-n", lan, "link", "set", "uplink", "master", "br0", "up"])
        try run(["addr", "add", "\(serviceAddress)/24", "dev", uplink])
        try run(["link", "set", uplink, "up"])
        for (index, gate) in gates.enumerated() {
            try run(["netns", "add", gate])
            created.append(gate)
            try run(["-n", gate, "link", "add", "eth0", "type", "veth", "peer", "name", "port\(index)", "netns", lan])
            try run(["-n", lan, "link", "set", "port\(index)", "master", "br0", "up"])
            try run(["-n", gate, "addr", "add", "\(address(index))/24", "dev", "eth0"])
            try run(["-n", gate, "link", "set", "eth0", "up"])
            try run(["-n", gate, "link", "set", "lo", "up"])
            // Multicast (peer_discovery) leaves by the LAN.
            try run(["-n", gate, "route", "add", "224.0.0.0/4", "dev", "eth0"])
        }
    }

    deinit {
        // Best effort: a namespace already gone is what deinit wants.
        for namespace in created.reversed() { _ = try? run(["netns", "del", namespace]) }
        if uplinkMade { _ = try? run(["link", "del", uplink]) }
    }

    /// The service is unreachable from every gate (the venue's uplink is gone); the LAN stays.
    func cutUplink() throws { try run(["-n", lan, "link", "set", "uplink", "down"]) }
    func restoreUplink() throws { try run(["-n", lan, "link", "set", "uplink", "up"]) }
    /// The gate's cable out: neither the service nor its peers reach it.
    func unplug(_ gate: Int) throws { try run(["-n", lan, "link", "set", "port\(gate)", "down"]) }
    func plug(_ gate: Int) throws { try run(["-n", lan, "link", "set", "port\(gate)", "up"]) }

    @discardableResult
    private func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ip)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PeerLANError(description: "ip \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// Sends datagrams from the test's namespace to a gate, as a hostile box on the LAN would.
    func send(_ datagrams: [[UInt8]], to gate: Int) { Self.send(datagrams, to: address(gate)) }

    static func send(_ datagrams: [[UInt8]], to host: String, port: UInt16 = 7447) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        for datagram in datagrams {
            _ = datagram.withUnsafeBytes { body in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, body.baseAddress, body.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }
    }
}

struct PeerLANError: Error, CustomStringConvertible {
    let description: String
}

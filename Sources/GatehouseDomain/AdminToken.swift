import Foundation
import GatehouseCore
import GatehouseStorage

/// Where the admin credential comes from: `GATEHOUSE_ADMIN_TOKEN`, the systemd credential
/// `admin-token` (`LoadCredential=`), or a file in the data folder made at first start (mode 0600)
/// whose token is printed once.
public enum AdminToken {
    public enum Source: Equatable, Sendable {
        case environment
        case credential(String)
        case existingFile(String)
        /// Made just now: the caller shows the token once.
        case newFile(String, token: String)
    }

    public static let fileName = "admin-token"

    /// Loads or creates the admin token; returns its hash and where it came from.
    public static func load(environment: [String: String], dataDirectory: String) throws -> (hash: [UInt8], source: Source) {
        if let token = environment["GATEHOUSE_ADMIN_TOKEN"] {
            guard token.utf8.count >= 16 else { throw InvalidInputError("GATEHOUSE_ADMIN_TOKEN must be at least 16 characters") }
            return (TokenHash.of(token), .environment)
        }
        if let credentials = environment["CREDENTIALS_DIRECTORY"] {
            let path = credentials + "/admin-token"
            if let token = readToken(at: path) {
                guard token.utf8.count >= 16 else { throw InvalidInputError("the admin-token credential must be at least 16 characters") }
                return (TokenHash.of(token), .credential(path))
            }
        }
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if let token = readToken(at: path) {
            guard !token.isEmpty else { throw InvalidInputError("\(path) is empty; delete it to make a new admin token") }
            return (TokenHash.of(token), .existingFile(path))
        }
        let token = Secret.newAdminToken()
        try writeSecretFile(path: path, contents: token + "\n")
        return (TokenHash.of(token), .newFile(path, token: token))
    }

    /// A token file's one line, without surrounding blanks; nil when there is no such file.
    package static func readToken(at path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Creates `path` with mode 0600 from the start (never world-readable, not even briefly) and
    /// refuses to overwrite an existing file.
    public static func writeSecretFile(path: String, contents: String) throws {
        try writeSecretFile(path: path, bytes: Array(contents.utf8))
    }

    /// `bytes` into a file of mode 0600 from the start. `replacing` lets it overwrite a file that
    /// exists; `durable: false` leaves out the fsync, for many files synced as a batch or not at all.
    public static func writeSecretFile(path: String, bytes: [UInt8], replacing: Bool = false, durable: Bool = true) throws {
        let fd = open(path, O_WRONLY | O_CREAT | (replacing ? O_TRUNC : O_EXCL) | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw InvalidInputError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw InvalidInputError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        guard !durable || fsync(fd) == 0 else { throw InvalidInputError("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}

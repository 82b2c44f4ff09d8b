import Crypto
import Foundation
import GatehouseStorage

/// Seals ticket codes waiting in the mail outbox (ChaCha20-Poly1305), so the database — its
/// files, its backups, a replica — never holds a usable code: the key lives outside it, in the
/// systemd credential `mail-key` or a file `mail-key` beside the admin token (mode 0600, made at
/// first start). Each sealed code is bound to its mail's id, so a row's code cannot be moved
/// into another row and mailed to someone else.
///
/// Several service processes on one database must share the key (the same credential): a mail
/// sealed by one is sent by whichever claims it.
public struct CodeSeal: Sendable {
    public enum Source: Equatable, Sendable {
        case credential(String)
        case existingFile(String)
        case newFile(String)
    }

    public struct OpenError: Error, CustomStringConvertible {
        public var description: String {
            "the sealed code does not open with this process's mail key (another key sealed it, or the row was altered)"
        }
    }

    public static let fileName = "mail-key"
    /// The key's bytes (SymmetricKey itself is not Sendable).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(key: [UInt8]) {
        precondition(key.count == 32, "a mail key is 32 bytes")
        keyBytes = key
    }

    /// A seal with a new random key, for tests and for a first start.
    public static func random() -> CodeSeal { CodeSeal(key: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }) }

    public func seal(_ code: String, mailId: String) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(Array(code.utf8), using: key, authenticating: Array(mailId.utf8))
        return Array(box.combined)
    }

    public func open(_ sealed: [UInt8], mailId: String) throws -> String {
        do {
            let box = try ChaChaPoly.SealedBox(combined: sealed)
            return String(decoding: try ChaChaPoly.open(box, using: key, authenticating: Array(mailId.utf8)), as: UTF8.self)
        } catch {
            throw OpenError()
        }
    }

    /// The key from the systemd credential `mail-key`, else the data folder's file (made now
    /// when there is none). Either holds 32 bytes in base64 on one line.
    public static func load(environment: [String: String], dataDirectory: String) throws -> (seal: CodeSeal, source: Source) {
        if let credentials = environment["CREDENTIALS_DIRECTORY"], let text = AdminToken.readToken(at: credentials + "/" + fileName) {
            return (try parse(text, from: credentials + "/" + fileName), .credential(credentials + "/" + fileName))
        }
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if let text = AdminToken.readToken(at: path) { return (try parse(text, from: path), .existingFile(path)) }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try AdminToken.writeSecretFile(path: path, contents: Data(key).base64EncodedString() + "\n")
        return (CodeSeal(key: key), .newFile(path))
    }

    static func parse(_ text: String, from path: String) throws -> CodeSeal {
        guard let data = Data(base64Encoded: text), data.count == 32 else {
            throw InvalidInputError("\(path) must hold a 32-byte key in base64 (e.g. from `head -c32 /dev/urandom | base64`)")
        }
        return CodeSeal(key: Array(data))
    }
}

extension CodeSeal {
    /// A secret the service can make again from `input` and nothing else it stores: HMAC-SHA256
    /// under a key derived (HKDF) from this key for `purpose` alone, so no two uses share a key
    /// and nothing derived opens a sealed code. Every process holding the key makes the same.
    public func derivedSecret(purpose: String, input: String) -> [UInt8] {
        let purposeKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(purpose.utf8), outputByteCount: 32)
        return Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: purposeKey))
    }
}

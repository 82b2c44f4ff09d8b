import Crypto

/// SHA-256 of a secret, the only form in which tokens are stored.
///
/// A fast hash is enough: tokens carry at least 128 random bits, so there is nothing to
/// brute-force, and a fast hash keeps a check-in one indexed lookup (a password hash would cap a
/// venue at a few hundred scans a second for no gain).
public enum TokenHash {
    public static func of(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Compares two hashes in time independent of where they differ.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

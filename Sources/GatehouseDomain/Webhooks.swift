import Crypto
import Foundation
import GatehouseCore
import GatehouseStorage

/// Webhooks: the organizer names a URL, the service posts the event's check-ins, conflicts and
/// device states to it, signed with the webhook's secret (see `WebhookSignature`).
extension Gatehouse {
    /// A webhook just added, with its secret (shown this once).
    public struct AddedWebhook: Encodable, Sendable {
        public var webhook: Webhook
        public var secret: String
    }

    /// Longest URL a webhook may have.
    package static let maximumWebhookURLLength = 2000

    public func addWebhook(eventId: String, url: String, secret: String?) async throws -> AddedWebhook {
        _ = try await event(id: eventId)
        let url = try Self.checkWebhookURL(url)
        let secret = try secret.map(Self.checkWebhookSecret) ?? Secret.newWebhookSecret()
        let webhook = try await store.addWebhook(
            NewWebhook(id: Identifier.newWebhookID(), eventId: eventId, url: url, secret: secret),
            at: now()
        )
        return AddedWebhook(webhook: webhook, secret: secret)
    }

    public func webhooks(eventId: String) async throws -> [Webhook] {
        _ = try await event(id: eventId)
        return try await store.webhooks(eventId: eventId)
    }

    public func deleteWebhook(id: String) async throws {
        guard try await store.deleteWebhook(id: id) else { throw NotFoundError("webhook \(id)") }
    }

    /// An absolute http or https URL with a host, without credentials (they would show in the
    /// organizer's pages and the logs: a receiver checks the signature instead).
    package static func checkWebhookURL(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= maximumWebhookURLLength else {
            throw InvalidInputError("url is longer than \(maximumWebhookURLLength) bytes")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }),
            let components = URLComponents(string: trimmed),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw InvalidInputError("url must be an http:// or https:// URL with a host, e.g. https://signage.example.org/gatehouse")
        }
        guard components.user == nil, components.password == nil else {
            throw InvalidInputError("url must not carry a user name or password: the receiver checks the signature")
        }
        return trimmed
    }

    /// A secret the organizer chose: 16 to 200 printable ASCII characters.
    package static func checkWebhookSecret(_ text: String) throws -> String {
        guard (16...200).contains(text.utf8.count), text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw InvalidInputError("secret must be 16 to 200 printable ASCII characters without spaces (or left out: one is made)")
        }
        return text
    }
}

/// The `Gatehouse-Signature` header of a delivery: `t=<unix seconds>,v1=<hex>`, where the hex is
/// HMAC-SHA256 with the webhook's secret of `<t>.<body>`. The time is signed so a receiver can
/// refuse an old delivery replayed to it.
public enum WebhookSignature {
    public static let header = "Gatehouse-Signature"

    public static func value(body: [UInt8], secret: String, at: Date) -> String {
        let time = Int64(at.timeIntervalSince1970.rounded(.down))
        return "t=\(time),v1=\(hex(body: body, secret: secret, time: time))"
    }

    public static func hex(body: [UInt8], secret: String, time: Int64) -> String {
        var message = Array("\(time).".utf8)
        message += body
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }
}

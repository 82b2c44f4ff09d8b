/// Identifiers and secrets minted by the service.
///
/// Ids are random, not sequential, so several service processes on one database can mint them
/// without coordination and they do not leak how many events or tickets exist.
public enum Identifier {
    /// Event id: "E" + 7 base32 characters (35 random bits). Short because it is printed in every
    /// QR: with it a whole code is 38 characters, the most QR version 2 (25×25 modules) holds in
    /// alphanumeric mode at error-correction level M. Ids are primary keys, so a (rare) clash is
    /// refused by the database, never merged.
    public static func newEventID() -> String { "E" + Base32.randomString(count: 7) }
    /// Ticket id: "T" + 16 base32 characters (80 random bits).
    public static func newTicketID() -> String { "T" + Base32.randomString(count: 16) }
    /// Outbox mail id: "M" + 16 base32 characters (also the mail's Message-ID, so a copy sent
    /// again after a lost answer is recognisable as the same message).
    public static func newMailID() -> String { "M" + Base32.randomString(count: 16) }
    /// Device id: "D" + 10 base32 characters.
    public static func newDeviceID() -> String { "D" + Base32.randomString(count: 10) }
    /// A check-in list.
    public static func newListID() -> String { "L" + Base32.randomString(count: 10) }
    /// A webhook.
    public static func newWebhookID() -> String { "W" + Base32.randomString(count: 10) }
    /// An organizer's account.
    public static func newAccountID() -> String { "A" + Base32.randomString(count: 10) }
    /// A personal API token's id (what `gatehouse token revoke` names; not the secret).
    public static func newAPITokenID() -> String { "K" + Base32.randomString(count: 10) }

    public static func isEventID<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.count == 8 && text.first == "E" && Base32.isBase32(text.dropFirst())
    }
}

/// Secrets: shown once, stored only as their SHA-256.
public enum Secret {
    /// Ticket token: 26 base32 characters = 130 random bits (the design asks for at least 128).
    public static let ticketTokenLength = 26
    public static func newTicketToken() -> String { Base32.randomString(count: ticketTokenLength) }
    /// Device bearer token: "ghd_" + 32 base32 characters (160 bits).
    public static func newDeviceToken() -> String { "ghd_" + Base32.randomString(count: 32) }
    /// Admin bearer token: "gha_" + 32 base32 characters (160 bits).
    public static func newAdminToken() -> String { "gha_" + Base32.randomString(count: 32) }
    /// A webhook's signing key: "whsec_" + 32 base32 characters (160 bits). The one secret kept
    /// as it is: the service signs with it.
    public static func newWebhookSecret() -> String { "whsec_" + Base32.randomString(count: 32) }
    /// A personal API token: "ghp_" + 32 base32 characters (160 bits).
    public static func newPersonalToken() -> String { "ghp_" + Base32.randomString(count: 32) }
    /// A sign-in session's cookie value (160 bits).
    public static func newSessionID() -> String { Base32.randomString(count: 32) }
    /// A one-time set-password link's token (160 bits).
    public static func newPasswordLinkToken() -> String { Base32.randomString(count: 32) }
    /// The cookie that marks a browser an account has signed in from (160 bits).
    public static func newBrowserMark() -> String { Base32.randomString(count: 32) }
}

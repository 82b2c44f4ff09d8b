/// The release both programs report (`--version`, a kiosk's heartbeat): year and month of the
/// release, then its number in that month.
public enum ProductVersion {
    public static let current = "2026.12.1"
}

import GatehouseCore
import GatehouseStorage

// Parts several pages show alike, each drawn by a partial of the same name.

/// A time on the organizer's clock (`time`): UTC beside it unless that is the organizer's zone.
package struct TimeText: Sendable, Encodable {
    package var local: String
    package var utcTime: String?
}

/// A coloured word (`badge`): a check-in result or a ticket's status.
package struct Badge: Sendable, Encodable {
    package var tone: String
    package var words: String

    package init(tone: String, words: String) {
        self.tone = tone
        self.words = words
    }

    package init(_ result: CheckinResult) {
        tone = result == .valid ? "ok" : result == .alreadyUsed || result == .annulled ? "warn" : "bad"
        words = Badge.words(result)
    }

    package init(_ status: TicketStatus) {
        tone = status == .unused ? "ok" : status == .used ? "warn" : "bad"
        words = status.rawValue
    }

    package static func words(_ result: CheckinResult) -> String {
        switch result {
        case .valid: "valid"
        case .alreadyUsed: "already used"
        case .notFound: "unknown"
        case .wrongEvent: "wrong event"
        case .expired: "expired"
        case .revoked: "revoked"
        case .invalid: "not a ticket"
        case .exit: "exit"
        case .notOnList: "not on list"
        case .notOpen: "not open"
        case .closed: "closed"
        case .full: "full"
        case .alreadyInside: "already inside"
        case .annulled: "annulled"
        }
    }
}

/// A text input with its label (`field`), keeping what was typed after a refused form.
package struct FormField: Sendable {
    package var label: String
    package var name: String
    package var type = "text"
    package var value: String?
    package var required = false
    package var maxLength: Int?
    package var min: Int?
    package var max: Int?
    package var placeholder: String?
    package var hint: String?

    /// The field `name`, showing what `values` hold for it (what was typed, or the default).
    package init(
        _ label: String,
        name: String,
        values: [String: String],
        type: String = "text",
        required: Bool = false,
        maxLength: Int? = nil,
        min: Int? = nil,
        max: Int? = nil,
        placeholder: String? = nil,
        hint: String? = nil
    ) {
        self.label = label
        self.name = name
        self.type = type
        self.value = values[name]
        self.required = required
        self.maxLength = maxLength
        self.min = min
        self.max = max
        self.placeholder = placeholder
        self.hint = hint
    }
}

/// A form: its fields and the message of its last refusal (`error` draws that).
package struct FormView: Sendable {
    package var error: String?
    package var fields: [FormField]
}

/// One event's tabs (`tabs`).
package struct EventTabs: Sendable {
    package struct Tab: Sendable {
        var label: String
        var href: String
        var current: Bool
    }

    package var eventName: String
    package var tabs: [Tab]

    package init(_ event: Event, current: String) {
        eventName = event.name
        let base = "/admin/events/\(event.id)"
        tabs = [
            ("overview", "Overview", base), ("tickets", "Tickets", base + "/tickets"), ("checkins", "Check-ins", base + "/checkins"),
            ("lists", "Lists", base + "/lists"), ("devices", "Devices", base + "/devices"), ("gates", "Gates", base + "/gates"),
            ("registration", "Registration", base + "/registration"), ("audit", "Audit", base + "/audit"),
        ].map { key, label, href in Tab(label: label, href: href, current: key == current) }
    }
}

/// Admitted and refused per gate (`gates`).
package struct GateTable: Sendable, Encodable {
    package struct Gate: Sendable, Encodable {
        var gateId: String
        var admitted: Int
        var refused: Int
    }

    package var gates: [Gate]
    package var hasGates: Bool

    package init(_ counts: CheckinCounts) {
        gates = counts.gates.map { Gate(gateId: $0.gateId, admitted: $0.admitted, refused: $0.refused) }
        hasGates = !gates.isEmpty
    }
}

/// A link with its words.
package struct Link: Sendable {
    package var href: String
    package var label: String
}

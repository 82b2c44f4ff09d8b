import GatehouseDomain

/// Which event a route's request is about, found from its path (or, for the two routes that
/// name it in the body, from the body).
package enum EventScope: Sendable, Equatable {
    /// No one event (the list of events: the handler shows only the principal's).
    case none
    /// Creating an event: only for a principal with every event.
    case everyEvent
    case event(String)
    case ticket(String)
    case device(String)
    case list(String)
    case webhook(String)
    /// `{"eventId": …}` in a JSON body.
    case bodyEventId
}

/// Who may call one route: the permission it needs, on which event, and (for a change) the words
/// the audit trail records it with.
package struct AccessRule: Sendable, Equatable {
    package var permission: Permission
    package var scope: EventScope
    /// What the audit trail calls this action; nil for reads.
    package var action: String?

    package init(_ permission: Permission, _ scope: EventScope, _ action: String? = nil) {
        self.permission = permission
        self.scope = scope
        self.action = action
    }
}

/// Every organizer route, API and pages, with its rule: one table, read by `AccessGate` for every
/// request. A route missing here is refused (and a test fails), never let through.
package enum AccessRules {
    package static let api: [String: AccessRule] = [
        "POST /api/events": AccessRule(.events, .everyEvent, "event created"),
        "GET /api/events": AccessRule(.read, .none),
        "GET /api/events/{id}": AccessRule(.read, .event("id")),
        "POST /api/events/{id}/tickets": AccessRule(.tickets, .event("id"), "tickets issued"),
        "PUT /api/events/{id}/registration": AccessRule(.registration, .event("id"), "registration changed"),
        "GET /api/events/{id}/mails": AccessRule(.read, .event("id")),
        "POST /api/events/{id}/mails": AccessRule(.boxOffice, .event("id"), "tickets sent again"),
        "GET /api/events/{id}/checkins": AccessRule(.read, .event("id")),
        "POST /api/events/{id}/signing-keys": AccessRule(.events, .event("id"), "signing key added"),
        "POST /api/events/{id}/lists": AccessRule(.lists, .event("id"), "list created"),
        "GET /api/events/{id}/lists": AccessRule(.read, .event("id")),
        "GET /api/lists/{id}": AccessRule(.read, .list("id")),
        "PUT /api/lists/{id}": AccessRule(.lists, .list("id"), "list changed"),
        "DELETE /api/lists/{id}": AccessRule(.lists, .list("id"), "list removed"),
        "GET /api/events/{id}/presence": AccessRule(.read, .event("id")),
        "GET /api/events/{id}/conflicts": AccessRule(.read, .event("id")),
        "GET /api/tickets/{id}": AccessRule(.boxOffice, .ticket("id")),
        "POST /api/tickets/{id}/revoke": AccessRule(.tickets, .ticket("id"), "ticket revoked"),
        "POST /api/tickets/{id}/reissue": AccessRule(.boxOffice, .ticket("id"), "ticket re-issued"),
        "POST /api/tickets/{id}/checkin": AccessRule(.boxOffice, .ticket("id"), "ticket checked in by hand"),
        "POST /api/devices": AccessRule(.devices, .bodyEventId, "device added"),
        "POST /api/devices/{id}/revoke": AccessRule(.devices, .device("id"), "device revoked"),
        "PUT /api/devices/{id}/lane-mode": AccessRule(.devices, .device("id"), "lane mode set"),
        "GET /api/events/{id}/lanes": AccessRule(.read, .event("id")),
        "GET /api/events/{id}/stream": AccessRule(.read, .event("id")),
        "POST /api/events/{id}/webhooks": AccessRule(.webhooks, .event("id"), "webhook added"),
        "GET /api/events/{id}/webhooks": AccessRule(.webhooks, .event("id")),
        "DELETE /api/webhooks/{id}": AccessRule(.webhooks, .webhook("id"), "webhook removed"),
        "GET /api/events/{id}/devices": AccessRule(.read, .event("id")),
        "POST /api/pairings": AccessRule(.devices, .bodyEventId, "pairing made"),
        "GET /api/events/{id}/audit": AccessRule(.audit, .event("id")),
        "GET /api/audit": AccessRule(.accounts, .none),
        "GET /api/accounts": AccessRule(.accounts, .none),
        "POST /api/accounts": AccessRule(.accounts, .none, "account added"),
        "POST /api/accounts/{id}/disable": AccessRule(.accounts, .none, "account disabled"),
        "POST /api/accounts/{id}/tokens": AccessRule(.accounts, .none, "API token created"),
        "POST /api/accounts/{id}/password-link": AccessRule(.accounts, .none, "set-password link made"),
    ]

    package static let pages: [String: AccessRule] = [
        "GET /admin": AccessRule(.read, .none),
        "POST /admin/events": AccessRule(.events, .everyEvent, "event created"),
        "GET /admin/events/{id}": AccessRule(.read, .event("id")),
        "GET /admin/events/{id}/edit": AccessRule(.events, .event("id")),
        "POST /admin/events/{id}": AccessRule(.events, .event("id"), "event edited"),
        "POST /admin/events/{id}/tickets": AccessRule(.tickets, .event("id"), "tickets issued"),
        "GET /admin/events/{id}/sheets/{batch}": AccessRule(.boxOffice, .event("id")),
        "POST /admin/events/{id}/import": AccessRule(.tickets, .event("id"), "tickets imported"),
        "GET /admin/events/{id}/imports/{job}": AccessRule(.tickets, .event("id")),
        "GET /admin/events/{id}/imports/{job}/progress": AccessRule(.tickets, .event("id")),
        "GET /admin/events/{id}/tickets": AccessRule(.boxOffice, .event("id")),
        "GET /admin/events/{id}/tickets.csv": AccessRule(.tickets, .event("id")),
        "GET /admin/tickets/{id}": AccessRule(.boxOffice, .ticket("id")),
        "GET /admin/tickets/{id}/revoke": AccessRule(.tickets, .ticket("id")),
        "GET /admin/tickets/{id}/reissue": AccessRule(.boxOffice, .ticket("id")),
        "GET /admin/tickets/{id}/send": AccessRule(.boxOffice, .ticket("id")),
        "POST /admin/tickets/{id}/revoke": AccessRule(.tickets, .ticket("id"), "ticket revoked"),
        "POST /admin/tickets/{id}/send": AccessRule(.boxOffice, .ticket("id"), "ticket sent again"),
        "POST /admin/tickets/{id}/reissue": AccessRule(.boxOffice, .ticket("id"), "ticket re-issued"),
        "POST /admin/tickets/{id}/checkin": AccessRule(.boxOffice, .ticket("id"), "ticket checked in by hand"),
        "GET /admin/events/{id}/checkins": AccessRule(.read, .event("id")),
        "GET /admin/events/{id}/checkins/live": AccessRule(.read, .event("id")),
        "GET /admin/events/{id}/lists": AccessRule(.read, .event("id")),
        "GET /admin/events/{id}/lists/live": AccessRule(.read, .event("id")),
        "POST /admin/events/{id}/lists": AccessRule(.lists, .event("id"), "list created"),
        "GET /admin/lists/{id}/edit": AccessRule(.lists, .list("id")),
        "POST /admin/lists/{id}": AccessRule(.lists, .list("id"), "list changed"),
        "POST /admin/lists/{id}/delete": AccessRule(.lists, .list("id"), "list removed"),
        "GET /admin/events/{id}/gates": AccessRule(.read, .event("id")),
        "GET /admin/events/{id}/gates/live": AccessRule(.read, .event("id")),
        "GET /admin/devices/{id}": AccessRule(.read, .device("id")),
        "GET /admin/events/{id}/registration": AccessRule(.registration, .event("id")),
        "POST /admin/events/{id}/registration": AccessRule(.registration, .event("id"), "registration changed"),
        "POST /admin/events/{id}/mails/retry": AccessRule(.registration, .event("id"), "mails retried"),
        "GET /admin/events/{id}/devices": AccessRule(.devices, .event("id")),
        "POST /admin/events/{id}/pairings": AccessRule(.devices, .event("id"), "pairing made"),
        "GET /admin/events/{id}/pairings/{handle}": AccessRule(.devices, .event("id")),
        "GET /admin/devices/{id}/revoke": AccessRule(.devices, .device("id")),
        "POST /admin/devices/{id}/revoke": AccessRule(.devices, .device("id"), "device revoked"),
        "POST /admin/events/{id}/devices/{device}/lane-mode": AccessRule(.devices, .event("id"), "lane mode set"),
        "GET /admin/events/{id}/audit": AccessRule(.audit, .event("id")),
        "GET /admin/audit": AccessRule(.accounts, .none),
        // Everyone's own password: every role may scan, so every role may open it.
        "GET /admin/account/password": AccessRule(.scan, .none),
        "POST /admin/account/password": AccessRule(.scan, .none, "password changed"),
        "GET /admin/**": AccessRule(.read, .none),
    ]
}

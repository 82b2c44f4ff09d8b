import Foundation
import GatehouseAPI
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// The audit trail's pages: an event's (`/admin/events/{id}/audit`, organizers of the event) and
/// everything (`/admin/audit`, owners). Read only: no route of any kind changes the trail.
extension OrganizerSite {
    package func addAuditPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("events/:id/audit") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                let entries = try await authenticator.accounts.audit(eventId: event.id, before: Self.before(request), limit: Self.auditPage)
                return .page(
                    auditPage(title: "Audit trail", tabs: EventTabs(event, current: "audit"), entries, base: "/admin/events/\(event.id)/audit")
                )
            }
        }
        router.get("audit") { request, context in
            await handle(request, context) {
                let entries = try await authenticator.accounts.audit(eventId: nil, before: Self.before(request), limit: Self.auditPage)
                return .page(auditPage(title: "Audit trail of every event", tabs: nil, entries, base: "/admin/audit"))
            }
        }
    }

    static let auditPage = 200

    static func before(_ request: Request) throws -> Int64? {
        guard let text = query(request, "before") else { return nil }
        guard let id = Int64(text), id > 0 else { throw InvalidInputError("before must be an audit entry's number") }
        return id
    }

    func auditPage(title: String, tabs: EventTabs?, _ entries: [AuditEntry], base: String) -> WebPage {
        struct Row: Sendable {
            var when: TimeText
            var actor: String
            var action: String
            var detail: String?
            var subject: String?
            var address: String?
        }
        struct Model: Sendable {
            var tabs: EventTabs?
            var entries: [Row]
            var hasEntries: Bool
            var older: String?
        }
        let rows = entries.map {
            Row(when: clock.display($0.at), actor: $0.actor, action: $0.action, detail: $0.detail, subject: $0.subject, address: $0.address)
        }
        let older = entries.count == Self.auditPage ? entries.last.map { "\(base)?before=\($0.id)" } : nil
        return WebPage(
            title: title,
            template: "audit",
            data: Model(tabs: tabs, entries: rows, hasEntries: !rows.isEmpty, older: older),
            section: .events
        )
    }
}

import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Logging
import ServiceLifecycle

/// Posts each webhook's new rows of its event's check-in log (check-ins and conflicts), and its
/// devices' changed states, to its URL, signed (`WebhookSignature`).
///
/// The queue is the log: a webhook keeps its place in the event's stream, a delivery sends up to
/// `batchSize` rows after it, and only a 2xx answer moves the place on — so a receiver that is
/// down, slow or answering errors gets every row once it answers again, in commit order. A
/// receiver that took a delivery whose answer was lost gets it again: each event's `id` (its
/// place in the log) lets it drop the repeat. Retries back off 1, 2, 4, 8, 16, then every 30 s,
/// for as long as the webhook exists. A lease keeps two service processes from posting for one
/// webhook at once.
public struct WebhookDelivery: Service {
    let gatehouse: Gatehouse
    let poster: any WebhookPosting
    let logger: Logger
    var interval: Duration
    var batchSize: Int
    /// Webhooks posted to at once, each on a thread of its own.
    var concurrency: Int

    /// Longer than a post may take (`CurlWebhookPoster`'s 10 s limit), so a lease never runs out
    /// under a post still on the wire.
    public static let lease: TimeInterval = 60

    public init(
        gatehouse: Gatehouse,
        poster: any WebhookPosting = CurlWebhookPoster(),
        interval: Duration = .seconds(1),
        batchSize: Int = 200,
        concurrency: Int = 8,
        logger: Logger
    ) {
        self.gatehouse = gatehouse
        self.poster = poster
        self.interval = interval
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.logger = logger
    }

    /// A webhook with nothing to send is looked at again after one interval.
    var idleWait: TimeInterval { Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18 }

    /// Seconds to wait after the `failures`-th failure in a row.
    public static func backoff(failures: Int) -> TimeInterval {
        min(30, pow(2, Double(max(0, failures - 1))))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let claimed = await round()
                // A full round may have left more due: go again at once.
                if claimed < concurrency { try? await Task.sleep(for: interval) }
            }
        }
    }

    /// One claim and its posts; returns how many webhooks it claimed.
    func round() async -> Int {
        let now = gatehouse.now()
        let claimed: [ClaimedWebhook]
        do {
            claimed = try await gatehouse.store.claimWebhooks(at: now, leaseUntil: now.addingTimeInterval(Self.lease), limit: concurrency)
        } catch {
            logger.warning("Cannot read the webhooks", metadata: ["error": "\(error)"])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for webhook in claimed { group.addTask { await deliver(webhook) } }
        }
        return claimed.count
    }

    /// One delivery for a claimed webhook, settled whatever happens (else its lease holds it).
    func deliver(_ claim: ClaimedWebhook) async {
        let webhook = claim.webhook
        var metadata: Logger.Metadata = ["webhook.id": "\(webhook.id)", "event.id": "\(webhook.eventId)"]
        // The host only: a receiver's path may hold a token of its own.
        metadata["webhook.host"] = "\(URLComponents(string: webhook.url)?.host ?? "?")"
        let settlement: WebhookSettlement
        do {
            let rows = try await gatehouse.checkinStream(eventId: webhook.eventId, after: claim.cursor, limit: batchSize)
            var sent = (try? JSONDecoder().decode([String: String].self, from: Data(claim.deviceStates.utf8))) ?? [:]
            var events = rows.map(WebhookPayload.Event.init)
            for device in try await gatehouse.fleet(eventId: webhook.eventId) {
                let state = DeviceStateMessage(device)
                if sent[state.deviceId] != state.key {
                    sent[state.deviceId] = state.key
                    events.append(WebhookPayload.Event(device: state))
                }
            }
            let states = String(decoding: try JSONEncoder().encode(sent), as: UTF8.self)
            let cursor = rows.last?.position ?? claim.cursor
            if events.isEmpty {
                settlement = .delivered(cursor: cursor, deviceStates: states, at: nil, next: gatehouse.now().addingTimeInterval(idleWait))
            } else {
                let body = Array(try APIJSON.encoder.encode(WebhookPayload(webhookId: webhook.id, eventId: webhook.eventId, events: events)))
                let headers = [
                    "Content-Type: application/json",
                    "User-Agent: gatehouse/\(ProductVersion.current)",
                    "Gatehouse-Webhook: \(webhook.id)",
                    "\(WebhookSignature.header): \(WebhookSignature.value(body: body, secret: claim.secret, at: gatehouse.now()))",
                ]
                let poster = poster
                let url = webhook.url
                // libcurl blocks: off the cooperative pool.
                let outcome = await withCheckedContinuation { continuation in
                    Thread.detachNewThread { continuation.resume(returning: poster.post(url: url, body: body, headers: headers)) }
                }
                let now = gatehouse.now()
                metadata["webhook.events"] = "\(events.count)"
                switch outcome {
                case .status(let code) where outcome.taken:
                    // A full batch may have left more: due again at once.
                    settlement = .delivered(cursor: cursor, deviceStates: states, at: now, next: now)
                    metadata["http.status"] = "\(code)"
                    logger.debug("Webhook delivered", metadata: metadata)
                case .status(let code):
                    settlement = Self.failure("the receiver answered HTTP \(code)", failures: webhook.failures + 1, now: now)
                    metadata["http.status"] = "\(code)"
                    logger.notice("Webhook not taken; it is sent again", metadata: metadata)
                case .unreachable(let why):
                    settlement = Self.failure(why, failures: webhook.failures + 1, now: now)
                    metadata["error"] = "\(why)"
                    logger.notice("Webhook receiver not reached; it is sent again", metadata: metadata)
                }
            }
        } catch {
            settlement = Self.failure("the service could not read what to send: \(error)", failures: webhook.failures + 1, now: gatehouse.now())
            metadata["error"] = "\(error)"
            logger.warning("Webhook delivery not made", metadata: metadata)
        }
        do {
            try await gatehouse.store.settleWebhook(id: webhook.id, settlement)
        } catch {
            // The lease runs out and another round tries again.
            metadata["error"] = "\(error)"
            logger.warning("Cannot record a webhook delivery", metadata: metadata)
        }
    }

    static func failure(_ error: String, failures: Int, now: Date) -> WebhookSettlement {
        .failed(error: String(error.prefix(300)), next: now.addingTimeInterval(backoff(failures: failures)))
    }
}

/// The body of a delivery: `{webhookId, eventId, events: [{id?, type, checkin? | device?}]}`.
/// A check-in or conflict's `id` is its place in the event's log, as in the event stream; the
/// rows are JSON as the API writes them.
struct WebhookPayload: Encodable {
    var webhookId: String
    var eventId: String
    var events: [Event]

    struct Event: Encodable {
        var id: String?
        var type: String
        var checkin: CheckinLogEntry?
        var device: DeviceStateMessage?

        init(_ row: StreamedCheckin) {
            id = row.position.description
            type = row.entry.conflict == nil ? "checkin" : "conflict"
            checkin = row.entry
        }

        init(device: DeviceStateMessage) {
            type = "device"
            self.device = device
        }
    }
}

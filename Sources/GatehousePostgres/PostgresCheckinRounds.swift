import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import NIOCore
import PostgresNIO

/// A batch of scans decided in Swift, by `GateDecision` as on every store. First entries go in
/// one round trip (`FirstEntries`: decided for a ticket as it is before its first entry, stored
/// where the row is so). The rest go in rounds of two round trips: one read finds each scan's
/// device, an earlier decision of its scanId and its ticket; `gatehouse_store_checkins` then
/// stores the decisions in one statement (one transaction), each ticket only if it is still as
/// read. A ticket another process changed in between is read and decided again in the next
/// round, with the scans that were behind it.
enum PostgresCheckinRounds {
    /// SQLSTATE classes that blame the statement's data or logic rather than the server: data
    /// exceptions (22), integrity (23), invalid text representation and the like. Connection (08),
    /// resources (53), operator intervention (57) and transaction rollbacks (40) are not.
    static func isDataError(_ state: String) -> Bool {
        ["22", "23", "42", "P0", "XX"].contains(String(state.prefix(2))) && state != "42501"
    }

    /// Rounds before a scan whose ticket keeps changing under it is answered "unavailable".
    static let maximumRounds = 6

    static func decide(
        _ attempts: [CheckinAttempt],
        client: PostgresClient,
        limit: Duration,
        logger: Logger
    ) async -> [Result<CheckinOutcome, any Error>] {
        var outcomes = [Result<CheckinOutcome, any Error>?](repeating: nil, count: attempts.count)
        var open = Array(attempts.indices)
        var failure: any Error = StoreError.unavailable("the ticket kept changing while it was decided; scan again")
        let firstEntries = FirstEntries(attempts)
        if !firstEntries.positions.isEmpty {
            do {
                let admitted = try await PostgresStore.within(limit) {
                    try await firstEntries.admit(client: client, logger: logger)
                }
                for (position, outcome) in admitted { outcomes[position] = .success(outcome) }
                open = open.filter { outcomes[$0] == nil }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] != nil {
                // The server refused the call and stored nothing: the rounds below decide each
                // scan as its ticket is, and name what fails.
                logger.notice("First entries decided in rounds", metadata: ["db.sqlstate": "\(error.serverInfo?[.sqlState] ?? "")"])
            } catch let error as StoreError {
                return attempts.map { _ in .failure(error) }
            } catch let error as PSQLError {
                return attempts.map { _ in .failure(StoreError.unavailable("PostgreSQL connection: \(error.code)")) }
            } catch {
                return attempts.map { _ in .failure(StoreError.unavailable("PostgreSQL: \(error)")) }
            }
        }
        for round in 1...maximumRounds where !open.isEmpty {
            let batch = open.map { attempts[$0] }
            do {
                // Bounded: with PostgreSQL away the pool would wait for a connection indefinitely.
                let decided = try await PostgresStore.within(limit) {
                    try await decideOnce(batch, client: client, logger: logger)
                }
                for (position, outcome) in decided { outcomes[open[position]] = .success(outcome) }
                open = open.indices.filter { decided[$0] == nil }.map { open[$0] }
            } catch let error as PSQLError where ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "") && round < maximumRounds {
                // The store statement was rolled back whole: nothing of this round was decided.
                logger.notice(
                    "Check-in batch retried",
                    metadata: ["db.sqlstate": "\(error.serverInfo?[.sqlState] ?? "")", "batch.size": "\(batch.count)"]
                )
            } catch let error as PSQLError {
                let state = error.serverInfo?[.sqlState]
                // The server refused this batch's data, not the connection (say a value it cannot
                // store): that is one scan's fault. Decide each scan on its own, so only the one
                // that caused it fails and every other gate gets its real answer.
                if let state, isDataError(state), batch.count > 1 {
                    logger.warning(
                        "Check-in batch refused; deciding its scans one by one",
                        metadata: ["db.sqlstate": "\(state)", "batch.size": "\(batch.count)"]
                    )
                    for index in open { outcomes[index] = await decide([attempts[index]], client: client, limit: limit, logger: logger).first }
                    open = []
                } else if let state, isDataError(state) {
                    failure = StoreError.invalid("the database refused this scan's data (SQLSTATE \(state))")
                    break
                } else {
                    failure = StoreError.unavailable(state.map { "PostgreSQL error \($0)" } ?? "PostgreSQL connection: \(error.code)")
                    break
                }
            } catch let error as StoreError {
                failure = error
                break
            } catch {
                failure = StoreError.unavailable("PostgreSQL: \(error)")
                break
            }
        }
        return outcomes.map { $0 ?? .failure(failure) }
    }

    /// One round: the outcomes of the scans it decided, by position in `attempts`; a scan whose
    /// ticket changed since the read is missing.
    private static func decideOnce(_ attempts: [CheckinAttempt], client: PostgresClient, logger: Logger) async throws -> [Int: CheckinOutcome] {
        var found = [ReadRow?](repeating: nil, count: attempts.count)
        for try await row in try await client.execute(ReadScans(attempts: attempts), logger: logger) {
            if found.indices.contains(row.position) { found[row.position] = row }
        }
        let planned = plan(attempts, found: found)
        var outcomes = planned.outcomes
        if !planned.store.idx.isEmpty {
            for try await (position, stored) in try await client.execute(planned.store, logger: logger) where !stored {
                outcomes[position] = nil
            }
        }
        if !planned.onLists.isEmpty, let decided = try await decideOnLists(planned.onLists, of: attempts, client: client, logger: logger) {
            outcomes.merge(decided) { _, onList in onList }
        }
        return outcomes
    }

    /// A batch's decisions from its read, before anything is stored.
    struct Planned {
        /// Every scan decided so far, by position; those in `store` hold only once it stored them.
        var outcomes: [Int: CheckinOutcome] = [:]
        var store = StoreScans()
        /// Scans at a list's gate, which take turns at the list (`decideOnLists`).
        var onLists: [(position: Int, device: DeviceOnDuty, list: String)] = []
    }

    /// Decides the scans of a batch from what the read found: a position whose read is missing
    /// stays undecided.
    static func plan(_ attempts: [CheckinAttempt], found: [ReadRow?]) -> Planned {
        var outcomes: [Int: CheckinOutcome] = [:]
        var plan = StoreScans()
        var onLists: [(position: Int, device: DeviceOnDuty, list: String)] = []
        // Tickets as this batch's earlier scans leave them, so a ticket scanned twice in one batch
        // is decided the second time as the first decision left it.
        var current: [String: Ticket] = [:]
        for position in lockOrder(attempts) {
            let attempt = attempts[position]
            guard let read = found[position] else { continue }
            let device: DeviceOnDuty
            switch DeviceOnDuty.judge(found: read.device, deviceId: attempt.deviceId, gateId: attempt.gateId) {
            case .failure(let refusal):
                outcomes[position] = refusal.checkinOutcome
                continue
            case .success(let onDuty): device = onDuty
            }
            if let earlier = read.earlier {
                outcomes[position] = earlier.payload == attempt.payloadHash ? .decided(earlier.decision) : .scanIdReused
                continue
            }
            if let list = read.list {
                onLists.append((position, device, list))
                continue
            }
            let ticket = read.ticket.map { current[$0.id] ?? $0 }
            let decided = StoredDecision(attempt, ticket: ticket, deviceEvent: device.event)
            if let write = decided.write { current[write.id] = write }
            plan.append(position: position, attempt: attempt, device: device, decided: decided, was: ticket)
            outcomes[position] = .decided(decided.decision)
        }
        return Planned(outcomes: outcomes, store: plan, onLists: onLists)
    }

    /// The scans of a batch at lists' gates, decided together in one transaction: the lists' rows
    /// locked first, in id order (each list's count holds, and its scans take turns across
    /// processes), then the tickets in token order and their passes; each scan decided in the
    /// order it came, on its list, ticket and pass as the scans before it left them. What they
    /// leave is then written set-wise: the passes, the tickets and log rows (by
    /// `gatehouse_store_checkins`, as for scans at other gates), each list's count. Nil when
    /// another process logged one of these scanIds meanwhile or a row was not as locked: nothing
    /// is stored, and the next round's read answers that scan as the other process did and
    /// decides the rest again.
    ///
    /// A fixed number of round trips however many scans: a rush at one list's gates is one batch
    /// whose scans all wait on that list's row, and on a loaded machine a round trip per scan and
    /// write took such a batch past the store's deadline.
    static func decideOnLists(
        _ scans: [(position: Int, device: DeviceOnDuty, list: String)],
        of attempts: [CheckinAttempt],
        client: PostgresClient,
        logger: Logger
    ) async throws -> [Int: CheckinOutcome]? {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                let lockedLists = try await lockLists(Set(scans.map(\.list)).sorted(), on: connection, logger: logger)
                var tickets = try await lockTickets(
                    Set(scans.compactMap { attempts[$0.position].code?.tokenHash }).sorted { $0.lexicographicallyPrecedes($1) },
                    on: connection,
                    logger: logger
                )
                let wanted = scans.compactMap { scan -> PassKey? in
                    guard lockedLists[scan.list] != nil, let hash = attempts[scan.position].code?.tokenHash, let ticket = tickets[hash] else {
                        return nil
                    }
                    return PassKey(list: scan.list, ticket: ticket.id)
                }
                let lockedPasses = try await lockPasses(Set(wanted).sorted(), on: connection, logger: logger)
                var lists = lockedLists
                var passes = lockedPasses
                var store = StoreScans()
                var outcomes: [Int: CheckinOutcome] = [:]
                for scan in scans.sorted(by: { $0.position < $1.position }) {
                    let attempt = attempts[scan.position]
                    let ticket = attempt.code.flatMap { tickets[$0.tokenHash] }
                    let key = ticket.map { PassKey(list: scan.list, ticket: $0.id) }
                    let decided = StoredDecision(
                        attempt,
                        ticket: ticket,
                        deviceEvent: scan.device.event,
                        list: lists[scan.list],
                        pass: key.flatMap { passes[$0] }
                    )
                    if let stored = decided.pass, let key {
                        passes[key] = stored
                        lists[stored.listId]?.inside += decided.insideChange
                    }
                    if let write = decided.write, let code = attempt.code { tickets[code.tokenHash] = write }
                    store.append(position: scan.position, attempt: attempt, device: scan.device, decided: decided, was: ticket)
                    outcomes[scan.position] = .decided(decided.decision)
                }
                try await storePasses(passes, locked: lockedPasses, on: connection, logger: logger)
                for try await (_, stored) in try await connection.execute(store, logger: logger) where !stored {
                    throw RowNotAsLocked()
                }
                try await countInside(lists, locked: lockedLists, on: connection, logger: logger)
                return outcomes
            }
        } catch let error as PostgresTransactionError {
            if error.closureError is RowNotAsLocked { return nil }
            if let inner = error.closureError as? PSQLError, inner.serverInfo?[.sqlState] == "23505" { return nil }
            if let inner = error.closureError { throw inner }
            throw error
        }
    }

    /// A ticket locked for a batch changed before the batch stored it: only a writer that does
    /// not lock would do that, and the batch is decided again rather than stored over it.
    private struct RowNotAsLocked: Error {}

    /// The passes a batch changed, as it left them: those it found updated, the new ones added.
    private static func storePasses(
        _ passes: [PassKey: ListPass],
        locked: [PassKey: ListPass],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let changed = passes.filter { locked[$0.key] != $0.value }.sorted { $0.key < $1.key }
        let updated = changed.filter { locked[$0.key] != nil }.map(\.value)
        let added = changed.filter { locked[$0.key] == nil }.map(\.value)
        if !updated.isEmpty {
            _ = try await connection.query(
                """
                UPDATE list_passes p SET inside = w.inside, last_entry_day = NULLIF(w.day, -1)
                FROM unnest(\(updated.map(\.listId))::text[], \(updated.map(\.ticketId))::text[],
                            \(updated.map { Int64($0.inside ? 1 : 0) })::bigint[], \(updated.map { Int64($0.lastEntryDay ?? -1) })::bigint[])
                     AS w(list_id, ticket_id, inside, day)
                WHERE p.list_id = w.list_id AND p.ticket_id = w.ticket_id
                """,
                logger: logger
            ).collect()
        }
        if !added.isEmpty {
            _ = try await connection.query(
                """
                INSERT INTO list_passes (list_id, ticket_id, used_at, used_gate, inside, last_entry_day)
                SELECT list_id, ticket_id, used_at, used_gate, inside, NULLIF(day, -1)
                FROM unnest(\(added.map(\.listId))::text[], \(added.map(\.ticketId))::text[], \(added.map(\.usedAt))::bigint[],
                            \(added.map(\.usedGate))::text[], \(added.map { Int64($0.inside ? 1 : 0) })::bigint[],
                            \(added.map { Int64($0.lastEntryDay ?? -1) })::bigint[])
                     AS w(list_id, ticket_id, used_at, used_gate, inside, day)
                """,
                logger: logger
            ).collect()
        }
    }

    /// Adds to each list's count what the batch changed it by, in id order (the order they were
    /// locked in).
    private static func countInside(
        _ lists: [String: GateList],
        locked: [String: GateList],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let changes = lists.compactMap { id, list -> (id: String, change: Int64)? in
            let change = list.inside - (locked[id]?.inside ?? list.inside)
            return change == 0 ? nil : (id, Int64(change))
        }.sorted { $0.id < $1.id }
        guard !changes.isEmpty else { return }
        _ = try await connection.query(
            """
            UPDATE checkin_lists l SET inside = l.inside + w.change
            FROM unnest(\(changes.map(\.id))::text[], \(changes.map(\.change))::bigint[]) AS w(id, change)
            WHERE l.id = w.id
            """,
            logger: logger
        ).collect()
    }

    /// A ticket's pass of a list.
    struct PassKey: Hashable, Comparable {
        var list: String
        var ticket: String

        static func < (left: PassKey, right: PassKey) -> Bool { (left.list, left.ticket) < (right.list, right.ticket) }
    }

    /// The lists of these ids that still exist, locked in id order.
    private static func lockLists(_ ids: [String], on connection: PostgresConnection, logger: Logger) async throws -> [String: GateList] {
        var lists: [String: GateList] = [:]
        for try await row in try await connection.query(
            """
            SELECT id, ticket_types, entry, capacity, opens_at, closes_at, inside FROM checkin_lists
            WHERE id = ANY(\(ids)) ORDER BY id FOR UPDATE
            """,
            logger: logger
        ) {
            let list = ListStatements.gateList(PostgresCells(row: row.makeRandomAccess()))
            lists[list.id] = list
        }
        return lists
    }

    /// The tickets these token hashes name, locked in token order, by token hash.
    private static func lockTickets(_ hashes: [[UInt8]], on connection: PostgresConnection, logger: Logger) async throws -> [[UInt8]: Ticket] {
        var tickets: [[UInt8]: Ticket] = [:]
        guard !hashes.isEmpty else { return tickets }
        for try await row in try await connection.query(
            """
            SELECT \(unescaped: StoreRecords.ticketColumnList), token_hash FROM tickets
            WHERE token_hash = ANY(\(hashes.map { ByteBuffer(bytes: $0) })) ORDER BY token_hash FOR UPDATE
            """,
            logger: logger
        ) {
            let cells = PostgresCells(row: row.makeRandomAccess())
            tickets[cells.bytes(14)] = StoreRecords.ticket(cells)
        }
        return tickets
    }

    /// The passes of these (list, ticket) pairs that exist, locked in the order given. One
    /// index probe per pair (a LATERAL subquery): as a join, a table PostgreSQL has not analyzed
    /// yet could be read whole.
    private static func lockPasses(_ keys: [PassKey], on connection: PostgresConnection, logger: Logger) async throws -> [PassKey: ListPass] {
        var passes: [PassKey: ListPass] = [:]
        guard !keys.isEmpty else { return passes }
        for try await row in try await connection.query(
            """
            SELECT w.list_id, w.ticket_id, p.used_at, p.used_gate, p.inside, p.last_entry_day
            FROM unnest(\(keys.map(\.list))::text[], \(keys.map(\.ticket))::text[]) WITH ORDINALITY AS w(list_id, ticket_id, n)
            CROSS JOIN LATERAL (
                SELECT used_at, used_gate, inside, last_entry_day FROM list_passes
                WHERE list_id = w.list_id AND ticket_id = w.ticket_id FOR UPDATE
            ) p
            ORDER BY w.n
            """,
            logger: logger
        ) {
            let cells = PostgresCells(row: row.makeRandomAccess())
            let key = PassKey(list: cells.text(0), ticket: cells.text(1))
            passes[key] = ListStatements.pass(cells, list: key.list, ticket: key.ticket, from: 2)
        }
        return passes
    }

    /// Positions in the order of their tokens (the store statement's lock order); scans without
    /// a code, which lock nothing, first.
    static func lockOrder(_ attempts: [CheckinAttempt]) -> [Int] {
        attempts.indices.sorted { a, b in
            let left = attempts[a].code?.tokenHash ?? []
            let right = attempts[b].code?.tokenHash ?? []
            return left == right ? a < b : left.lexicographicallyPrecedes(right)
        }
    }

    /// What the read found for one scan.
    struct ReadRow {
        var position: Int
        var device: (id: String, gate: String, event: String, revoked: Bool)?
        var earlier: (decision: CheckinDecision, payload: [UInt8])?
        var ticket: Ticket?
        /// The check-in list of the device's gate.
        var list: String?
    }

    /// Each scan's device, the decision of its scanId when this device made that scan before,
    /// with the ticket then decided, the ticket its code's token names and the gate's list
    /// (`gatehouse_read_scans`, one index probe per lookup).
    struct ReadScans: PostgresPreparedStatement {
        static let sql = "SELECT * FROM gatehouse_read_scans($1, $2, $3)"
        typealias Row = ReadRow

        var attempts: [CheckinAttempt]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            append(to: &bindings)
            return bindings
        }

        func append(to bindings: inout PostgresBindings) {
            bindings.append(attempts.map { ByteBuffer(bytes: $0.deviceTokenHash) })
            // Only a committing scan is a retry to replay.
            bindings.append(attempts.map { $0.mode == .commit ? $0.scanId ?? "" : "" })
            bindings.append(attempts.map { ByteBuffer(bytes: $0.code?.tokenHash ?? []) })
        }

        func decodeRow(_ row: PostgresRow) throws -> ReadRow {
            Self.readRow(PostgresCells(row: row.makeRandomAccess()))
        }

        /// A row of `PostgresSchema.readColumns`, from `cells`' first column on.
        static func readRow(_ cells: PostgresCells) -> ReadRow {
            let earlier: (CheckinDecision, [UInt8])? =
                cells.isNull(5)
                ? nil
                : (
                    CheckinDecision(
                        result: CheckinResult(rawValue: cells.text(5)) ?? .invalid,
                        ticket: cells.isNull(7)
                            ? nil
                            : TicketSummary(
                                id: cells.text(7),
                                number: Int(cells.int(8)),
                                holderName: cells.optionalText(9),
                                ticketType: cells.optionalText(10)
                            ),
                        firstUsedAt: cells.optionalInt(11).map(Date.init(millis:)),
                        firstUsedGate: cells.optionalText(12),
                        replayed: true
                    ),
                    cells.bytes(6)
                )
            return ReadRow(
                position: Int(cells.int(0)) - 1,
                device: cells.isNull(1) ? nil : (id: cells.text(1), gate: cells.text(2), event: cells.text(3), revoked: cells.int(4) != 0),
                earlier: earlier.map { (decision: $0.0, payload: $0.1) },
                ticket: cells.isNull(13) ? nil : StoreRecords.ticket(cells, from: 13),
                list: cells.optionalText(27)
            )
        }
    }

    /// The decisions of one round as column arrays, in lock order.
    struct StoreScans: PostgresPreparedStatement {
        static let sql = "SELECT * FROM gatehouse_store_checkins(\((1...22).map { "$\($0)" }.joined(separator: ", ")))"
        typealias Row = (Int, Bool)

        var idx: [Int32] = []
        var tickets: [String] = []
        var tokens: [ByteBuffer] = []
        var wasStatus: [String] = []
        var wasUsedAt: [Int64] = []
        var wasExpiresAt: [Int64] = []
        var wasInside: [Bool] = []
        var status: [String] = []
        var usedAt: [Int64] = []
        var usedGate: [String] = []
        var usedDevice: [String] = []
        var inside: [Bool] = []
        var ats: [Int64] = []
        var events: [String] = []
        var logTickets: [String] = []
        var gates: [String] = []
        var devices: [String] = []
        var results: [String] = []
        var modes: [String] = []
        var scans: [String] = []
        var payloads: [ByteBuffer] = []
        var undos: [String] = []

        /// `was`: the ticket as the decision saw it, which the store compares the row with.
        mutating func append(position: Int, attempt: CheckinAttempt, device: DeviceOnDuty, decided: StoredDecision, was: Ticket?) {
            idx.append(Int32(position))
            let write = decided.write
            tickets.append(write?.id ?? "")
            tokens.append(ByteBuffer(bytes: attempt.code?.tokenHash ?? []))
            wasStatus.append(was?.status.rawValue ?? "")
            wasUsedAt.append(was?.usedAt?.millis ?? -1)
            wasExpiresAt.append(was?.expiresAt?.millis ?? -1)
            wasInside.append(was?.inside ?? false)
            status.append(write?.status.rawValue ?? "")
            usedAt.append(write?.usedAt?.millis ?? -1)
            usedGate.append(write?.usedGate ?? "")
            usedDevice.append(write?.usedDevice ?? "")
            inside.append(write?.inside ?? false)
            ats.append(attempt.at.millis)
            events.append(device.event)
            logTickets.append(decided.decision.ticket?.id ?? "")
            gates.append(attempt.gateId)
            devices.append(device.id)
            results.append(decided.decision.result.rawValue)
            modes.append(attempt.mode.rawValue)
            scans.append(attempt.mode == .commit ? attempt.scanId ?? "" : "")
            payloads.append(ByteBuffer(bytes: attempt.payloadHash))
            undos.append(decided.undo?.json ?? "")
        }

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 22)
            append(to: &bindings)
            return bindings
        }

        func append(to bindings: inout PostgresBindings) {
            bindings.append(idx)
            bindings.append(tickets)
            bindings.append(tokens)
            bindings.append(wasStatus)
            bindings.append(wasUsedAt)
            bindings.append(wasExpiresAt)
            bindings.append(wasInside)
            bindings.append(status)
            bindings.append(usedAt)
            bindings.append(usedGate)
            bindings.append(usedDevice)
            bindings.append(inside)
            bindings.append(ats)
            bindings.append(events)
            bindings.append(logTickets)
            bindings.append(gates)
            bindings.append(devices)
            bindings.append(results)
            bindings.append(modes)
            bindings.append(scans)
            bindings.append(payloads)
            bindings.append(undos)
        }

        func decodeRow(_ row: PostgresRow) throws -> (Int, Bool) {
            let (position, stored) = try row.decode((Int32, Bool).self)
            return (Int(position), stored)
        }
    }
}

/// A PostgreSQL row read like every store's, for the records the stores share; column 0 is the
/// row's column `offset`.
struct PostgresCells: StoreRow {
    let row: PostgresRandomAccessRow
    var offset = 0

    func isNull(_ column: Int32) -> Bool { row[offset + Int(column)].bytes == nil }
    func int(_ column: Int32) -> Int64 {
        if let number = try? row[offset + Int(column)].decode(Int64.self) { return number }
        return (try? row[offset + Int(column)].decode(Bool.self)) == true ? 1 : 0
    }
    func text(_ column: Int32) -> String { (try? row[offset + Int(column)].decode(String.self)) ?? "" }
    func bytes(_ column: Int32) -> [UInt8] {
        (try? row[offset + Int(column)].decode(ByteBuffer.self)).map { Array($0.readableBytesView) } ?? []
    }
}

/// Scans decided for the ticket as it is before its first entry, and stored in one round trip
/// where the row is so (`gatehouse_admit_unused`): a committing entry at a gate in no list of a
/// code's own event, which `GateDecision` admits when the ticket is unused, not inside and not
/// expired. The scans the row turns out otherwise for are left to the rounds, which read first.
struct FirstEntries: PostgresPreparedStatement {
    static let sql = "SELECT * FROM gatehouse_admit_unused(\((1...16).map { "$\($0)" }.joined(separator: ", ")))"
    typealias Row = (position: Int, ticket: (id: String, number: Int, holderName: String?, ticketType: String?)?)

    let attempts: [CheckinAttempt]
    /// The positions in `attempts` this call decides, and their decisions.
    private(set) var positions: [Int] = []
    private var decisions: [StoredDecision] = []

    init(_ attempts: [CheckinAttempt]) {
        self.attempts = attempts
        for (position, attempt) in attempts.enumerated() {
            guard attempt.mode == .commit, let code = attempt.code else { continue }
            let decided = StoredDecision(attempt, ticket: Self.beforeFirstEntry(eventId: code.eventId), deviceEvent: code.eventId)
            guard decided.decision.result == .valid, decided.write != nil else { continue }
            positions.append(position)
            decisions.append(decided)
        }
    }

    /// A ticket of `eventId` as it is before anyone used it; the call finds out who it is.
    static func beforeFirstEntry(eventId: String) -> Ticket {
        Ticket(id: "", eventId: eventId, number: 0, status: .unused, createdAt: Date(timeIntervalSince1970: 0))
    }

    /// The outcomes of the scans it stored, by position in `attempts`.
    func admit(client: PostgresClient, logger: Logger) async throws -> [Int: CheckinOutcome] {
        let decided = Dictionary(uniqueKeysWithValues: zip(positions, decisions))
        var admitted: [Int: CheckinOutcome] = [:]
        for try await (position, ticket) in try await client.execute(self, logger: logger) {
            guard let ticket, var decision = decided[position]?.decision else { continue }
            // The decision as made, naming the ticket the row turned out to be.
            decision.ticket = TicketSummary(id: ticket.id, number: ticket.number, holderName: ticket.holderName, ticketType: ticket.ticketType)
            admitted[position] = .decided(decision)
        }
        return admitted
    }

    func makeBindings() throws -> PostgresBindings {
        let scans = positions.map { attempts[$0] }
        let writes = decisions.map { $0.write! }
        var bindings = PostgresBindings(capacity: 16)
        bindings.append(positions.map(Int32.init))
        bindings.append(scans.map { ByteBuffer(bytes: $0.deviceTokenHash) })
        bindings.append(scans.map(\.deviceId))
        bindings.append(scans.map(\.gateId))
        bindings.append(scans.map { $0.code?.eventId ?? "" })
        bindings.append(scans.map { ByteBuffer(bytes: $0.code?.tokenHash ?? []) })
        bindings.append(scans.map { $0.at.millis })
        bindings.append(scans.map { $0.scanId ?? "" })
        bindings.append(scans.map { ByteBuffer(bytes: $0.payloadHash) })
        bindings.append(writes.map(\.status.rawValue))
        bindings.append(writes.map { $0.usedAt?.millis ?? 0 })
        bindings.append(writes.map { $0.usedGate ?? "" })
        bindings.append(writes.map { $0.usedDevice ?? "" })
        bindings.append(writes.map(\.inside))
        bindings.append(decisions.map(\.decision.result.rawValue))
        bindings.append(decisions.map { $0.undo?.json ?? "" })
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let cells = PostgresCells(row: row.makeRandomAccess())
        let ticket =
            cells.isNull(1)
            ? nil : (id: cells.text(1), number: Int(cells.int(2)), holderName: cells.optionalText(3), ticketType: cells.optionalText(4))
        return (Int(cells.int(0)), ticket)
    }
}

import Foundation
import GatehouseTestSupport
import Testing

/// Every route and every refusal of the API, through the router in-process, on each store.
@Suite struct APIRouteTests {
    @Test(arguments: StoreKind.available)
    func events_tickets_and_devices(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let created = try await admin.call(
                "POST",
                "/api/events",
                ["name": "Winter Gala", "startsAt": "2026-12-31T20:00:00Z", "endsAt": "2027-01-01T04:00:00.500Z"],
                expect: 201
            )
            let event = created["id"] as! String
            #expect(created["startsAt"] as? String == "2026-12-31T20:00:00.000Z")
            let tickets =
                try await admin.call(
                    "POST",
                    "/api/events/\(event)/tickets",
                    ["quantity": 3, "ticketType": "Standing", "holderName": "Ada"],
                    expect: 201
                )[
                    "tickets"
                ] as! [[String: Any]]
            #expect(tickets.count == 3)
            #expect(tickets.map { $0["number"] as! Int } == [1, 2, 3])
            for ticket in tickets {
                #expect((ticket["qrData"] as! String).hasPrefix("GH:\(event):"))
                #expect(ticket["status"] as? String == "unused")
                #expect(ticket["eventId"] as? String == event)
            }
            let ticketId = tickets[0]["id"] as! String
            let shown = try await admin.call("GET", "/api/tickets/\(ticketId)", expect: 200)
            #expect(shown["holderName"] as? String == "Ada")
            #expect(shown["qrData"] == nil, "a ticket's code is never shown again")
            #expect(!String(describing: shown).contains("token"))

            let listed = try await admin.call("GET", "/api/events", expect: 200)["events"] as! [[String: Any]]
            #expect(listed.contains { $0["id"] as? String == event && $0["issued"] as? Int == 3 })
            let one = try await admin.call("GET", "/api/events/\(event)", expect: 200)
            #expect(one["issued"] as? Int == 3 && one["used"] as? Int == 0)

            let device = try await admin.call("POST", "/api/devices", ["name": "North 1 kiosk", "gateId": "north-1", "eventId": event], expect: 201)
            #expect((device["token"] as! String).hasPrefix("ghd_"))
            let revoked = try await admin.call("POST", "/api/devices/\(device["deviceId"] as! String)/revoke", expect: 200)
            #expect(revoked["revoked"] as? Bool == true)
        }
    }

    @Test(arguments: StoreKind.available)
    func admin_routes_need_the_admin_token(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let connection = admin
            let event = try await admin.createEvent()
            let routes: [(String, String)] = [
                ("POST", "/api/events"), ("GET", "/api/events"), ("GET", "/api/events/\(event)"), ("POST", "/api/events/\(event)/tickets"),
                ("GET", "/api/events/\(event)/checkins"), ("GET", "/api/tickets/T1"), ("POST", "/api/tickets/T1/revoke"),
                ("POST", "/api/tickets/T1/reissue"), ("POST", "/api/devices"), ("POST", "/api/devices/D1/revoke"),
            ]
            let device = try await admin.addDevice(event: event)
            for (method, path) in routes {
                for bearer in [nil, "wrong-token", device.token] {
                    let response = try await connection.json(method, path, method == "POST" ? [:] as [String: Any] : nil, bearer: bearer)
                    #expect(response.status == 401, "\(method) \(path) with \(bearer ?? "no token")")
                    #expect(response.headers["content-type"] == "application/problem+json")
                    #expect(response.headers["www-authenticate"] == "Bearer")
                }
            }
        }
    }

    @Test(arguments: StoreKind.available)
    func checkin_answers_every_result(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let tickets = try await admin.issue(event: event, quantity: 3, extra: ["holderName": "Grace", "ticketType": "VIP"])
            let gate = admin

            let valid = try await gate.checkin(tickets[0].qrData, device: device)
            #expect(valid.status == 200)
            let answer = try valid.json()
            #expect(answer["ok"] as? Bool == true && answer["result"] as? String == "valid")
            #expect(answer["message"] as? String == "Valid — entry allowed")
            let ticket = answer["ticket"] as! [String: Any]
            #expect(ticket["number"] as? Int == 1 && ticket["holderName"] as? String == "Grace" && ticket["ticketType"] as? String == "VIP")

            let again = try await gate.checkin(tickets[0].qrData, device: device).json()
            #expect(again["ok"] as? Bool == false && again["result"] as? String == "already_used")
            #expect((again["message"] as! String).hasPrefix("Already used at north-1, "))
            #expect(again["firstUsedGate"] as? String == "north-1" && again["firstUsedAt"] as? String == answer["firstUsedAt"] as? String)

            #expect(try await gate.checkinResult("GH:EAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAA", device: device) == "not_found")
            #expect(try await gate.checkinResult("WIFI:S:venue;T:WPA;P:secret;;", device: device) == "invalid")

            let otherEvent = try await admin.createEvent("Other")
            let foreign = try await admin.issue(event: otherEvent)[0]
            #expect(try await gate.checkinResult(foreign.qrData, device: device) == "wrong_event")

            let expiring = try await admin.issue(event: event, extra: ["expiresAt": "2020-01-01T00:00:00Z"])[0]
            #expect(try await gate.checkinResult(expiring.qrData, device: device) == "expired")

            _ = try await admin.call("POST", "/api/tickets/\(tickets[1].id)/revoke", expect: 200)
            #expect(try await gate.checkinResult(tickets[1].qrData, device: device) == "revoked")

            // validate mode answers without checking in.
            #expect(try await gate.checkinResult(tickets[2].qrData, device: device, mode: "validate") == "valid")
            #expect(try await admin.call("GET", "/api/tickets/\(tickets[2].id)", expect: 200)["status"] as? String == "unused")

            let log = try await admin.call("GET", "/api/events/\(event)/checkins", expect: 200)["checkins"] as! [[String: Any]]
            #expect(
                log.map { $0["result"] as! String } == [
                    "valid", "revoked", "expired", "wrong_event", "invalid", "not_found", "already_used", "valid",
                ]
            )
            #expect(log.allSatisfy { $0["gateId"] as? String == "north-1" && $0["deviceId"] as? String == device.id })
            #expect((log.last?["ticketNumber"] as? Int) == 1)
        }
    }

    @Test(arguments: StoreKind.available)
    func retry_revoke_and_reissue(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let gate = admin
            let ticket = try await admin.issue(event: event)[0]
            #expect(try await gate.checkinResult(ticket.qrData, device: device, scanId: "scan-7") == "valid")
            // The kiosk never heard the answer and retries: it must get `valid` again, not "already used".
            #expect(try await gate.checkinResult(ticket.qrData, device: device, scanId: "scan-7") == "valid")
            #expect(try await gate.checkinResult(ticket.qrData, device: device, scanId: "scan-8") == "already_used")
            let valids = (try await admin.call("GET", "/api/events/\(event)/checkins", expect: 200)["checkins"] as! [[String: Any]]).filter {
                $0["result"] as? String == "valid"
            }
            #expect(valids.count == 1)
            let other = try await admin.issue(event: event)[0]
            #expect(try await gate.checkin(other.qrData, device: device, scanId: "scan-7").status == 409)

            let old = try await admin.issue(event: event)[0]
            let reissued = try await admin.call("POST", "/api/tickets/\(old.id)/reissue", expect: 200)
            let newCode = reissued["qrData"] as! String
            #expect(newCode != old.qrData)
            #expect(try await gate.checkinResult(old.qrData, device: device) == "not_found")
            #expect(try await gate.checkinResult(newCode, device: device) == "valid")
            #expect(try await admin.call("POST", "/api/tickets/TNOSUCHTICKET/reissue", expect: 404)["detail"] as? String == "no ticket TNOSUCHTICKET")
        }
    }

    @Test(arguments: StoreKind.available)
    func a_check_in_is_annulled_only_by_its_device_and_only_while_nothing_came_after(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let other = try await admin.addDevice(event: event, gate: "south-2")
            let tickets = try await admin.issue(event: event, quantity: 2)
            func scan(
                _ code: String,
                _ direction: String = "entry",
                scanId: String,
                by gate: AdminClient.DeviceCredentials? = nil
            ) async throws -> String {
                let gate = gate ?? device
                let body: [String: Any] = ["qrData": code, "deviceId": gate.id, "gateId": gate.gate, "scanId": scanId, "direction": direction]
                return try await admin.json("POST", "/api/checkin", body, bearer: gate.token).json()["result"] as! String
            }
            func annul(_ scanId: String, by gate: AdminClient.DeviceCredentials? = nil, deviceId: String? = nil) async throws -> (Int, [String: Any])
            {
                let gate = gate ?? device
                let response = try await admin.json(
                    "POST",
                    "/api/checkins/\(scanId)/annul",
                    ["deviceId": deviceId ?? gate.id, "gateId": gate.gate],
                    bearer: gate.token
                )
                return (response.status, try response.json())
            }
            func inside() async throws -> Int { try await admin.call("GET", "/api/events/\(event)/presence", expect: 200)["inside"] as! Int }
            func status(_ ticket: Int) async throws -> String {
                try await admin.call("GET", "/api/tickets/\(tickets[ticket].id)", expect: 200)["status"] as! String
            }

            // Admitted, then taken back: the ticket is as before, the guest may scan again.
            #expect(try await scan(tickets[0].qrData, scanId: "a1") == "valid")
            #expect(try await inside() == 1)
            let (annulled, answer) = try await annul("a1")
            #expect(annulled == 200 && answer["annulled"] as? Bool == true && answer["again"] as? Bool == false)
            #expect((answer["ticket"] as? [String: Any])?["id"] as? String == tickets[0].id)
            #expect(try await status(0) == "unused")
            #expect(try await inside() == 0)
            // A retry of the annul (its answer lost) answers the same, and changes nothing more.
            let (again, repeated) = try await annul("a1")
            #expect(again == 200 && repeated["again"] as? Bool == true)
            #expect(try await scan(tickets[0].qrData, scanId: "a2") == "valid")
            // The log keeps the scan, its annul and the new scan.
            let log = try await admin.call("GET", "/api/events/\(event)/checkins", expect: 200)["checkins"] as! [[String: Any]]
            #expect(log.compactMap { $0["result"] as? String }.sorted() == ["annulled", "valid", "valid"])

            // Only the device that made it; not a scan it never made; not a refusal.
            #expect(try await annul("a2", by: other).0 == 403)
            #expect(try await annul("no-such-scan").0 == 404)
            #expect(try await scan(tickets[0].qrData, scanId: "a3") == "already_used")
            let (refused, problem) = try await annul("a3")
            #expect(refused == 409 && (problem["detail"] as? String ?? "").contains("changed nothing"))
            // Another device's id in the body is not this token's device.
            #expect(try await annul("a2", deviceId: other.id).0 == 401)
            // Scanned again since (an exit after the entry): the entry cannot be taken back alone.
            #expect(try await scan(tickets[0].qrData, "exit", scanId: "a4") == "exit")
            let (changed, since) = try await annul("a2")
            #expect(changed == 409 && (since["detail"] as? String ?? "").contains("scanned again since"))
            // The exit can: the person counts as inside again.
            #expect(try await annul("a4").0 == 200)
            #expect(try await inside() == 1)
            // Anonymous: nothing is said.
            #expect(try await admin.json("POST", "/api/checkins/a2/annul", ["deviceId": device.id, "gateId": device.gate]).status == 401)
        }
    }

    @Test(arguments: StoreKind.available)
    func a_gate_s_sync_names_its_check_in_list(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let hall = try await admin.addDevice(event: event, gate: "hall-a")
            let door = try await admin.addDevice(event: event, gate: "door-1")
            _ = try await admin.issue(event: event, quantity: 1)
            let list = try await admin.call("POST", "/api/events/\(event)/lists", ["name": "Main hall", "gates": ["hall-a"]], expect: 201)
            let listed = try await admin.json("GET", "/api/sync/tickets", bearer: hall.token).json()
            let gateList = try #require(listed["gateList"] as? [String: Any])
            #expect(gateList["id"] as? String == list["id"] as? String && gateList["name"] as? String == "Main hall")
            #expect(try await admin.json("GET", "/api/sync/tickets", bearer: door.token).json()["gateList"] == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func a_list_s_attention_types_are_flagged_on_valid_entries_and_synced(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let hall = try await admin.addDevice(event: event, gate: "hall-a")
            let door = try await admin.addDevice(event: event, gate: "door-1")
            let child = try await admin.issue(event: event, quantity: 3, extra: ["ticketType": "Child"])
            let adult = try await admin.issue(event: event, quantity: 1, extra: ["ticketType": "Adult"])
            let untyped = try await admin.issue(event: event, quantity: 1)
            let list = try await admin.call(
                "POST",
                "/api/events/\(event)/lists",
                ["name": "Hall", "gates": ["hall-a"], "attention": ["Child", " Child ", "Student"]],
                expect: 201
            )
            #expect(list["attention"] as? [String] == ["Child", "Student"], "trimmed, each once")
            func scan(_ code: String, _ device: DeviceCredentials, scanId: String, mode: String? = nil) async throws -> [String: Any] {
                let response = try await admin.checkin(code, device: device, scanId: scanId, mode: mode)
                #expect(response.status == 200)
                return try response.json()
            }
            // Asked and committed: flagged; its retry too (a kiosk whose answer was lost must not open unseen).
            #expect(try await scan(child[0].qrData, hall, scanId: "c0", mode: "validate")["attention"] as? Bool == true)
            let committed = try await scan(child[0].qrData, hall, scanId: "c1")
            #expect(committed["result"] as? String == "valid" && committed["attention"] as? Bool == true)
            #expect(try await scan(child[0].qrData, hall, scanId: "c1")["attention"] as? Bool == true)
            // Refused, another type, no type, or a gate in no list: no flag at all.
            let again = try await scan(child[0].qrData, hall, scanId: "c2")
            #expect(again["result"] as? String == "already_used" && again["attention"] == nil)
            #expect(try await scan(adult[0].qrData, hall, scanId: "a1")["attention"] == nil)
            #expect(try await scan(untyped[0].qrData, hall, scanId: "u1")["attention"] == nil)
            #expect(try await scan(child[1].qrData, door, scanId: "d1")["attention"] == nil)
            // The sync page carries them, so an offline gate flags them too.
            let page = try await admin.json("GET", "/api/sync/tickets", bearer: hall.token).json()
            #expect((page["gateList"] as? [String: Any])?["attention"] as? [String] == ["Child", "Student"])
            // Taken off the list: the next scan is not flagged.
            _ = try await admin.call("PUT", "/api/lists/\(list["id"] as! String)", ["name": "Hall", "gates": ["hall-a"]], expect: 200)
            #expect(try await scan(child[2].qrData, hall, scanId: "c3")["attention"] == nil)
            _ = try await admin.call("POST", "/api/events/\(event)/lists", ["name": "x", "attention": ["ok", "bad\ntype"]], expect: 400)
        }
    }

    @Test(arguments: StoreKind.available)
    func exits_are_let_out_and_presence_counts_who_is_inside(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let tickets = try await admin.issue(event: event, quantity: 3)
            func scan(_ code: String, _ direction: String?, scanId: String) async throws -> [String: Any] {
                var body: [String: Any] = ["qrData": code, "deviceId": device.id, "gateId": device.gate, "scanId": scanId]
                if let direction { body["direction"] = direction }
                let response = try await admin.json("POST", "/api/checkin", body, bearer: device.token)
                #expect(response.status == 200)
                return try response.json()
            }
            func inside() async throws -> Int { try await admin.call("GET", "/api/events/\(event)/presence", expect: 200)["inside"] as! Int }

            #expect(try await inside() == 0)
            #expect(try await scan(tickets[0].qrData, nil, scanId: "a1")["result"] as? String == "valid")
            #expect(try await scan(tickets[1].qrData, "entry", scanId: "b1")["result"] as? String == "valid")
            #expect(try await inside() == 2)
            let exit = try await scan(tickets[0].qrData, "exit", scanId: "a2")
            #expect(exit["result"] as? String == "exit" && exit["ok"] as? Bool == true)
            #expect(exit["message"] as? String == "Exit — goodbye")
            #expect(try await inside() == 1)
            // The same scanId as an exit is a retry of the exit, not the entry; a gate in no list
            // admits once, so the ticket that left does not come back in.
            #expect(try await scan(tickets[0].qrData, "exit", scanId: "a2")["result"] as? String == "exit")
            #expect(try await scan(tickets[0].qrData, "entry", scanId: "a3")["result"] as? String == "already_used")
            // Someone never let in is let out all the same, and counted nowhere.
            #expect(try await scan(tickets[2].qrData, "exit", scanId: "c1")["result"] as? String == "exit")
            #expect(try await inside() == 1)
            #expect(try await admin.call("GET", "/api/tickets/\(tickets[1].id)", expect: 200)["inside"] as? Bool == true)
            let sideways = try await admin.json(
                "POST",
                "/api/checkin",
                ["qrData": tickets[2].qrData, "deviceId": device.id, "gateId": device.gate, "direction": "sideways"],
                bearer: device.token
            )
            #expect(sideways.status == 400)
            _ = try await admin.call("GET", "/api/events/ENOSUCHEV/presence", expect: 404)
        }
    }

    @Test(arguments: StoreKind.available)
    func check_in_lists_are_kept_whole_and_a_gate_has_one(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let vip = try await admin.call(
                "POST",
                "/api/events/\(event)/lists",
                [
                    "name": "VIP door", "ticketTypes": ["VIP", " VIP ", "Press"], "gates": ["vip-1", "vip-2"], "entry": "reentry",
                    "capacity": 150, "opensAt": "2027-06-12T16:00:00Z", "closesAt": "2027-06-12T23:00:00Z",
                ],
                expect: 201
            )
            let id = vip["id"] as! String
            #expect(id.hasPrefix("L"))
            #expect(vip["ticketTypes"] as? [String] == ["VIP", "Press"], "types trimmed, each once")
            #expect(vip["gates"] as? [String] == ["vip-1", "vip-2"] && vip["entry"] as? String == "reentry" && vip["inside"] as? Int == 0)
            #expect(vip["opensAt"] as? String == "2027-06-12T16:00:00.000Z")
            let main = try await admin.call("POST", "/api/events/\(event)/lists", ["name": "Main", "gates": ["north-1"]], expect: 201)
            #expect(main["entry"] as? String == "once" && main["ticketTypes"] == nil && main["capacity"] == nil)

            // A gate belongs to one list of its event.
            let taken = try await admin.call("POST", "/api/events/\(event)/lists", ["name": "Other", "gates": ["vip-2"]], expect: 409)
            #expect((taken["detail"] as? String)?.contains("vip-2") == true)
            _ = try await admin.call("PUT", "/api/lists/\(main["id"] as! String)", ["name": "Main", "gates": ["north-1", "vip-1"]], expect: 409)
            // Another event may use the same gate names.
            let other = try await admin.createEvent()
            _ = try await admin.call("POST", "/api/events/\(other)/lists", ["name": "Theirs", "gates": ["vip-1"]], expect: 201)

            let lists = try await admin.call("GET", "/api/events/\(event)/lists", expect: 200)["lists"] as! [[String: Any]]
            #expect(lists.map { $0["name"] as! String } == ["VIP door", "Main"])
            // PUT replaces the whole list: what it leaves out is gone.
            let replaced = try await admin.call("PUT", "/api/lists/\(id)", ["name": "VIP", "gates": ["vip-2", "vip-3"]], expect: 200)
            #expect(replaced["gates"] as? [String] == ["vip-2", "vip-3"] && replaced["entry"] as? String == "once")
            #expect(replaced["capacity"] == nil && replaced["ticketTypes"] == nil)
            #expect(try await admin.call("GET", "/api/lists/\(id)", expect: 200)["name"] as? String == "VIP")
            _ = try await admin.call("POST", "/api/events/\(event)/lists", ["name": "Freed", "gates": ["vip-1"]], expect: 201)

            for (body, detail) in [
                (["name": ""], "name must not be empty"),
                (["name": "x", "capacity": -1], "capacity must be between 0 and 10000000"),
                (["name": "x", "opensAt": "2027-06-12T16:00:00Z", "closesAt": "2027-06-12T15:00:00Z"], "closesAt must be after opensAt"),
                (["name": "x", "gates": ["a", "a"]], "gates names a gate twice"),
                (["name": "x", "gates": ["bad\ngate"]], "gates must not contain control characters (NUL, newline, …)"),
            ] as [([String: Any], String)] {
                #expect(try await admin.call("POST", "/api/events/\(event)/lists", body, expect: 400)["detail"] as? String == detail)
            }
            _ = try await admin.call("POST", "/api/events/\(event)/lists", ["name": "x", "entry": "twice"], expect: 400)
            _ = try await admin.call("POST", "/api/events/ENOSUCHEV/lists", ["name": "x"], expect: 404)

            let deleted = try await admin.json("DELETE", "/api/lists/\(id)", bearer: admin.adminToken)
            #expect(deleted.status == 204)
            _ = try await admin.call("GET", "/api/lists/\(id)", expect: 404)
            _ = try await admin.call("DELETE", "/api/lists/\(id)", expect: 404)
            let presence = try await admin.call("GET", "/api/events/\(event)/presence", expect: 200)
            #expect((presence["lists"] as! [[String: Any]]).map { $0["name"] as! String } == ["Main", "Freed"])
        }
    }

    @Test(arguments: StoreKind.available)
    func a_list_decides_who_passes_its_gates(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let vipGate = try await admin.addDevice(event: event, gate: "vip-1")
            let mainGate = try await admin.addDevice(event: event)
            let exitGate = try await admin.addDevice(event: event, gate: "vip-out")
            _ = try await admin.call(
                "POST",
                "/api/events/\(event)/lists",
                ["name": "VIP", "ticketTypes": ["VIP"], "gates": ["vip-1", "vip-out"], "entry": "reentry", "capacity": 1],
                expect: 201
            )
            let guests = try await admin.issue(event: event, quantity: 2, extra: ["ticketType": "VIP"])
            let standard = try await admin.issue(event: event, extra: ["ticketType": "Standing"])[0]
            func scan(_ code: String, _ device: AdminClient.DeviceCredentials, _ direction: String = "entry") async throws -> (String, String) {
                let response = try await admin.json(
                    "POST",
                    "/api/checkin",
                    ["qrData": code, "deviceId": device.id, "gateId": device.gate, "direction": direction],
                    bearer: device.token
                )
                let answer = try response.json()
                return (answer["result"] as! String, answer["message"] as! String)
            }
            #expect(try await scan(standard.qrData, vipGate) == ("not_on_list", "Ticket type not admitted at this gate"))
            #expect(try await scan(guests[0].qrData, vipGate).0 == "valid")
            #expect(try await scan(guests[0].qrData, vipGate).0 == "already_inside")
            #expect(try await scan(guests[1].qrData, vipGate) == ("full", "Full — capacity reached"))
            #expect(try await scan(guests[0].qrData, exitGate, "exit").0 == "exit")
            #expect(try await scan(guests[1].qrData, vipGate).0 == "valid")
            // The VIP area's passes are its own: the main gate (in no list) still admits once.
            #expect(try await scan(guests[0].qrData, mainGate).0 == "already_used", "its first use was at the VIP door")
            #expect(try await scan(standard.qrData, mainGate).0 == "valid")
            let presence = try await admin.call("GET", "/api/events/\(event)/presence", expect: 200)
            #expect(presence["inside"] as? Int == 2)
            #expect((presence["lists"] as! [[String: Any]]).first?["inside"] as? Int == 1)
            #expect((presence["lists"] as! [[String: Any]]).first?["capacity"] as? Int == 1)
        }
    }

    @Test(arguments: StoreKind.available)
    func devices_must_authenticate(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let second = try await admin.addDevice(event: event, gate: "south-1")
            let ticket = try await admin.issue(event: event)[0]
            let gate = admin
            let body: [String: Any] = ["qrData": ticket.qrData, "deviceId": device.id, "gateId": device.gate]
            #expect(try await gate.json("POST", "/api/checkin", body).status == 401)
            #expect(try await gate.json("POST", "/api/checkin", body, bearer: "ghd_NOTATOKEN").status == 401)
            #expect(try await gate.json("POST", "/api/checkin", body, bearer: admin.adminToken).status == 401)
            // A token of another device does not vouch for this deviceId.
            #expect(try await gate.json("POST", "/api/checkin", body, bearer: second.token).status == 401)
            // A device registered at north-1 cannot claim to be at south-1.
            var wrongGate = body
            wrongGate["gateId"] = "south-1"
            #expect(try await gate.json("POST", "/api/checkin", wrongGate, bearer: device.token).status == 403)
            _ = try await admin.call("POST", "/api/devices/\(device.id)/revoke", expect: 200)
            let refused = try await gate.json("POST", "/api/checkin", body, bearer: device.token)
            #expect(refused.status == 401)
            #expect(refused.headers["content-type"] == "application/problem+json")
            #expect(try await admin.call("GET", "/api/tickets/\(ticket.id)", expect: 200)["status"] as? String == "unused")
        }
    }

    @Test(arguments: StoreKind.available)
    func bad_requests_are_problems_that_name_the_field(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let gate = admin
            func detail(_ body: [String: Any]) async throws -> (Int, String) {
                let response = try await gate.json("POST", "/api/checkin", body, bearer: device.token)
                return (response.status, (try? response.json()["detail"] as? String) ?? response.text)
            }
            #expect(try await detail(["deviceId": device.id, "gateId": "north-1"]) == (400, "qrData is required"))
            #expect(try await detail(["qrData": 5, "deviceId": device.id, "gateId": "north-1"]) == (400, "qrData must be of type String"))
            #expect(try await detail(["qrData": "x", "deviceId": device.id, "gateId": "north-1", "mode": "burn"]).0 == 400)
            #expect(try await detail(["qrData": "x", "deviceId": device.id, "gateId": "north-1", "scanId": ""]).0 == 400)

            #expect(try await admin.call("POST", "/api/events", ["name": ""], expect: 400)["detail"] as? String == "name must not be empty")
            #expect(
                try await admin.call("POST", "/api/events", ["name": "x", "startsAt": "tomorrow"], expect: 400)["detail"] as! String
                    == "startsAt: expected an ISO 8601 time such as 2026-12-31T20:00:00Z"
            )
            #expect(
                try await admin.call("POST", "/api/events/\(event)/tickets", ["quantity": 0], expect: 400)["detail"] as? String
                    == "quantity must be between 1 and 10000"
            )
            #expect(try await admin.call("POST", "/api/events/\(event)/tickets", ["quantity": 10_001], expect: 400).isEmpty == false)
            _ = try await admin.call("POST", "/api/events/ENOEVENT/tickets", ["quantity": 1], expect: 404)
            _ = try await admin.call("GET", "/api/events/ENOEVENT", expect: 404)
            _ = try await admin.call("GET", "/api/tickets/TNOPE", expect: 404)
            _ = try await admin.call("POST", "/api/devices", ["name": "x", "gateId": "g", "eventId": "ENOEVENT"], expect: 404)
            _ = try await admin.call("GET", "/api/events/\(event)/checkins?limit=0", expect: 400)
            _ = try await admin.call("GET", "/api/events/\(event)/checkins?since=yesterday", expect: 400)
            _ = try await admin.call("GET", "/api/nowhere", expect: 404)
        }
    }

    @Test(arguments: StoreKind.available)
    func checkin_log_filters_by_gate_and_time(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let north = try await admin.addDevice(event: event, gate: "north-1")
            let south = try await admin.addDevice(event: event, gate: "south-1")
            let tickets = try await admin.issue(event: event, quantity: 4)
            let gate = admin
            _ = try await gate.checkinResult(tickets[0].qrData, device: north)
            _ = try await gate.checkinResult(tickets[1].qrData, device: south)
            try await Task.sleep(for: .milliseconds(20))
            let middle = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            try await Task.sleep(for: .milliseconds(20))
            _ = try await gate.checkinResult(tickets[2].qrData, device: south)
            let southOnly = try await admin.call("GET", "/api/events/\(event)/checkins?gate=south-1", expect: 200)["checkins"] as! [[String: Any]]
            #expect(southOnly.count == 2)
            let recent = try await admin.call("GET", "/api/events/\(event)/checkins?since=\(middle)", expect: 200)["checkins"] as! [[String: Any]]
            #expect(recent.count == 1 && recent[0]["gateId"] as? String == "south-1")
            let older = try await admin.call("GET", "/api/events/\(event)/checkins?until=\(middle)", expect: 200)["checkins"] as! [[String: Any]]
            #expect(older.count == 2)
            let limited = try await admin.call("GET", "/api/events/\(event)/checkins?limit=1", expect: 200)["checkins"] as! [[String: Any]]
            #expect(limited.count == 1 && limited[0]["gateId"] as? String == "south-1")
        }
    }

    @Test(arguments: StoreKind.available)
    func health_and_logs_keep_secrets_out(_ kind: StoreKind) async throws {
        let logs = LogCapture()
        try await withService(kind, logs: logs) { admin in
            let health = try await admin.request("GET", "/healthz")
            #expect(health.status == 200)
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let ticket = try await admin.issue(event: event, extra: ["holderName": "Secret Holder", "email": "secret@example.com"])[0]
            _ = try await admin.checkinResult(ticket.qrData, device: device)
            _ = try await admin.checkinResult(ticket.qrData, device: device)
            let log = logs.text
            #expect(log.contains("checkin.result=valid") && log.contains("checkin.result=already_used"))
            let token = ticket.qrData.split(separator: ":").last!
            #expect(!log.contains(String(token)))
            #expect(!log.contains(device.token) && !log.contains(admin.adminToken))
            #expect(!log.contains("Secret Holder") && !log.contains("secret@example.com"))
        }
    }

    @Test(arguments: StoreKind.available)
    func dates_are_strict_and_exact_and_head_is_answered(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            #expect(try await admin.request("HEAD", "/healthz").status == 200)
            for impossible in [
                "2026-02-30T10:00:00Z", "2026-12-01T25:00:00Z", "100000-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-01T10:61:00Z",
            ] {
                _ = try await admin.call("POST", "/api/events", ["name": "x", "startsAt": impossible], expect: 400)
            }
            for real in ["0001-01-01T00:00:00.000Z", "1581-10-10T12:00:00.000Z", "2024-02-29T23:59:59.999Z", "9999-12-31T23:59:59.000Z"] {
                let event = try await admin.call("POST", "/api/events", ["name": "x", "startsAt": real], expect: 201)
                #expect(event["startsAt"] as? String == real, "round trip of \(real)")
            }
            let offset = try await admin.call("POST", "/api/events", ["name": "x", "startsAt": "2026-12-01T20:00:00+01:00"], expect: 201)
            #expect(offset["startsAt"] as? String == "2026-12-01T19:00:00.000Z")
        }
    }

    @Test(arguments: StoreKind.available)
    func a_wrong_event_answer_tells_nothing_of_the_other_ticket(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let other = try await admin.createEvent("Other")
            let ticket = try await admin.issue(event: other, extra: ["holderName": "Secret Holder"])[0]
            let answer = try await admin.checkin(ticket.qrData, device: device)
            let json = try answer.json()
            #expect(json["result"] as? String == "wrong_event")
            #expect(json["ticket"] == nil || json["ticket"] is NSNull, "\(answer.text)")
            #expect(!answer.text.contains("Secret Holder"))
        }
    }
}

import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

@Suite struct HolderCSVTests {
    func read(_ text: String, maximumRows: Int = 1000) throws -> HolderCSV {
        var reader = HolderCSV(maximumRows: maximumRows)
        // Fed in small pieces: quotes and line breaks split across chunks must not matter.
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: 7) { try reader.feed(bytes[start..<min(start + 7, bytes.count)]) }
        try reader.finish()
        return reader
    }

    @Test func a_spreadsheet_export_with_a_bom_and_the_pages_words() throws {
        let reader = try read("\u{FEFF}Holder name,E-MAIL,ticketType\r\n\"Lovelace, Ada\",ada@example.org,VIP\r\n\"Two\nLines\",,\r\n,,\r\n")
        #expect(reader.requests.count == 2)
        #expect(reader.requests[0].holderName == "Lovelace, Ada" && reader.requests[0].email == "ada@example.org")
        #expect(reader.requests[0].ticketType == "VIP")
        #expect(reader.requests[1].holderName == nil && reader.requests[1].email == nil, "a row of empty cells is an anonymous ticket")
        #expect(reader.rowErrors == [.init(line: 3, message: "Holder name must not contain control characters")], "a quoted line break")
    }

    @Test func every_bad_row_is_named_with_its_line_and_the_columns_words() throws {
        let long = String(repeating: "x", count: 201)
        let reader = try read("holderName,email\nAda,ada@example.org\nBob,not-an-address\n\(long),\nCy\nDee,dee@example.org\n")
        #expect(reader.requests.map(\.holderName) == ["Ada", "Dee"])
        #expect(reader.rowErrors.map(\.line) == [3, 4, 5])
        #expect(reader.rowErrors[0].message == "E-mail 'not-an-address' is not an e-mail address")
        #expect(reader.rowErrors[1].message == "Holder name is longer than 200 characters")
        #expect(reader.rowErrors[2].message == "1 fields, but the header has 2")
    }

    @Test func faults_of_the_whole_file_stop_the_read() {
        #expect(throws: HolderCSV.FileError.self) { try read("name,email\nAda,a@b.org\n") }
        #expect(throws: HolderCSV.FileError.self) { try read("holderName,holderName\nA,B\n") }
        #expect(throws: HolderCSV.FileError.self) { try read("") }
        #expect(throws: HolderCSV.FileError.self) { try read("holderName\n") }
        #expect(throws: HolderCSV.FileError.self) { try read("holderName\n\"never closed\n") }
        #expect(throws: HolderCSV.FileError.self) { try read("holderName\nA\nB\nC\n", maximumRows: 2) }
    }

    /// A file of empty lines used to be read into a list of empty records per chunk: 80 times its
    /// size in memory. Records are now taken one by one, and empty lines count towards the bound.
    @Test func a_file_of_empty_lines_is_counted_and_bounded() throws {
        var reader = HolderCSV(maximumRows: 300_000)
        try reader.feed(Array("holderName\nAda\n".utf8))
        let chunk = [UInt8](repeating: UInt8(ascii: "\n"), count: 64 * 1024)
        for _ in 0..<3 { try reader.feed(chunk) }
        #expect(reader.blankLines == 3 * 64 * 1024 && reader.requests.count == 1)
        #expect(throws: HolderCSV.FileError.self) { for _ in 0..<2 { try reader.feed(chunk) } }
    }

    /// What Excel writes in much of Europe: semicolons, and Windows-1252 when saved as "CSV".
    @Test func semicolons_tabs_and_windows_1252_are_read() throws {
        let semicolons = try read("Holder name;E-mail;Ticket type\nLovelace, Ada;ada@example.org;VIP\n")
        #expect(semicolons.requests.map(\.holderName) == ["Lovelace, Ada"] && semicolons.requests[0].ticketType == "VIP")
        let tabs = try read("holderName\temail\nGrace\tgrace@example.org\n")
        #expect(tabs.requests.map(\.email) == ["grace@example.org"])
        // "Zoë Éclair", é and ë as Windows-1252 bytes (not valid UTF-8).
        var latin = HolderCSV(maximumRows: 10)
        try latin.feed(
            Array("holderName;email\n".utf8) + [0x5A, 0x6F, 0xEB, 0x20, 0xC9, 0x63, 0x6C, 0x61, 0x69, 0x72] + Array(";z@example.org\n".utf8)
        )
        try latin.finish()
        #expect(latin.requests.map(\.holderName) == ["Zoë Éclair"])
        // UTF-8 first, then a stray Windows-1252 byte: said precisely.
        #expect {
            var mixed = HolderCSV(maximumRows: 10)
            try mixed.feed(Array("holderName\nZoë\n".utf8) + [0x5A, 0x6F, 0xEB, 0x0A])
            try mixed.finish()
        } throws: { error in
            "\(error)".contains("line 3") && "\(error)".contains("CSV UTF-8")
        }
    }

    @Test func exported_cells_never_run_as_formulas() {
        #expect(CSVCell.escape("=1+1") == "\"'=1+1\"")
        #expect(CSVCell.escape("@SUM(A1)") == "\"'@SUM(A1)\"")
        #expect(CSVCell.escape("Lovelace, Ada") == "\"Lovelace, Ada\"")
        #expect(CSVCell.row(["1", "a\"b"]) == "1,\"a\"\"b\"\r\n")
    }
}

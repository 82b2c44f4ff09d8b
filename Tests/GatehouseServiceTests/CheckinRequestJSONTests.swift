import Foundation
import Testing

@testable import GatehouseAPI
@testable import GatehouseCore

/// The hand reader of check-in requests must read every body it takes as the API's JSONDecoder
/// does, and leave every other body to it.
@Suite struct CheckinRequestJSONTests {
    static func decoded(_ body: [UInt8]) -> CheckinRequest? {
        try? APIJSON.decoder.decode(CheckinRequest.self, from: Data(body))
    }

    /// What gate kiosks (JSONEncoder), the scanner page (JSON.stringify) and hand-written
    /// clients send.
    static let plainBodies: [String] = [
        #"{"qrData":"GH:E1:ABCDEFGHJKMNPQRSTVWXYZ0123","deviceId":"D1","gateId":"north-1"}"#,
        #"{"deviceId":"D1","direction":"exit","gateId":"north 1","qrData":"GS:E1:ABC","scanId":"s-1"}"#,
        #"{"qrData":"zoë 😀 ✓","deviceId":"D1","gateId":"g","scanId":"","mode":"validate","direction":"entry"}"#,
        " \r\n\t{ \"qrData\" : \"x\" ,\n \"deviceId\"\t: \"d\", \"gateId\": \"g\", \"mode\": \"commit\" } \n",
        #"{"qrData":"a'b<c>&d/e\u007f","deviceId":"D","gateId":"G"}"#.replacingOccurrences(of: #"\u007f"#, with: "\u{7f}"),
    ]

    @Test func reads_the_bodies_scanners_send_as_the_decoder_does() throws {
        for text in Self.plainBodies {
            let body = Array(text.utf8)
            let plain = try #require(CheckinRequest(plainJSON: body), "\(text)")
            #expect(plain == Self.decoded(body), "\(text)")
        }
        let kiosk = CheckinRequest(qrData: "GH:E:T", deviceId: "D", gateId: "G", scanId: "S", mode: .validate, direction: .exit)
        #expect(CheckinRequest(plainJSON: Array(try JSONEncoder().encode(kiosk))) == kiosk)
    }

    /// Everything outside the plain shape goes to the decoder, which reads it or names the fault.
    @Test func leaves_every_other_body_to_the_decoder() {
        let others: [[UInt8]] =
            [
                #"{"qrData":"a\"b","deviceId":"D","gateId":"G"}"#,  // an escape
                #"{"qrData":"a\/b","deviceId":"D","gateId":"G"}"#,  // JSONEncoder's escaped slash
                #"{"qrData":"x","deviceId":"D","gateId":"G","scanId":null}"#,
                #"{"qrData":"x","deviceId":"D","gateId":"G","mode":1}"#,
                #"{"qrData":"x","deviceId":"D","gateId":"G","extra":"y"}"#,  // a key of no field
                #"{"qrData":"x","qrData":"y","deviceId":"D","gateId":"G"}"#,  // a key twice
                #"{"qrData":"x","deviceId":"D"}"#,  // a field missing
                #"{"qrData":"x","deviceId":"D","gateId":"G","mode":"later"}"#,  // no such mode
                #"{"qrData":"x","deviceId":"D","gateId":"G"} x"#,
                #"{"qrData":"x","deviceId":"D","gateId":"G",}"#,
                #"{"qrData":"x" "deviceId":"D","gateId":"G"}"#,
                #"[{"qrData":"x","deviceId":"D","gateId":"G"}]"#,
                "{}", "", "{", "\"x\"",
                "{\"qrData\":\"a\tb\",\"deviceId\":\"D\",\"gateId\":\"G\"}",  // a raw control character
                "\u{feff}{\"qrData\":\"x\",\"deviceId\":\"D\",\"gateId\":\"G\"}",  // a byte order mark
            ].map { Array($0.utf8) } + [
                Array(#"{"qrData":""#.utf8) + [0xC3, 0x28] + Array(#"","deviceId":"D","gateId":"G"}"#.utf8)  // not UTF-8
            ]
        for body in others {
            #expect(CheckinRequest(plainJSON: body) == nil, "\(String(decoding: body, as: UTF8.self))")
        }
    }

    /// Bodies bent at random, a byte at a time: whenever the hand reader takes one, the decoder
    /// reads the same request from it.
    @Test func agrees_with_the_decoder_on_every_body_it_takes() throws {
        var random = DecisionConformanceTests.SeededGenerator(state: 31)
        let alphabet = Array(#"{}[]:,"\ /0aExyz-"#.utf8) + [0x09, 0x0A, 0x00, 0x7F, 0xC3, 0xA9, 0xFF]
        var taken = 0
        var takenChanged = 0
        for _ in 0..<20_000 {
            var body = Array(Self.plainBodies.randomElement(using: &random)!.utf8)
            let original = body
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0...body.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where at < body.count: body.remove(at: at)
                case 1 where at < body.count: body[at] = alphabet.randomElement(using: &random)!
                default: body.insert(alphabet.randomElement(using: &random)!, at: at)
                }
            }
            guard let plain = CheckinRequest(plainJSON: body) else { continue }
            taken += 1
            if body != original { takenChanged += 1 }
            #expect(plain == Self.decoded(body), "\(String(decoding: body, as: UTF8.self))")
        }
        // The comparison ran on many bent bodies, not only on ones the reader refused.
        #expect(takenChanged > 1_000, "taken \(taken), of them changed \(takenChanged)")
    }
}

import GatehouseCore
import GatehouseImage
import GatehouseTestSupport
import QRRendering
import Testing

@testable import QRReading

/// What may be hidden from an engine after a costly pass: only what was already there, only what
/// has edges, and only when it was many finder-like blocks.
@Suite(.computeBound) struct BlindSpotsTests {
    static let width = PosterFrameTests.width
    static let height = PosterFrameTests.height
    static let poster = PosterFrameTests.Poster(module: 3, gap: 2)

    static func learnt(from frames: [GreyImage], costly last: GreyImage) -> (BlindSpots, SceneSignature) {
        var steady = SteadyBlocks()
        var spots = BlindSpots()
        for frame in frames + [last] {
            frame.pixels.withUnsafeBufferPointer { steady.observe(SceneSignature(pixels: $0.baseAddress!, width: width, height: height)) }
        }
        let scene = last.pixels.withUnsafeBufferPointer { SceneSignature(pixels: $0.baseAddress!, width: width, height: height) }
        last.pixels.withUnsafeBufferPointer {
            spots.learn(pixels: $0.baseAddress!, width: width, height: height, scene: scene, steady: steady)
        }
        return (spots, scene)
    }

    static func hidden(_ spots: BlindSpots, in frame: GreyImage) -> Set<Int> {
        frame.pixels.withUnsafeBufferPointer { pixels in
            let scene = SceneSignature(pixels: pixels.baseAddress!, width: width, height: height)
            guard let masked = spots.masked(pixels: pixels.baseAddress!, width: width, height: height, scene: scene) else { return [] }
            return Set(
                (0..<scene.means.count).filter { index in
                    let left = (index % scene.columns) * SceneSignature.block
                    let top = (index / scene.columns) * SceneSignature.block
                    return masked.masked[top * width + left] != frame.pixels[top * width + left]
                        || masked.masked[(top + 5) * width + left + 5] != frame.pixels[(top + 5) * width + left + 5]
                }
            )
        }
    }

    /// The blocks a code drawn at `place` covers.
    static func blocks(ofCodeIn withCode: GreyImage, lane: [UInt8]) -> Set<Int> {
        let columns = width / SceneSignature.block
        return Set(
            (0..<width * height).filter { withCode.pixels[$0] != lane[$0] }.map {
                ($0 / width / SceneSignature.block) * columns + ($0 % width) / SceneSignature.block
            }
        )
    }

    @Test func a_code_held_up_while_a_pass_is_slow_is_not_learnt() throws {
        let lane = PosterFrameTests.lane(with: Self.poster, seed: 3)
        let empty = GreyImage(width: Self.width, height: Self.height, pixels: lane)
        let code = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
        for place in PosterFrameTests.Place.allCases {
            let held = try PosterFrameTests.frame(lane, code: code, at: place)
            // The lane for a while, then the code held still for a few frames, the last one slow.
            let (spots, _) = Self.learnt(from: Array(repeating: empty, count: 10) + [held, held], costly: held)
            #expect(!spots.isEmpty, "the poster was learnt")
            let hidden = Self.hidden(spots, in: held)
            let code = Self.blocks(ofCodeIn: held, lane: lane)
            #expect(hidden.intersection(code).isEmpty, "\(place): blocks of the held code hidden: \(hidden.intersection(code).sorted())")
            #expect(hidden.count >= 200, "\(place): the poster is hidden (\(hidden.count) blocks)")
        }
    }

    @Test func a_few_codes_in_view_are_not_a_poster() throws {
        let lane = [UInt8](repeating: 160, count: Self.width * Self.height)
        var frame = lane
        for place in PosterFrameTests.Place.allCases {
            let code = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
            frame = try PosterFrameTests.frame(frame, code: code, at: place).pixels
        }
        let sheet = GreyImage(width: Self.width, height: Self.height, pixels: frame)
        let (spots, _) = Self.learnt(from: Array(repeating: sheet, count: 10), costly: sheet)
        #expect(spots.isEmpty, "three codes held still through a slow pass were learnt as a poster")
    }

    @Test func a_plain_wall_is_never_hidden() {
        let lane = PosterFrameTests.lane(with: Self.poster, seed: 9)
        var noise = FastNoise(state: 11)
        let noisy = lane.map { UInt8(clamping: Int($0) + Int(noise.next() % 5) - 2) }
        let frame = GreyImage(width: Self.width, height: Self.height, pixels: noisy)
        let (spots, scene) = Self.learnt(from: Array(repeating: frame, count: 10), costly: frame)
        let hidden = Self.hidden(spots, in: frame)
        let flat = Set(scene.edges.indices.filter { scene.edges[$0] < BlindSpots.minimumEdge })
        #expect(!hidden.isEmpty)
        #expect(hidden.intersection(flat).isEmpty, "flat blocks of the wall hidden: \(hidden.intersection(flat).count)")
    }

    /// A code whose modules are an even number of pixels, placed at an even column, on a wall of
    /// its own mean brightness: the scene signature still sees it arrive, by its edges.
    @Test func an_aligned_code_has_edges() throws {
        // 125: the mean of the code's light (215) and dark (35) modules.
        let wall = [UInt8](repeating: 125, count: Self.width * Self.height)
        let code = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken()).text
        let held = try PosterFrameTests.frame(wall, code: code, at: .bottomLeft)
        let before = wall.withUnsafeBufferPointer { SceneSignature(pixels: $0.baseAddress!, width: Self.width, height: Self.height) }
        let after = held.pixels.withUnsafeBufferPointer { SceneSignature(pixels: $0.baseAddress!, width: Self.width, height: Self.height) }
        // Blocks well inside the symbol: a fifth to four fifths of their pixels dark modules.
        var dark = [Int](repeating: 0, count: after.means.count)
        for index in held.pixels.indices where held.pixels[index] == 35 {
            dark[(index / Self.width / SceneSignature.block) * after.columns + (index % Self.width) / SceneSignature.block] += 1
        }
        let area = SceneSignature.block * SceneSignature.block
        let covered = dark.indices.filter { dark[$0] * 5 >= area && dark[$0] * 5 <= area * 4 }
        #expect(covered.count >= 30)
        let withEdges = covered.filter { Int(after.edges[$0]) - Int(before.edges[$0]) > SceneSignature.tolerance }
        #expect(withEdges.count * 10 >= covered.count * 9, "\(withEdges.count) of \(covered.count) blocks of the code show edges")
        #expect(!after.isSameScene(as: before))
    }
}

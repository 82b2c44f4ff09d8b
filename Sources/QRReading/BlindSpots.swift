/// Parts of a scene that cost the QR engines far more than a frame should, hidden from them while
/// they stay as they are.
///
/// Why: zbar's and zxing-cpp's QR detectors try the finder patterns they find in threes, so the
/// cost of a pass grows with the cube of their number. A poster or a sheet printed with
/// finder-like squares in view of a gate camera made one zbar pass cost half a second on a 640×480
/// frame (seconds on a Pi), every frame, and confused both engines into reading nothing else in
/// view. After a pass over its budget, the blocks holding finder-like runs (and their neighbours)
/// are remembered with their brightness and edge energy; later passes see those blocks filled
/// flat for as long as they look the same. A code held up in front of them changes them (its
/// modules are edges), so nothing shown to the camera is hidden; what stays hidden is what was
/// already there when the engines choked on it.
struct BlindSpots {
    /// How much longer than usual a pass may take before its scene counts as costly.
    static let costlyFactor = 8.0
    /// Below this per pixel no pass counts as costly (31 ms at 640×480): a scheduler hiccup on a
    /// busy box must not hide anything.
    static let floorNanosecondsPerPixel = 100.0
    /// Until passes have been timed, this per pixel (46 ms at 640×480) is the budget.
    static let initialNanosecondsPerPixel = 150.0
    /// Fewer blocks than this holding finder-like runs, or fewer runs in them than
    /// `minimumFinderRuns`, is not a poster. Three random codes held up in view make 22–42 such
    /// blocks and 70–116 runs (600 draws); the sparsest poster of the tests 48 blocks and 174
    /// runs, a dense one 300 and 900. Blocks alone overlap at the tail, runs leave a margin on
    /// both sides. A slow pass over a few codes was the box being busy, and learning it would
    /// hide the codes themselves while they are held still.
    static let minimumFinderBlocks = 40
    static let minimumFinderRuns = 140
    /// Blocks flatter than this are never hidden: filling them flat changes nothing, and noise on
    /// a plain wall makes runs that look finder-like to a threshold at the block's own mean.
    static let minimumEdge = 2 * SceneSignature.tolerance

    private struct Spot {
        let mean: UInt8
        let edge: UInt8
    }

    private var spots: [Int: Spot] = [:]
    private var width = 0
    private var height = 0
    /// Recent passes that were not costly, in nanoseconds per pixel (the usual cost).
    private var usual: [Double] = []
    /// Passes found costly so far: for the tests and the benchmark.
    private(set) var costlyPasses = 0

    var isEmpty: Bool { spots.isEmpty }

    /// The budget of a pass over `pixels` pixels, in nanoseconds.
    func budget(pixels: Int) -> Double {
        let perPixel: Double
        if usual.count >= 3 {
            let sorted = usual.sorted()
            perPixel = max(Self.floorNanosecondsPerPixel, sorted[sorted.count / 2] * Self.costlyFactor)
        } else {
            perPixel = Self.initialNanosecondsPerPixel
        }
        return perPixel * Double(pixels)
    }

    /// Records how long a pass took; true when it was costly (its scene should be learnt).
    mutating func record(_ duration: Duration, pixels: Int) -> Bool {
        let nanoseconds = Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
        guard nanoseconds <= budget(pixels: pixels) else {
            costlyPasses += 1
            return true
        }
        usual.append(nanoseconds / Double(max(1, pixels)))
        if usual.count > 15 { usual.removeFirst() }
        return false
    }

    /// Learns the finder-like blocks of a frame whose pass was costly (adding to what is known).
    /// `pixels` is what the engine read (the frame with what was already hidden filled flat): only
    /// when that still held many finder-like blocks was the cost theirs. Only blocks that `steady`
    /// has seen unchanged for a while are learnt: what is new in view may be a code held up.
    mutating func learn(pixels: UnsafePointer<UInt8>, width: Int, height: Int, scene: SceneSignature, steady: SteadyBlocks) {
        func hideable(_ index: Int) -> Bool { scene.edges[index] >= Self.minimumEdge && steady.isSteady(index) }
        let counts = FinderRuns.countPerBlock(pixels: pixels, width: width, height: height, means: scene.means)
        let finderBlocks = counts.indices.filter { counts[$0] > 0 && scene.edges[$0] >= Self.minimumEdge }
        guard finderBlocks.count >= Self.minimumFinderBlocks,
            finderBlocks.reduce(0, { $0 + counts[$1] }) >= Self.minimumFinderRuns
        else { return }
        if width != self.width || height != self.height {
            spots = [:]
            self.width = width
            self.height = height
        }
        let columns = scene.columns
        let rows = scene.rows
        for index in finderBlocks where steady.isSteady(index) {
            let column = index % columns
            let row = index / columns
            // The block and its neighbours: a finder square's ring spans blocks whose rows hold no run.
            for neighbourRow in max(0, row - 1)...min(rows - 1, row + 1) {
                for neighbourColumn in max(0, column - 1)...min(columns - 1, column + 1) {
                    let neighbour = neighbourRow * columns + neighbourColumn
                    guard hideable(neighbour) else { continue }
                    spots[neighbour] = Spot(mean: scene.means[neighbour], edge: scene.edges[neighbour])
                }
            }
        }
    }

    /// A copy of a frame with blocks hidden.
    struct Masked {
        var masked: [UInt8]
        var hiddenBlocks: Int
    }

    /// The frame with every remembered block that still looks as it did filled with its mean;
    /// nil when no block is to be hidden (the caller then uses the frame as it is).
    func masked(pixels: UnsafePointer<UInt8>, width: Int, height: Int, scene: SceneSignature) -> Masked? {
        guard !spots.isEmpty, width == self.width, height == self.height else { return nil }
        var hidden: [Int] = []
        for (index, spot) in spots
        where abs(Int(scene.means[index]) - Int(spot.mean)) <= SceneSignature.tolerance
            && abs(Int(scene.edges[index]) - Int(spot.edge)) <= SceneSignature.tolerance
        {
            hidden.append(index)
        }
        guard !hidden.isEmpty else { return nil }
        var copy = Array(UnsafeBufferPointer(start: pixels, count: width * height))
        let block = SceneSignature.block
        copy.withUnsafeMutableBufferPointer { copy in
            for index in hidden {
                let left = (index % scene.columns) * block
                let top = (index / scene.columns) * block
                let fill = scene.means[index]
                for y in top..<min(height, top + block) {
                    let row = y * width
                    for x in left..<min(width, left + block) { copy[row + x] = fill }
                }
            }
        }
        return Masked(masked: copy, hiddenBlocks: hidden.count)
    }
}

/// Rows through finder-like patterns (dark, light, dark three times as wide, light, dark: the
/// 1:1:3:1:1 runs both engines look for), counted per 16×16 block of where their centre falls.
enum FinderRuns {
    static func countPerBlock(pixels: UnsafePointer<UInt8>, width: Int, height: Int, means: [UInt8]) -> [Int] {
        let block = SceneSignature.block
        let columns = (width + block - 1) / block
        var counts = [Int](repeating: 0, count: means.count)
        var runs: [(dark: Bool, start: Int, length: Int)] = []
        runs.reserveCapacity(width)
        var y = 0
        while y < height {
            let row = pixels + y * width
            let blockRow = (y / block) * columns
            runs.removeAll(keepingCapacity: true)
            var x = 0
            while x < width {
                let dark = row[x] < means[blockRow + x / block]
                if let last = runs.last, last.dark == dark {
                    runs[runs.count - 1].length += 1
                } else {
                    runs.append((dark, x, 1))
                }
                x += 1
            }
            if runs.count >= 5 {
                for first in 0...(runs.count - 5) where runs[first].dark {
                    let a = runs[first].length
                    let b = runs[first + 1].length
                    let c = runs[first + 2].length
                    let d = runs[first + 3].length
                    let e = runs[first + 4].length
                    let unit = Double(a + b + c + d + e) / 7
                    guard unit >= 1 else { continue }
                    let ones = [a, b, d, e].allSatisfy { Double($0) >= unit * 0.5 && Double($0) <= unit * 1.5 }
                    guard ones, Double(c) >= unit * 2, Double(c) <= unit * 4 else { continue }
                    let centre = runs[first + 2].start + c / 2
                    counts[blockRow + centre / block] += 1
                }
            }
            y += 2
        }
        return counts
    }
}

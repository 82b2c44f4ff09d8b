import CPixelKernels

/// A frame summarised in 16×16-pixel blocks: each block's mean brightness and its edge energy
/// (the mean difference between pixels two apart), from every second row and column.
///
/// Two apart, not neighbours: sampling pairs (x, x+1) at even x never crosses a boundary that
/// falls at even x, so a code or a printed pattern whose modules are an even number of pixels,
/// aligned so, had no edges at all by that measure.
///
/// Why: most of what a gate camera sees is the same empty lane, frame after frame, and zbar's full
/// pass on such a frame finds what it found last time — nothing. Where no block has changed since
/// the last frame zbar searched in vain, the live decoder skips that pass (see `QRScanner`). A
/// code cannot appear without changing blocks: its modules are edges, so even a code whose mean
/// brightness matches the background raises the edge energy of every block it covers by tens of
/// grey levels, against a fraction of one from sensor noise (averaged over 64 samples a block).
struct SceneSignature {
    static let block = 16
    /// How far a block's mean or edge energy may move (grey levels) and still count as the same scene.
    static let tolerance = 6

    let width: Int
    let height: Int
    /// Blocks across and down (the last ones may be cut by the frame's edge).
    var columns: Int { (width + Self.block - 1) / Self.block }
    var rows: Int { (height + Self.block - 1) / Self.block }
    private(set) var means: [UInt8]
    private(set) var edges: [UInt8]

    init(pixels: UnsafePointer<UInt8>, width: Int, height: Int) {
        self.width = width
        self.height = height
        let columns = (width + Self.block - 1) / Self.block
        let rows = (height + Self.block - 1) / Self.block
        var sums = [UInt32](repeating: 0, count: columns * rows)
        var edgeSums = [UInt32](repeating: 0, count: columns * rows)
        var counts = [UInt32](repeating: 0, count: columns * rows)
        sums.withUnsafeMutableBufferPointer { sums in
            edgeSums.withUnsafeMutableBufferPointer { edgeSums in
                counts.withUnsafeMutableBufferPointer { counts in
                    gh_block_sums(pixels, width, height, Self.block, sums.baseAddress, edgeSums.baseAddress, counts.baseAddress)
                }
            }
        }
        means = zip(sums, counts).map { UInt8(clamping: $1 == 0 ? 0 : $0 / $1) }
        edges = zip(edgeSums, counts).map { UInt8(clamping: $1 == 0 ? 0 : $0 / $1) }
    }

    /// Whether `other` shows the same scene: same size, and no block moved past the tolerance.
    func isSameScene(as other: SceneSignature) -> Bool {
        guard width == other.width, height == other.height else { return false }
        for index in means.indices {
            if abs(Int(means[index]) - Int(other.means[index])) > Self.tolerance { return false }
            if abs(Int(edges[index]) - Int(other.edges[index])) > Self.tolerance { return false }
        }
        return true
    }
}

/// How long each block of the view has looked the same, in frames.
///
/// Why: only what was already there before the engines choked may be hidden from them. A code
/// held up in view while the box is busy (a slow pass that is the scheduler's fault, or a
/// poster's first frames) is new in its blocks; learning it would hide the very code the lane is
/// waiting for for as long as it is held still.
struct SteadyBlocks {
    /// Frames a block must have looked the same before it may be hidden: a few cycles, short
    /// enough that a poster there since the kiosk started is hidden within a second.
    static let minimumFrames = 6

    private var means: [UInt8] = []
    private var edges: [UInt8] = []
    private var since: [Int] = []
    private var width = 0
    private var height = 0
    private var frame = 0

    /// Takes in one frame's scene (every live frame, in order).
    mutating func observe(_ scene: SceneSignature) {
        frame &+= 1
        guard scene.width == width, scene.height == height, means.count == scene.means.count else {
            width = scene.width
            height = scene.height
            means = scene.means
            edges = scene.edges
            since = Array(repeating: frame, count: scene.means.count)
            return
        }
        for index in means.indices
        where abs(Int(scene.means[index]) - Int(means[index])) > SceneSignature.tolerance
            || abs(Int(scene.edges[index]) - Int(edges[index])) > SceneSignature.tolerance
        {
            means[index] = scene.means[index]
            edges[index] = scene.edges[index]
            since[index] = frame
        }
    }

    /// Whether block `index` has looked as it does for at least `minimumFrames` frames.
    func isSteady(_ index: Int) -> Bool {
        index < since.count && frame - since[index] >= Self.minimumFrames
    }
}

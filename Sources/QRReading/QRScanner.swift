import GatehouseImage

/// Finds QR payloads in grey frames: libzbar and zxing-cpp, plus cheap second attempts where
/// they fail.
///
/// Why two engines: each reads photos the other misses. zxing-cpp's binariser and finder search
/// read close-ups, skewed and low-contrast codes that zbar's edge scanner loses; zbar reads some
/// codes under glare or blur that zxing-cpp does not. And zxing-cpp is cheap on an empty frame (a
/// sixth to a tenth of zbar's full scan), which matters most: a gate camera mostly sees no code.
///
/// Why more than one attempt: most tickets are shown on phone screens, and a camera sees the
/// screen's pixel grid as fine stripes inside the light modules, where zbar finds nothing (bare
/// zbar reads 0 of the 9 screen photos in our corpus). Averaging blocks of pixels, or a local
/// threshold, removes the stripes; a local threshold also rescues codes under glare or in dim
/// rooms; a bilinear 2× upscale rescues small, distant codes; the negative reads light-on-dark
/// ("dark mode") codes. Every attempt ends in an engine's Reed–Solomon check, which is what
/// decides that a read is right.
public final class QRScanner {
    public enum Effort: Sendable {
        /// For a live camera, within a budget (see `Engines` for the schedule per choice). A code
        /// held up to the camera is seen in many frames, so it meets every attempt within a few
        /// frames, while an empty frame costs less than bare zbar.
        case live
        /// For single images (the `decode` command, tests): every attempt of every engine chosen,
        /// and the union of what they read (a photo may hold several codes, each read best by a
        /// different attempt).
        case thorough
    }

    /// Which engines read: the `decoder` key of the kiosk's configuration.
    public enum Engines: String, Sendable, CaseIterable {
        /// Both, the default. Live: frames go in threes: bare zbar alone on the first, zxing-cpp
        /// on the other two and, where it reads nothing, one cheap zbar attempt (a rotation). A
        /// code that either engine reads on its own is read within three frames, and no frame
        /// costs more than bare zbar. The first frame of a cycle goes to zxing-cpp too when the
        /// scene is the one zbar last searched in vain (`SceneSignature`): an empty lane costs
        /// zbar's pass once, not every third frame.
        case zbarAndZXing = "zbar+zxing"
        /// zbar alone, as before zxing-cpp was added: the full zbar pass on every frame and one
        /// reduced-size attempt where it misses (about 1.4× bare zbar on an empty frame).
        case zbar
        /// zxing-cpp alone: the cheapest; every other missed frame also tries the negative.
        case zxing
    }

    /// The ways of reading an image, each an engine on the frame or on a transform of it.
    public enum Attempt: String, Sendable, CaseIterable {
        case fullResolution, zxing, zxingInverted
        /// zxing-cpp on the frame's left and right halves, or its top and bottom halves: a sheet of
        /// finder-like squares in one part of the view confuses zxing-cpp's detector for the whole
        /// frame, but not for a half without it.
        case zxingLeftRight, zxingTopBottom
        case halfSize, halfSizeInverted, thirdSize, halfSizeThreshold
        case inverted, upscaledThreshold, upscaled, fineThreshold, mediumThreshold, coarseThreshold, blurred, wideThreshold

        /// zbar on a transformed frame: the second attempts of the zbar side.
        static let zbarTransforms: [Attempt] = allCases.filter {
            ![.fullResolution, .zxing, .zxingInverted, .zxingLeftRight, .zxingTopBottom].contains($0)
        }

        /// zxing-cpp's attempts, in the order thorough reading runs them.
        static let zxingAttempts: [Attempt] = [.zxing, .zxingInverted, .zxingLeftRight, .zxingTopBottom]
    }

    public struct Result: Sendable, Equatable {
        /// Payloads in the order first read. A photo may show two copies of one code; each
        /// payload appears as often as the attempt that saw it most often saw it.
        public var payloads: [[UInt8]]
        /// The attempts that read something (for the benchmark and logs).
        public var attempts: [Attempt]
    }

    /// Reduced-size attempts need this many pixels left on the short side; smaller images lose
    /// modules and invite a wrong read that still passes error correction.
    static let minimumReducedSide = 240
    /// zbar alone: the attempts a live stream rotates through, one per frame that the plain pass
    /// misses. Five are cheap (a quarter or a ninth of the pixels); the full-size negative costs a
    /// whole pass but only every sixth missed frame, and reads dark-mode codes too small for the
    /// half-size negative (at 640×480).
    static let zbarRotation: [Attempt] = [.halfSizeThreshold, .thirdSize, .halfSizeInverted, .halfSize, .halfSizeThreshold, .inverted]
    /// Both engines: the attempt after a zxing-cpp miss. All cost a fraction of a zbar pass: the
    /// full-size negative goes to zxing-cpp here, not to zbar.
    static let mixedRotation: [Attempt] = [.halfSizeThreshold, .zxingInverted, .thirdSize, .halfSizeInverted, .halfSize]
    /// Both engines: frames per cycle; the first of each goes to bare zbar.
    public static let cycleLength = 3

    /// At most this many zbar frames in a row are skipped for an unchanged scene (about 10 s at
    /// 30 fps): a safety net, should a change ever slip under the scene's tolerance.
    static let maximumZbarSkips = 100

    /// Halves narrower or lower than this are not worth a pass of their own.
    static let minimumHalfSide = 120

    private let zbar = ZbarReader()
    private let zxing = ZXingReader()
    private var rotation = 0
    private var frame: Int
    /// Where bare zbar last searched in vain (live, both engines): its turn goes to zxing-cpp
    /// while the scene stays so.
    private var fruitlessZbar = FruitlessScene()
    /// Where zxing-cpp's halves (each pair) last found nothing: skipped while the scene stays so.
    private var fruitlessHalves: [Attempt: FruitlessScene] = [:]
    /// Left and right halves, then top and bottom: in any two zxing-cpp frames in a row, both.
    private var halvesTurn = 0
    /// What made each engine choke, hidden from that engine while it stays as it was (live only).
    /// Each engine has its own: a code in view when one engine choked stays visible to the other.
    private var zbarBlindSpots = BlindSpots()
    private var zxingBlindSpots = BlindSpots()
    private var steadyBlocks = SteadyBlocks()
    /// Full-frame zbar passes so far: for the tests and the benchmark.
    public private(set) var zbarPasses = 0
    /// Passes that took so much longer than usual that their scene was learnt as blind spots.
    public var costlyPasses: Int { zbarBlindSpots.costlyPasses + zxingBlindSpots.costlyPasses }
    /// Blocks (16×16 pixels) hidden from zbar the last time it read: for the tests and the benchmark.
    public private(set) var hiddenFromZbar = 0
    public let effort: Effort
    public let engines: Engines

    /// `startingFrame`: where in its cycle of attempts the scanner starts (the tests and the
    /// benchmark hold a code up at each point of the cycle).
    public init(effort: Effort = .live, engines: Engines = .zbarAndZXing, startingFrame: Int = 0) {
        self.effort = effort
        self.engines = engines
        self.frame = startingFrame
        self.rotation = startingFrame
    }

    /// Which zxing-cpp this build reads with, such as "1.4.0".
    public static var zxingVersion: String { ZXingReader.version }

    public func scan(_ image: GreyImage) -> Result {
        image.pixels.withUnsafeBufferPointer { scan(pixels: $0.baseAddress!, width: image.width, height: image.height) }
    }

    /// Scans a grey buffer the caller owns (a mapped camera buffer); nothing is kept after return.
    public func scan(pixels: UnsafePointer<UInt8>, width: Int, height: Int) -> Result {
        var result = Result(payloads: [], attempts: [])
        var knownScene: SceneSignature?
        func scene() -> SceneSignature {
            if let knownScene { return knownScene }
            let signature = SceneSignature(pixels: pixels, width: width, height: height)
            knownScene = signature
            return signature
        }
        var costlyZbar = false
        var costlyZXing = false
        // What each engine reads: the frame, or a copy with that engine's blind spots hidden
        // (made once per frame, only when it has some that still look as they did).
        var zbarCopy: BlindSpots.Masked??
        var zxingCopy: BlindSpots.Masked??
        func source<T>(zbar: Bool, _ body: (UnsafePointer<UInt8>) -> T) -> T {
            let spots = zbar ? zbarBlindSpots : zxingBlindSpots
            guard effort == .live, !spots.isEmpty else { return body(pixels) }
            let copy: BlindSpots.Masked?
            if let made = zbar ? zbarCopy : zxingCopy {
                copy = made
            } else {
                copy = spots.masked(pixels: pixels, width: width, height: height, scene: scene())
                if zbar {
                    zbarCopy = .some(copy)
                    hiddenFromZbar = copy?.hiddenBlocks ?? 0
                } else {
                    zxingCopy = .some(copy)
                }
            }
            guard let copy else { return body(pixels) }
            return copy.masked.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
        // `keys` say which payloads are the same code: raw bytes, which both engines report alike
        // where zxing-cpp's payload is its UTF-8 text and zbar's a Shift_JIS code's bytes.
        var keysSoFar: [[UInt8]] = []
        func add(_ payloads: [[UInt8]], keys: [[UInt8]]? = nil, _ attempt: Attempt) {
            let keys = keys ?? payloads
            var fresh: [[UInt8]] = []
            var freshKeys: [[UInt8]] = []
            var handled: [[UInt8]] = []
            for (payload, key) in zip(payloads, keys) where !handled.contains(key) {
                handled.append(key)
                let seenNow = keys.count { $0 == key }
                let seenBefore = keysSoFar.count { $0 == key }
                if seenNow > seenBefore {
                    fresh += Array(repeating: payload, count: seenNow - seenBefore)
                    freshKeys += Array(repeating: key, count: seenNow - seenBefore)
                }
            }
            keysSoFar += freshKeys
            guard !fresh.isEmpty else { return }
            result.payloads += fresh
            result.attempts.append(attempt)
        }
        /// One engine call, timed when live: a pass far over its engine's budget marks the scene
        /// costly for that engine.
        func timed<T>(zbar: Bool, _ pixelCount: Int, _ body: () -> T) -> T {
            guard effort == .live else { return body() }
            let start = ContinuousClock.now
            let value = body()
            let elapsed = ContinuousClock.now - start
            if zbar {
                if zbarBlindSpots.record(elapsed, pixels: pixelCount) { costlyZbar = true }
            } else if zxingBlindSpots.record(elapsed, pixels: pixelCount) {
                costlyZXing = true
            }
            return value
        }
        func readZXing(_ frame: UnsafePointer<UInt8>, _ window: (x: Int, y: Int, width: Int, height: Int), _ attempt: Attempt) {
            let codes = timed(zbar: false, window.width * window.height) {
                zxing.readCodes(pixels: frame + window.y * width + window.x, width: window.width, height: window.height, stride: width)
            }
            add(codes.map(\.payload), keys: codes.map(\.raw), attempt)
        }
        func run(_ attempt: Attempt) -> Bool {
            switch attempt {
            case .fullResolution:
                zbarPasses += 1
                add(
                    source(zbar: true) { frame in timed(zbar: true, width * height) { zbar.read(pixels: frame, width: width, height: height) } },
                    attempt
                )
            case .zxing:
                source(zbar: false) { readZXing($0, (0, 0, width, height), attempt) }
            case .zxingInverted:
                let negative = source(zbar: false) { ImageOps.inverted($0, width: width, height: height) }
                negative.pixels.withUnsafeBufferPointer { readZXing($0.baseAddress!, (0, 0, width, height), attempt) }
            case .zxingLeftRight, .zxingTopBottom:
                let windows: [(x: Int, y: Int, width: Int, height: Int)] =
                    attempt == .zxingLeftRight
                    ? [(0, 0, width / 2, height), (width / 2, 0, width - width / 2, height)]
                    : [(0, 0, width, height / 2), (0, height / 2, width, height - height / 2)]
                guard windows.allSatisfy({ min($0.width, $0.height) >= Self.minimumHalfSide }) else { return false }
                source(zbar: false) { frame in for window in windows { readZXing(frame, window, attempt) } }
            default:
                guard let image = source(zbar: true, { transform(attempt, $0, width, height) }) else { return false }
                add(timed(zbar: true, image.width * image.height) { zbar.read(image) }, attempt)
            }
            return true
        }
        /// One attempt of a rotation, skipping those the frame is too small for.
        func nextOf(_ rotation: [Attempt]) {
            for _ in 0..<rotation.count {
                let attempt = rotation[self.rotation % rotation.count]
                self.rotation &+= 1
                if run(attempt) { return }
            }
        }
        /// zxing-cpp on halves of the frame (left and right, or top and bottom, in turn), unless
        /// they found nothing in this very scene before.
        func halves() {
            let attempt: Attempt = halvesTurn % 2 == 0 ? .zxingLeftRight : .zxingTopBottom
            halvesTurn &+= 1
            let signature = scene()
            guard fruitlessHalves[attempt, default: FruitlessScene()].skips(signature) == false else { return }
            let before = result.payloads.count
            _ = run(attempt)
            fruitlessHalves[attempt, default: FruitlessScene()].searched(signature, found: result.payloads.count > before)
        }
        if effort == .live { steadyBlocks.observe(scene()) }
        defer {
            frame &+= 1
            if costlyZbar {
                source(zbar: true) { zbarBlindSpots.learn(pixels: $0, width: width, height: height, scene: scene(), steady: steadyBlocks) }
            }
            if costlyZXing {
                source(zbar: false) { zxingBlindSpots.learn(pixels: $0, width: width, height: height, scene: scene(), steady: steadyBlocks) }
            }
        }
        switch (effort, engines) {
        case (.thorough, _):
            if engines != .zxing {
                for attempt in [Attempt.fullResolution] + Attempt.zbarTransforms { _ = run(attempt) }
            }
            if engines != .zbar {
                for attempt in Attempt.zxingAttempts { _ = run(attempt) }
            }
        case (.live, .zbar):
            _ = run(.fullResolution)
            if result.payloads.isEmpty { nextOf(Self.zbarRotation) }
        case (.live, .zxing):
            _ = run(.zxing)
            if result.payloads.isEmpty { halves() }
            if result.payloads.isEmpty, frame % 2 == 1 { _ = run(.zxingInverted) }
        case (.live, .zbarAndZXing):
            var zbarsTurn = frame % Self.cycleLength == 0
            if zbarsTurn {
                let signature = scene()
                if fruitlessZbar.skips(signature) {
                    // What zbar found nothing in before: this turn goes to zxing-cpp.
                    zbarsTurn = false
                } else {
                    _ = run(.fullResolution)
                    fruitlessZbar.searched(signature, found: !result.payloads.isEmpty)
                }
            }
            if !zbarsTurn {
                _ = run(.zxing)
                if result.payloads.isEmpty { halves() }
                if result.payloads.isEmpty { nextOf(Self.mixedRotation) }
            }
        }
        return result
    }

    /// The image an attempt scans, or nil where the frame is too small for it.
    private func transform(_ attempt: Attempt, _ pixels: UnsafePointer<UInt8>, _ width: Int, _ height: Int) -> GreyImage? {
        let shortSide = min(width, height)
        func reduced(_ factor: Int, invert: Bool = false) -> GreyImage? {
            guard shortSide / factor >= Self.minimumReducedSide else { return nil }
            return ImageOps.downscale(pixels, width: width, height: height, factor: factor, invert: invert)
        }
        switch attempt {
        case .fullResolution, .zxing, .zxingInverted, .zxingLeftRight, .zxingTopBottom: return nil
        case .halfSize: return reduced(2)
        case .halfSizeInverted: return reduced(2, invert: true)
        case .thirdSize: return reduced(3)
        case .halfSizeThreshold:
            guard let half = reduced(2) else { return nil }
            return half.pixels.withUnsafeBufferPointer {
                ImageOps.localThreshold($0.baseAddress!, width: half.width, height: half.height, radiusFraction: 0.08, offset: 3)
            }
        case .inverted: return ImageOps.inverted(pixels, width: width, height: height)
        case .upscaled: return ImageOps.upscale2(pixels, width: width, height: height)
        case .upscaledThreshold:
            let large = ImageOps.upscale2(pixels, width: width, height: height)
            return large.pixels.withUnsafeBufferPointer {
                ImageOps.localThreshold($0.baseAddress!, width: large.width, height: large.height, radiusFraction: 0.04, offset: 3)
            }
        case .fineThreshold: return ImageOps.localThreshold(pixels, width: width, height: height, radiusFraction: 0.02, offset: 3)
        case .mediumThreshold: return ImageOps.localThreshold(pixels, width: width, height: height, radiusFraction: 0.04, offset: 0)
        case .coarseThreshold: return ImageOps.localThreshold(pixels, width: width, height: height, radiusFraction: 0.16, offset: 0)
        case .wideThreshold: return ImageOps.localThreshold(pixels, width: width, height: height, radiusFraction: 0.08, offset: 5)
        case .blurred: return ImageOps.boxBlur(pixels, width: width, height: height)
        }
    }
}

/// The scene one attempt last searched in vain, so that the live decoder skips the attempt while
/// nothing changes: at most `QRScanner.maximumZbarSkips` times in a row, a safety net should a
/// change ever slip under the scene's tolerance.
struct FruitlessScene {
    private var scene: SceneSignature?
    private var skipped = 0

    /// Whether the attempt may be skipped on `scene` (counted as a skip when it may).
    mutating func skips(_ scene: SceneSignature) -> Bool {
        guard let seen = self.scene, skipped < QRScanner.maximumZbarSkips, scene.isSameScene(as: seen) else { return false }
        skipped += 1
        return true
    }

    mutating func searched(_ scene: SceneSignature, found: Bool) {
        skipped = 0
        self.scene = found ? nil : scene
    }
}

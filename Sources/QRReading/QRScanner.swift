import GatehouseImage

/// Finds QR payloads in grey frames: libzbar, plus cheap second attempts where zbar alone fails.
///
/// Why more than one attempt: most tickets are shown on phone screens, and a camera sees the
/// screen's pixel grid as fine stripes inside the light modules, where zbar finds nothing (bare
/// zbar reads 0 of the 9 screen photos in our corpus). Averaging blocks of pixels, or a local
/// threshold, removes the stripes; a local threshold also rescues codes under glare or in dim
/// rooms; a bilinear 2× upscale rescues small, distant codes; the negative reads light-on-dark
/// ("dark mode") codes. Every attempt goes through zbar, whose Reed–Solomon check is what decides
/// that a read is right.
public final class QRScanner {
    public enum Effort: Sendable {
        /// For a live camera, within a budget: the full-resolution pass on every frame and, when it
        /// finds nothing, one cheap reduced-size attempt, a different one each frame. A code held up
        /// to the camera is seen in many frames, so it meets every attempt within a few frames,
        /// while an empty frame costs little more than bare zbar.
        case live
        /// For single images (the `decode` command, tests): every attempt, and the union of what
        /// they read (a photo may hold several codes, each read best by a different attempt).
        case thorough
    }

    /// The transforms tried after the plain pass.
    public enum Attempt: String, Sendable, CaseIterable {
        case fullResolution
        case halfSize, halfSizeInverted, thirdSize, halfSizeThreshold
        case inverted, upscaledThreshold, upscaled, fineThreshold, mediumThreshold, coarseThreshold, blurred, wideThreshold
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
    /// The attempts a live stream rotates through, one per frame that the plain pass misses. Five
    /// are cheap (a quarter or a ninth of the pixels); the full-size negative costs a whole pass
    /// but only every sixth missed frame, and reads dark-mode codes too small for the half-size
    /// negative (at 640×480). Averaged, an empty frame costs about 1.4× bare zbar.
    static let liveRotation: [Attempt] = [.halfSizeThreshold, .thirdSize, .halfSizeInverted, .halfSize, .halfSizeThreshold, .inverted]

    private let reader = ZbarReader()
    private var rotation = 0
    public let effort: Effort

    public init(effort: Effort = .live) {
        self.effort = effort
    }

    public func scan(_ image: GreyImage) -> Result {
        image.pixels.withUnsafeBufferPointer { scan(pixels: $0.baseAddress!, width: image.width, height: image.height) }
    }

    /// Scans a grey buffer the caller owns (a mapped camera buffer); nothing is kept after return.
    public func scan(pixels: UnsafePointer<UInt8>, width: Int, height: Int) -> Result {
        var result = Result(payloads: [], attempts: [])
        func add(_ payloads: [[UInt8]], _ attempt: Attempt) {
            var fresh: [[UInt8]] = []
            for payload in payloads where !fresh.contains(payload) {
                let seenNow = payloads.count { $0 == payload }
                let seenBefore = result.payloads.count { $0 == payload }
                if seenNow > seenBefore { fresh += Array(repeating: payload, count: seenNow - seenBefore) }
            }
            guard !fresh.isEmpty else { return }
            result.payloads += fresh
            result.attempts.append(attempt)
        }
        add(reader.read(pixels: pixels, width: width, height: height), .fullResolution)
        switch effort {
        case .live:
            guard result.payloads.isEmpty else { return result }
            // Skip attempts the frame is too small for; at most one extra pass per frame.
            for _ in 0..<Self.liveRotation.count {
                let attempt = Self.liveRotation[rotation % Self.liveRotation.count]
                rotation &+= 1
                if let image = transform(attempt, pixels, width, height) {
                    add(reader.read(image), attempt)
                    break
                }
            }
        case .thorough:
            for attempt in Attempt.allCases where attempt != .fullResolution {
                if let image = transform(attempt, pixels, width, height) { add(reader.read(image), attempt) }
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
        case .fullResolution: return nil
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

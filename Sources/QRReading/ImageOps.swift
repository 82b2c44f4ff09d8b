import CPixelKernels
import GatehouseImage

/// Cheap image transforms for second decoding attempts. Each works on raw grey buffers and
/// allocates only its output; the loops themselves are C (`CPixelKernels`), fast in every build.
public enum ImageOps {
    /// Averages each `factor`×`factor` block into one pixel. Averaging removes the fine stripes a
    /// screen's pixel grid draws inside a code's light modules (moiré), and the result has
    /// 1/factor² of the pixels, so a second zbar pass on it costs a fraction of the first.
    public static func downscale(_ source: UnsafePointer<UInt8>, width: Int, height: Int, factor: Int, invert: Bool = false) -> GreyImage {
        precondition(factor > 0, "a downscale factor is at least 1")
        return image(width: width / factor, height: height / factor) {
            gh_downscale(source, width, height, factor, invert ? 1 : 0, $0)
        }
    }

    /// The negative of an image: light-on-dark ("dark mode") codes become ordinary ones.
    public static func inverted(_ source: UnsafePointer<UInt8>, width: Int, height: Int) -> GreyImage {
        image(width: width, height: height) { gh_invert(source, width * height, $0) }
    }

    /// A 3×3 box blur (separable), for codes whose edges are broken up by noise or moiré at full
    /// resolution.
    public static func boxBlur(_ source: UnsafePointer<UInt8>, width: Int, height: Int) -> GreyImage {
        guard width >= 3, height >= 3 else {
            return GreyImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: source, count: width * height)))
        }
        var rowSums = [UInt16](repeating: 0, count: width * height)
        return rowSums.withUnsafeMutableBufferPointer { scratch in
            image(width: width, height: height) { gh_box_blur(source, width, height, scratch.baseAddress, $0) }
        }
    }

    /// Doubles width and height with bilinear interpolation: small, distant codes get modules
    /// wide enough for zbar's edge detector.
    public static func upscale2(_ source: UnsafePointer<UInt8>, width: Int, height: Int) -> GreyImage {
        image(width: width * 2, height: height * 2) { gh_upscale2(source, width, height, $0) }
    }

    /// Black where a pixel is darker than the mean of its neighbourhood (a square of side
    /// 2·radius+1) minus `offset`, white elsewhere. Local thresholds survive glare, shadows and
    /// dim rooms, where one threshold for the whole frame fails; and the hard edges it draws also
    /// hide a screen's pixel grid. The mean comes from an integral image: cost independent of the
    /// radius.
    public static func localThreshold(_ source: UnsafePointer<UInt8>, width: Int, height: Int, radiusFraction: Double, offset: Int) -> GreyImage {
        let radius = max(4, Int(Double(min(width, height)) * radiusFraction))
        var integral = [UInt32](repeating: 0, count: (width + 1) * (height + 1))
        return integral.withUnsafeMutableBufferPointer { sums in
            image(width: width, height: height) {
                gh_local_threshold(source, width, height, radius, Int32(clamping: offset), sums.baseAddress, $0)
            }
        }
    }

    /// A new image of the given size whose pixels `fill` writes.
    private static func image(width: Int, height: Int, fill: (UnsafeMutablePointer<UInt8>) -> Void) -> GreyImage {
        let count = width * height
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let start = buffer.baseAddress, count > 0 { fill(start) }
            initialized = count
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }
}

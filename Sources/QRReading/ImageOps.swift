import GatehouseImage

/// Cheap image transforms for second decoding attempts. Each works on raw grey buffers and
/// allocates only its output.
public enum ImageOps {
    /// Averages each `factor`×`factor` block into one pixel. Averaging removes the fine stripes a
    /// screen's pixel grid draws inside a code's light modules (moiré), and the result has
    /// 1/factor² of the pixels, so a second zbar pass on it costs a fraction of the first.
    public static func downscale(_ source: UnsafePointer<UInt8>, width: Int, height: Int, factor: Int, invert: Bool = false) -> GreyImage {
        let outWidth = width / factor
        let outHeight = height / factor
        var pixels = [UInt8](repeating: 0, count: outWidth * outHeight)
        let area = factor * factor
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<outHeight {
                for x in 0..<outWidth {
                    var sum = 0
                    for dy in 0..<factor {
                        let row = source + (y * factor + dy) * width + x * factor
                        for dx in 0..<factor { sum += Int(row[dx]) }
                    }
                    let value = UInt8(sum / area)
                    out[y * outWidth + x] = invert ? 255 - value : value
                }
            }
        }
        return GreyImage(width: outWidth, height: outHeight, pixels: pixels)
    }

    /// The negative of an image: light-on-dark ("dark mode") codes become ordinary ones.
    public static func inverted(_ source: UnsafePointer<UInt8>, width: Int, height: Int) -> GreyImage {
        let count = width * height
        var pixels = [UInt8](repeating: 0, count: count)
        pixels.withUnsafeMutableBufferPointer { out in
            for index in 0..<count { out[index] = 255 - source[index] }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }

    /// A 3×3 box blur (separable), for codes whose edges are broken up by noise or moiré at full
    /// resolution.
    public static func boxBlur(_ source: UnsafePointer<UInt8>, width: Int, height: Int) -> GreyImage {
        guard width >= 3, height >= 3 else {
            return GreyImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: source, count: width * height)))
        }
        var horizontal = [UInt16](repeating: 0, count: width * height)
        for y in 0..<height {
            let row = source + y * width
            horizontal[y * width] = UInt16(row[0]) * 2 + UInt16(row[1])
            for x in 1..<(width - 1) { horizontal[y * width + x] = UInt16(row[x - 1]) + UInt16(row[x]) + UInt16(row[x + 1]) }
            horizontal[y * width + width - 1] = UInt16(row[width - 2]) + UInt16(row[width - 1]) * 2
        }
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            let above = max(0, y - 1) * width
            let below = min(height - 1, y + 1) * width
            for x in 0..<width {
                let sum = Int(horizontal[above + x]) + Int(horizontal[y * width + x]) + Int(horizontal[below + x])
                pixels[y * width + x] = UInt8(sum / 9)
            }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }

    /// Doubles width and height with bilinear interpolation: small, distant codes get modules
    /// wide enough for zbar's edge detector.
    public static func upscale2(_ source: UnsafePointer<UInt8>, width: Int, height: Int) -> GreyImage {
        let outWidth = width * 2
        let outHeight = height * 2
        var pixels = [UInt8](repeating: 0, count: outWidth * outHeight)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<outHeight {
                // Source position of this output row, in 1/2 pixel steps.
                let sy = y / 2
                let y1 = min(sy + 1, height - 1)
                let fy = y & 1
                let row0 = source + sy * width
                let row1 = source + y1 * width
                for x in 0..<outWidth {
                    let sx = x / 2
                    let x1 = min(sx + 1, width - 1)
                    let fx = x & 1
                    let top = Int(row0[sx]) * (2 - fx) + Int(row0[x1]) * fx
                    let bottom = Int(row1[sx]) * (2 - fx) + Int(row1[x1]) * fx
                    out[y * outWidth + x] = UInt8((top * (2 - fy) + bottom * fy) / 4)
                }
            }
        }
        return GreyImage(width: outWidth, height: outHeight, pixels: pixels)
    }

    /// Black where a pixel is darker than the mean of its neighbourhood (a square of side
    /// 2·radius+1) minus `offset`, white elsewhere. Local thresholds survive glare, shadows and
    /// dim rooms, where one threshold for the whole frame fails; and the hard edges it draws also
    /// hide a screen's pixel grid. The mean comes from an integral image: cost independent of the
    /// radius.
    public static func localThreshold(_ source: UnsafePointer<UInt8>, width: Int, height: Int, radiusFraction: Double, offset: Int) -> GreyImage {
        let radius = max(4, Int(Double(min(width, height)) * radiusFraction))
        let stride = width + 1
        var integral = [UInt32](repeating: 0, count: stride * (height + 1))
        integral.withUnsafeMutableBufferPointer { sums in
            for y in 0..<height {
                var rowSum: UInt32 = 0
                for x in 0..<width {
                    rowSum &+= UInt32(source[y * width + x])
                    sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] &+ rowSum
                }
            }
        }
        var pixels = [UInt8](repeating: 255, count: width * height)
        integral.withUnsafeBufferPointer { sums in
            pixels.withUnsafeMutableBufferPointer { out in
                for y in 0..<height {
                    let top = max(0, y - radius)
                    let bottom = min(height, y + radius + 1)
                    for x in 0..<width {
                        let left = max(0, x - radius)
                        let right = min(width, x + radius + 1)
                        let sum =
                            sums[bottom * stride + right] &- sums[top * stride + right] &- sums[bottom * stride + left] &+ sums[top * stride + left]
                        let area = (bottom - top) * (right - left)
                        // pixel < mean - offset, in integers: pixel·area + offset·area < sum
                        if (Int(source[y * width + x]) + offset) * area < Int(sum) { out[y * width + x] = 0 }
                    }
                }
            }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }
}

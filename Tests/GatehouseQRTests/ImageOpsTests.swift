import GatehouseImage
import Testing

@testable import QRReading

/// The pixel kernels against their definitions, written out the slow, obvious way: every output
/// pixel computed on its own from the pixels it is defined by, edges clamped.
@Suite(.computeBound) struct ImageOpsTests {
    /// Sizes that divide by nothing in particular, and the smallest the blur accepts.
    static let sizes: [(width: Int, height: Int)] = [(37, 23), (3, 3), (64, 5), (101, 97)]

    static func noise(width: Int, height: Int, seed: UInt64) -> GreyImage {
        var state = seed
        let pixels = (0..<(width * height)).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }

    /// A pixel with its coordinates clamped into the image, as the kernels treat the edges.
    static func at(_ image: GreyImage, _ x: Int, _ y: Int) -> Int {
        Int(image.pixels[min(max(y, 0), image.height - 1) * image.width + min(max(x, 0), image.width - 1)])
    }

    static func each(_ body: (GreyImage) -> Void) {
        for (seed, size) in sizes.enumerated() { body(noise(width: size.width, height: size.height, seed: UInt64(seed) + 1)) }
    }

    @Test func downscale_is_each_blocks_mean_rounded_down() {
        Self.each { image in
            for factor in [1, 2, 3] {
                for invert in [false, true] {
                    let out = image.pixels.withUnsafeBufferPointer {
                        ImageOps.downscale($0.baseAddress!, width: image.width, height: image.height, factor: factor, invert: invert)
                    }
                    #expect(out.width == image.width / factor && out.height == image.height / factor)
                    for y in 0..<out.height {
                        for x in 0..<out.width {
                            var sum = 0
                            for dy in 0..<factor { for dx in 0..<factor { sum += Self.at(image, x * factor + dx, y * factor + dy) } }
                            let mean = sum / (factor * factor)
                            #expect(Int(out.pixels[y * out.width + x]) == (invert ? 255 - mean : mean), "(\(x), \(y)) ×\(factor)")
                        }
                    }
                }
            }
        }
    }

    @Test func inverted_is_the_negative() {
        Self.each { image in
            let out = image.pixels.withUnsafeBufferPointer { ImageOps.inverted($0.baseAddress!, width: image.width, height: image.height) }
            #expect(out.pixels == image.pixels.map { 255 - $0 })
        }
    }

    @Test func box_blur_is_the_mean_of_nine_with_edges_repeated() {
        Self.each { image in
            let out = image.pixels.withUnsafeBufferPointer { ImageOps.boxBlur($0.baseAddress!, width: image.width, height: image.height) }
            for y in 0..<image.height {
                for x in 0..<image.width {
                    var sum = 0
                    for dy in -1...1 { for dx in -1...1 { sum += Self.at(image, x + dx, y + dy) } }
                    #expect(Int(out.pixels[y * image.width + x]) == sum / 9, "(\(x), \(y))")
                }
            }
        }
    }

    @Test func upscale_keeps_every_pixel_and_puts_bilinear_means_between() {
        Self.each { image in
            let out = image.pixels.withUnsafeBufferPointer { ImageOps.upscale2($0.baseAddress!, width: image.width, height: image.height) }
            #expect(out.width == image.width * 2 && out.height == image.height * 2)
            for y in 0..<out.height {
                for x in 0..<out.width {
                    let (sx, sy, fx, fy) = (x / 2, y / 2, x % 2, y % 2)
                    // Weights in quarters: a pixel half-way between two takes half of each.
                    let weighted =
                        (2 - fx) * (2 - fy) * Self.at(image, sx, sy) + fx * (2 - fy) * Self.at(image, sx + 1, sy)
                        + (2 - fx) * fy * Self.at(image, sx, sy + 1) + fx * fy * Self.at(image, sx + 1, sy + 1)
                    #expect(Int(out.pixels[y * out.width + x]) == weighted / 4, "(\(x), \(y))")
                }
            }
        }
    }

    @Test(arguments: [(0.02, 3), (0.08, 5), (0.16, 0)])
    func local_threshold_compares_each_pixel_with_its_windows_mean(radiusFraction: Double, offset: Int) {
        Self.each { image in
            let out = image.pixels.withUnsafeBufferPointer {
                ImageOps.localThreshold($0.baseAddress!, width: image.width, height: image.height, radiusFraction: radiusFraction, offset: offset)
            }
            let radius = max(4, Int(Double(min(image.width, image.height)) * radiusFraction))
            for y in 0..<image.height {
                for x in 0..<image.width {
                    var sum = 0
                    var area = 0
                    for wy in max(0, y - radius)...min(image.height - 1, y + radius) {
                        for wx in max(0, x - radius)...min(image.width - 1, x + radius) {
                            sum += Self.at(image, wx, wy)
                            area += 1
                        }
                    }
                    let dark = (Self.at(image, x, y) + offset) * area < sum
                    #expect(out.pixels[y * image.width + x] == (dark ? 0 : 255), "(\(x), \(y))")
                }
            }
        }
    }

    /// 4,200² white pixels sum to more than 2³²: the integral image's corner sums wrap, and each
    /// window's sum must still come out exact (a dark pixel black, its white neighbours white).
    @Test func local_threshold_holds_where_the_integral_image_wraps() {
        let side = 4_200
        var pixels = [UInt8](repeating: 255, count: side * side)
        pixels[side * side - 1] = 0
        pixels[side * (side / 2) + side / 2] = 0
        let out = pixels.withUnsafeBufferPointer {
            ImageOps.localThreshold($0.baseAddress!, width: side, height: side, radiusFraction: 0.02, offset: 3)
        }
        #expect(out.pixels[side * side - 1] == 0)
        #expect(out.pixels[side * side - 2] == 255)
        #expect(out.pixels[side * (side / 2) + side / 2] == 0)
        #expect(out.pixels.filter { $0 == 0 }.count == 2)
    }

    @Test func scene_blocks_are_the_means_and_edges_of_every_second_pixel() {
        Self.each { image in
            let scene = image.pixels.withUnsafeBufferPointer { SceneSignature(pixels: $0.baseAddress!, width: image.width, height: image.height) }
            let block = SceneSignature.block
            for row in 0..<scene.rows {
                for column in 0..<scene.columns {
                    var (sum, edges, count) = (0, 0, 0)
                    for y in stride(from: row * block, to: min(image.height, (row + 1) * block), by: 2) {
                        for x in stride(from: column * block, to: min(image.width - 2, (column + 1) * block), by: 2) {
                            sum += Self.at(image, x, y)
                            edges += abs(Self.at(image, x, y) - Self.at(image, x + 2, y))
                            count += 1
                        }
                    }
                    let index = row * scene.columns + column
                    #expect(Int(scene.means[index]) == (count == 0 ? 0 : sum / count), "block (\(column), \(row))")
                    #expect(Int(scene.edges[index]) == (count == 0 ? 0 : edges / count), "block (\(column), \(row))")
                }
            }
        }
    }
}

#ifndef GATEHOUSE_PIXEL_KERNELS_H
#define GATEHOUSE_PIXEL_KERNELS_H

// The loops that touch every pixel of a camera frame, in C so that they run at the same speed in
// every build: SwiftPM builds debug Swift at -Onone (no setting but an unsafe flag raises it), and
// an unoptimised Swift loop over a frame is many times slower than an unoptimised C one. Images
// are 8-bit grey, row-major, one byte a pixel; each function writes only `out` (and `scratch`).

#include <stddef.h>
#include <stdint.h>

/// Each `factor`×`factor` block's mean, or 255 minus it when `invert` is non-zero.
/// `out` holds (width / factor)·(height / factor) bytes.
void gh_downscale(const uint8_t *source, size_t width, size_t height, size_t factor, int invert,
                  uint8_t *out);

/// 255 minus each of `count` pixels.
void gh_invert(const uint8_t *source, size_t count, uint8_t *out);

/// A separable 3×3 box blur, edges replicated. Needs width, height ≥ 3; `scratch` holds
/// width·height values.
void gh_box_blur(const uint8_t *source, size_t width, size_t height, uint16_t *scratch, uint8_t *out);

/// Twice the width and height, bilinear. `out` holds 4·width·height bytes.
void gh_upscale2(const uint8_t *source, size_t width, size_t height, uint8_t *out);

/// 0 where a pixel is darker than the mean of the (2·radius+1)² square around it (cut by the
/// image's edges) minus `offset`, else 255. `integral` holds (width+1)·(height+1) values.
void gh_local_threshold(const uint8_t *source, size_t width, size_t height, size_t radius, int offset,
                        uint32_t *integral, uint8_t *out);

/// Per `block`×`block` block, from every second row and every second column: the sum of the
/// pixels, the sum of |p(x) − p(x+2)| and how many were sampled. Each array holds one value per
/// block, ⌈width/block⌉ across, and is added to (zero it first).
void gh_block_sums(const uint8_t *source, size_t width, size_t height, size_t block, uint32_t *sums,
                   uint32_t *edge_sums, uint32_t *counts);

#endif

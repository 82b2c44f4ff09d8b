#include "gh_pixel_kernels.h"

static size_t smaller(size_t a, size_t b) { return a < b ? a : b; }

void gh_downscale(const uint8_t *source, size_t width, size_t height, size_t factor, int invert,
                  uint8_t *out) {
    const size_t out_width = width / factor, out_height = height / factor, area = factor * factor;
    for (size_t y = 0; y < out_height; y++) {
        for (size_t x = 0; x < out_width; x++) {
            size_t sum = 0;
            for (size_t dy = 0; dy < factor; dy++) {
                const uint8_t *row = source + (y * factor + dy) * width + x * factor;
                for (size_t dx = 0; dx < factor; dx++) sum += row[dx];
            }
            const uint8_t value = (uint8_t)(sum / area);
            out[y * out_width + x] = invert ? (uint8_t)(255 - value) : value;
        }
    }
}

void gh_invert(const uint8_t *source, size_t count, uint8_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = (uint8_t)(255 - source[i]);
}

void gh_box_blur(const uint8_t *source, size_t width, size_t height, uint16_t *scratch, uint8_t *out) {
    for (size_t y = 0; y < height; y++) {
        const uint8_t *row = source + y * width;
        uint16_t *sums = scratch + y * width;
        sums[0] = (uint16_t)(row[0] * 2 + row[1]);
        for (size_t x = 1; x + 1 < width; x++) sums[x] = (uint16_t)(row[x - 1] + row[x] + row[x + 1]);
        sums[width - 1] = (uint16_t)(row[width - 2] + row[width - 1] * 2);
    }
    for (size_t y = 0; y < height; y++) {
        const uint16_t *above = scratch + (y == 0 ? 0 : y - 1) * width;
        const uint16_t *here = scratch + y * width;
        const uint16_t *below = scratch + smaller(height - 1, y + 1) * width;
        for (size_t x = 0; x < width; x++) out[y * width + x] = (uint8_t)((above[x] + here[x] + below[x]) / 9);
    }
}

void gh_upscale2(const uint8_t *source, size_t width, size_t height, uint8_t *out) {
    const size_t out_width = width * 2, out_height = height * 2;
    for (size_t y = 0; y < out_height; y++) {
        // The source row of this output row, and whether it lies half-way to the next one.
        const size_t sy = y / 2, fy = y & 1;
        const uint8_t *row0 = source + sy * width;
        const uint8_t *row1 = source + smaller(sy + 1, height - 1) * width;
        for (size_t x = 0; x < out_width; x++) {
            const size_t sx = x / 2, x1 = smaller(sx + 1, width - 1), fx = x & 1;
            const size_t top = row0[sx] * (2 - fx) + row0[x1] * fx;
            const size_t bottom = row1[sx] * (2 - fx) + row1[x1] * fx;
            out[y * out_width + x] = (uint8_t)((top * (2 - fy) + bottom * fy) / 4);
        }
    }
}

void gh_local_threshold(const uint8_t *source, size_t width, size_t height, size_t radius, int offset,
                        uint32_t *integral, uint8_t *out) {
    const size_t stride = width + 1;
    for (size_t x = 0; x < stride; x++) integral[x] = 0;
    for (size_t y = 0; y < height; y++) {
        uint32_t row_sum = 0;
        integral[(y + 1) * stride] = 0;
        for (size_t x = 0; x < width; x++) {
            row_sum += source[y * width + x];
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row_sum;
        }
    }
    for (size_t y = 0; y < height; y++) {
        const size_t top = y > radius ? y - radius : 0, bottom = smaller(height, y + radius + 1);
        for (size_t x = 0; x < width; x++) {
            const size_t left = x > radius ? x - radius : 0, right = smaller(width, x + radius + 1);
            // Corner sums of a large image wrap past 2³², but unsigned arithmetic wraps too, and
            // a window's own sum fits: it comes out exact.
            const uint32_t sum = integral[bottom * stride + right] - integral[top * stride + right] -
                                 integral[bottom * stride + left] + integral[top * stride + left];
            const int64_t area = (int64_t)((bottom - top) * (right - left));
            // pixel < mean − offset, in integers: (pixel + offset)·area < sum
            out[y * width + x] = ((int64_t)source[y * width + x] + offset) * area < (int64_t)sum ? 0 : 255;
        }
    }
}

void gh_block_sums(const uint8_t *source, size_t width, size_t height, size_t block, uint32_t *sums,
                   uint32_t *edge_sums, uint32_t *counts) {
    const size_t columns = (width + block - 1) / block;
    for (size_t y = 0; y < height; y += 2) {
        const uint8_t *row = source + y * width;
        const size_t block_row = (y / block) * columns;
        for (size_t x = 0; x + 2 < width; x += 2) {
            const size_t index = block_row + x / block;
            const int here = row[x], next = row[x + 2];
            sums[index] += (uint32_t)here;
            edge_sums[index] += (uint32_t)(here > next ? here - next : next - here);
            counts[index] += 1;
        }
    }
}

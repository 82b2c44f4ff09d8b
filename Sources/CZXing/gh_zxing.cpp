// See include/gh_zxing.h. Compiled against zxing-cpp 1.4 or 2.x; its version header says which.
#include "gh_zxing.h"

#include <ZXing/ReadBarcode.h>
// 2.x renamed ZXVersion.h to Version.h (the old name still works there, with a warning).
#if __has_include(<ZXing/Version.h>)
#include <ZXing/Version.h>
#else
#include <ZXing/ZXVersion.h>
#endif

#include <new>
#include <string>
#include <vector>

// 2.2 renamed DecodeHints to ReaderOptions and added inverting to the options.
#if ZXING_VERSION_MAJOR > 2 || (ZXING_VERSION_MAJOR == 2 && ZXING_VERSION_MINOR >= 2)
#include <ZXing/ReaderOptions.h>
using GhOptions = ZXing::ReaderOptions;
#define GH_ZXING_HAS_INVERT_OPTION 1
#else
#include <ZXing/DecodeHints.h>
using GhOptions = ZXing::DecodeHints;
#define GH_ZXING_HAS_INVERT_OPTION 0
#endif

struct gh_zxing_reader {
    GhOptions options;
    struct Found {
        std::vector<uint8_t> bytes;
        bool isText;
        std::string text;
    };
    std::vector<Found> found;
};

extern "C" gh_zxing_reader *gh_zxing_reader_create(void) {
    auto *reader = new (std::nothrow) gh_zxing_reader();
    if (!reader) return nullptr;
    reader->options.setFormats(ZXing::BarcodeFormat::QRCode);
    reader->options.setTryHarder(true);
    // Rotation matters for 1-D codes only; a QR detector finds any orientation.
    reader->options.setTryRotate(false);
    reader->options.setTryDownscale(true);
#if GH_ZXING_HAS_INVERT_OPTION
    // 2.x inverts by default, a second pass on every empty frame: the caller schedules negatives.
    reader->options.setTryInvert(false);
#endif
    return reader;
}

extern "C" void gh_zxing_reader_destroy(gh_zxing_reader *reader) { delete reader; }

static void collect(gh_zxing_reader *reader, const ZXing::Results &results) {
    for (const auto &result : results) {
        if (result.format() != ZXing::BarcodeFormat::QRCode || !result.isValid()) continue;
        const auto &bytes = result.bytes();
        // Mixed: text with control characters in it (some codes start with a header of them).
        bool isText = result.contentType() == ZXing::ContentType::Text || result.contentType() == ZXing::ContentType::Mixed;
        reader->found.push_back({std::vector<uint8_t>(bytes.begin(), bytes.end()), isText, isText ? result.text() : std::string()});
    }
}

extern "C" int gh_zxing_read(gh_zxing_reader *reader, const uint8_t *pixels, int width, int height, int stride) {
    if (!reader || !pixels || width <= 0 || height <= 0 || stride < width) return -1;
    try {
        reader->found.clear();
        ZXing::ImageView view(pixels, width, height, ZXing::ImageFormat::Lum, stride);
        collect(reader, ZXing::ReadBarcodes(view, reader->options));
        return static_cast<int>(reader->found.size());
    } catch (...) {
        reader->found.clear();
        return -1;
    }
}

// An index out of range returns nothing rather than throw: no exception may leave extern "C".
static const gh_zxing_reader::Found *found_at(const gh_zxing_reader *reader, int index) {
    if (!reader || index < 0 || static_cast<size_t>(index) >= reader->found.size()) return nullptr;
    return &reader->found[static_cast<size_t>(index)];
}

extern "C" const uint8_t *gh_zxing_result_bytes(const gh_zxing_reader *reader, int index, size_t *length) {
    const auto *found = found_at(reader, index);
    *length = found ? found->bytes.size() : 0;
    return found ? found->bytes.data() : nullptr;
}

extern "C" const char *gh_zxing_result_text(const gh_zxing_reader *reader, int index, size_t *length) {
    const auto *found = found_at(reader, index);
    *length = found && found->isText ? found->text.size() : 0;
    return found && found->isText ? found->text.c_str() : nullptr;
}

extern "C" int gh_zxing_version(void) {
    return ZXING_VERSION_MAJOR * 10000 + ZXING_VERSION_MINOR * 100 + ZXING_VERSION_PATCH;
}

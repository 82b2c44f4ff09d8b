#ifndef GATEHOUSE_ZXING_H
#define GATEHOUSE_ZXING_H
// zxing-cpp's QR reader behind a small C interface Swift can import. zxing-cpp is C++ and its
// API changed between 1.4 (Debian 12, Raspberry Pi OS bookworm: DecodeHints) and 2.x (Debian 13,
// trixie: ReaderOptions); the branch is picked at compile time from the header (see gh_zxing.cpp).
// No C++ exception crosses this interface: a failure inside zxing-cpp reads as "nothing found".
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gh_zxing_reader gh_zxing_reader;

// A reader for QR codes only, with zxing-cpp's more thorough detector (more finder-pattern rows,
// rotated and skewed codes) and without its own second pass on the negative (the caller decides
// when a negative is worth a pass). NULL only when out of memory.
gh_zxing_reader *gh_zxing_reader_create(void);
void gh_zxing_reader_destroy(gh_zxing_reader *reader);

// Reads an 8-bit grey image (row stride in bytes). Returns the number of codes decoded, whose
// payloads stay readable through gh_zxing_result_bytes until the next read or destroy; -1 when
// zxing-cpp failed (out of memory, an internal error), which the caller treats as nothing found.
int gh_zxing_read(gh_zxing_reader *reader, const uint8_t *pixels, int width, int height, int stride);

// The payload of code `index` of the last read, as raw bytes (no character-set conversion), and
// their count; NULL with *length 0 for an index out of range.
const uint8_t *gh_zxing_result_bytes(const gh_zxing_reader *reader, int index, size_t *length);
// The same payload as UTF-8 text after zxing-cpp's character-set handling (ECI, Kanji and Hanzi
// segments, its Shift_JIS guess), or NULL when zxing-cpp judged the content binary.
const char *gh_zxing_result_text(const gh_zxing_reader *reader, int index, size_t *length);

// The zxing-cpp version this was compiled against, e.g. 10400 for 1.4.0, 20300 for 2.3.0.
int gh_zxing_version(void);

#ifdef __cplusplus
}
#endif
#endif

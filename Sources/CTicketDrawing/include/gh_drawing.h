#ifndef GATEHOUSE_DRAWING_H
#define GATEHOUSE_DRAWING_H

// PDF pages drawn with cairo, text laid out by Pango (fonts found by fontconfig, with fallback
// for scripts the first font lacks, right-to-left text and shaping). A small surface so that
// Swift sees neither cairo's nor GLib's headers. Lengths are in points (1/72 inch), y downwards.

#include <stddef.h>
#include <stdint.h>

typedef struct gh_pdf gh_pdf;

/// A new document, written to memory, whose pages are `width` × `height`. NULL when cairo
/// cannot make one.
gh_pdf *gh_pdf_create(double width, double height, const char *title);

enum { GH_ALIGN_LEFT = 0, GH_ALIGN_CENTER = 1, GH_ALIGN_RIGHT = 2 };

/// Draws `length` bytes of UTF-8 in a column `width` wide whose top-left corner is (x, y), in a
/// font as Pango names one ("Sans Bold 18"), wrapped at words (within a word where one is wider
/// than the column), on at most `max_lines` lines, the last ending in "…" when the text is cut
/// (`*cut` then non-zero; the PDF's text layer keeps what the ellipsis stands for, so a copy
/// from the document gives the whole text). Returns the height drawn.
double gh_pdf_text(gh_pdf *pdf, const char *utf8, size_t length, const char *font, double x, double y,
                   double width, int alignment, int max_lines, int *cut);

/// Fills `count` rectangles, given as x, y, width, height in `rectangles`, with grey `level` (0
/// black, 1 white), as one shape: where two touch, no seam shows.
void gh_pdf_fill_rectangles(gh_pdf *pdf, const double *rectangles, size_t count, double level);

/// Ends the page and starts another of the same size.
void gh_pdf_next_page(gh_pdf *pdf);

/// Ends the document and frees `pdf`. On success returns 0 and the document in `*bytes` (free it
/// with free()) and `*count`; on failure returns -1 and cairo's reason in `*error` (static text).
int gh_pdf_finish(gh_pdf *pdf, uint8_t **bytes, size_t *count, const char **error);

#endif

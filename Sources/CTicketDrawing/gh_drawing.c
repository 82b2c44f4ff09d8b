#include "gh_drawing.h"

#include <cairo-pdf.h>
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <string.h>

struct gh_pdf {
    cairo_surface_t *surface;
    cairo_t *cr;
    uint8_t *bytes;
    size_t count, capacity;
    int out_of_memory;
};

static cairo_status_t append(void *closure, const unsigned char *data, unsigned int length) {
    struct gh_pdf *pdf = closure;
    if (pdf->count + length > pdf->capacity) {
        size_t capacity = pdf->capacity ? pdf->capacity : 64 * 1024;
        while (capacity < pdf->count + length) capacity *= 2;
        uint8_t *grown = realloc(pdf->bytes, capacity);
        if (!grown) {
            pdf->out_of_memory = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        pdf->bytes = grown;
        pdf->capacity = capacity;
    }
    memcpy(pdf->bytes + pdf->count, data, length);
    pdf->count += length;
    return CAIRO_STATUS_SUCCESS;
}

gh_pdf *gh_pdf_create(double width, double height, const char *title) {
    struct gh_pdf *pdf = calloc(1, sizeof *pdf);
    if (!pdf) return NULL;
    pdf->surface = cairo_pdf_surface_create_for_stream(append, pdf, width, height);
    if (cairo_surface_status(pdf->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(pdf->surface);
        free(pdf);
        return NULL;
    }
    cairo_pdf_surface_set_metadata(pdf->surface, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(pdf->surface, CAIRO_PDF_METADATA_CREATOR, "Gatehouse");
    pdf->cr = cairo_create(pdf->surface);
    return pdf;
}

double gh_pdf_text(gh_pdf *pdf, const char *utf8, size_t length, const char *font, double x, double y,
                   double width, int alignment, int max_lines, int *cut) {
    PangoLayout *layout = pango_cairo_create_layout(pdf->cr);
    PangoFontDescription *description = pango_font_description_from_string(font);
    pango_layout_set_font_description(layout, description);
    pango_font_description_free(description);
    pango_layout_set_width(layout, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
    // A negative height counts lines: at most that many, the last cut with an ellipsis.
    pango_layout_set_height(layout, -(max_lines > 0 ? max_lines : 1));
    pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
    pango_layout_set_alignment(layout, alignment == GH_ALIGN_CENTER  ? PANGO_ALIGN_CENTER
                                       : alignment == GH_ALIGN_RIGHT ? PANGO_ALIGN_RIGHT
                                                                     : PANGO_ALIGN_LEFT);
    pango_layout_set_text(layout, utf8, (int)length);
    cairo_set_source_rgb(pdf->cr, 0, 0, 0);
    cairo_move_to(pdf->cr, x, y);
    pango_cairo_show_layout(pdf->cr, layout);
    int drawn_width, drawn_height;
    pango_layout_get_size(layout, &drawn_width, &drawn_height);
    *cut = pango_layout_is_ellipsized(layout);
    g_object_unref(layout);
    return (double)drawn_height / PANGO_SCALE;
}

void gh_pdf_fill_rectangles(gh_pdf *pdf, const double *rectangles, size_t count, double level) {
    cairo_set_source_rgb(pdf->cr, level, level, level);
    for (size_t i = 0; i < count; i++) {
        const double *r = rectangles + 4 * i;
        cairo_rectangle(pdf->cr, r[0], r[1], r[2], r[3]);
    }
    cairo_fill(pdf->cr);
}

void gh_pdf_next_page(gh_pdf *pdf) { cairo_show_page(pdf->cr); }

int gh_pdf_finish(gh_pdf *pdf, uint8_t **bytes, size_t *count, const char **error) {
    cairo_destroy(pdf->cr);
    cairo_surface_finish(pdf->surface);
    cairo_status_t status = cairo_surface_status(pdf->surface);
    cairo_surface_destroy(pdf->surface);
    if (status != CAIRO_STATUS_SUCCESS || pdf->out_of_memory) {
        *error = pdf->out_of_memory ? "out of memory for the document" : cairo_status_to_string(status);
        free(pdf->bytes);
        free(pdf);
        return -1;
    }
    *bytes = pdf->bytes;
    *count = pdf->count;
    free(pdf);
    return 0;
}

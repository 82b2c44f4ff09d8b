// cairo's PDF surface and Pango's layout on it, found through pkg-config (pangocairo.pc).
#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

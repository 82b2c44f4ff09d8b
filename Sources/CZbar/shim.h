#ifndef GATEHOUSE_CZBAR_SHIM_H
#define GATEHOUSE_CZBAR_SHIM_H
#include <zbar.h>

// zbar_fourcc() is a function-like macro; Swift cannot import it. 8-bit grey is "Y800".
static const unsigned long GH_ZBAR_FOURCC_Y800 = 0x30303859UL;
#endif

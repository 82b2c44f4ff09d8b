#ifndef GATEHOUSE_CZLIB_H
#define GATEHOUSE_CZLIB_H
#include <zlib.h>
#endif

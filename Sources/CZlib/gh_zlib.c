// Empty: the target exists so Swift can import zlib's header (used to write PNG files).
#include "gh_zlib.h"

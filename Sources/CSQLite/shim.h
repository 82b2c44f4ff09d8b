#ifndef GATEHOUSE_CSQLITE_SHIM_H
#define GATEHOUSE_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro around a cast of -1 that Swift cannot import: bind calls use this
// so SQLite copies the bytes before the Swift buffer goes away.
static inline sqlite3_destructor_type gh_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif

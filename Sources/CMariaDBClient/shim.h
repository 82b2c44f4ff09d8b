// MariaDB Connector/C's header, found through pkg-config (libmariadb.pc puts it under mariadb/).
#include <mysql.h>

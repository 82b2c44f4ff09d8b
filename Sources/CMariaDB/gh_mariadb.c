#include "gh_mariadb.h"

#include <mysql.h>
#include <stdlib.h>
#include <string.h>

struct gh_mysql {
    MYSQL handle;
};

/* One parameter's or one result column's buffer. */
typedef struct {
    void *data;
    unsigned long capacity;
    unsigned long length;
    my_bool is_null;
    my_bool error;
    int64_t integer;
    int is_integer;
} gh_slot;

struct gh_mysql_stmt {
    MYSQL_STMT *statement;
    unsigned int param_count;
    MYSQL_BIND *params;
    gh_slot *param_slots;
    unsigned int column_count;
    MYSQL_BIND *columns;
    gh_slot *column_slots;
    int has_result;
};

static void copy_message(char *out, size_t size, const char *text) {
    if (size == 0) return;
    strncpy(out, text ? text : "", size - 1);
    out[size - 1] = 0;
}

gh_mysql *gh_mysql_connect(const gh_mysql_target *target, unsigned int *error_number, char *message, size_t message_size) {
    gh_mysql *connection = calloc(1, sizeof(gh_mysql));
    if (!connection) {
        *error_number = 2008; /* CR_OUT_OF_MEMORY */
        copy_message(message, message_size, "out of memory");
        return NULL;
    }
    MYSQL *mysql = &connection->handle;
    if (!mysql_init(mysql)) {
        free(connection);
        *error_number = 2008;
        copy_message(message, message_size, "mysql_init failed");
        return NULL;
    }
    my_bool no = 0, yes = 1;
    mysql_optionsv(mysql, MYSQL_OPT_RECONNECT, &no);
    mysql_optionsv(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (target->connect_timeout_seconds) mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &target->connect_timeout_seconds);
    if (target->read_timeout_seconds) mysql_optionsv(mysql, MYSQL_OPT_READ_TIMEOUT, &target->read_timeout_seconds);
    if (target->write_timeout_seconds) mysql_optionsv(mysql, MYSQL_OPT_WRITE_TIMEOUT, &target->write_timeout_seconds);
    /* No option file is read: a box's ~/.my.cnf must not change where a service connects. */
    if (target->tls >= 1) {
        /* Asks for TLS; with `preferred` a server without it is still used in the clear. */
        mysql_ssl_set(mysql, NULL, NULL, target->tls_ca, NULL, NULL);
    }
    if (target->tls >= 2) mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &yes);
    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, target->tls >= 3 ? &yes : &no);
    unsigned int protocol = target->unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
    mysql_optionsv(mysql, MYSQL_OPT_PROTOCOL, &protocol);
    if (!mysql_real_connect(mysql, target->host, target->user, target->password, target->database, target->port, target->unix_socket,
                            CLIENT_FOUND_ROWS)) {
        *error_number = mysql_errno(mysql);
        copy_message(message, message_size, mysql_error(mysql));
        mysql_close(mysql);
        free(connection);
        return NULL;
    }
    /* Connector/C 3.3 goes on in the clear when the server offers no TLS, even with
       MYSQL_OPT_SSL_ENFORCE: the connection is refused here before it carries any query. */
    if (target->tls >= 2 && !mysql_get_ssl_cipher(mysql)) {
        *error_number = 2026; /* CR_SSL_CONNECTION_ERROR */
        copy_message(message, message_size, "TLS is required, but the server does not offer it");
        mysql_close(mysql);
        free(connection);
        return NULL;
    }
    return connection;
}

void gh_mysql_close(gh_mysql *connection) {
    if (!connection) return;
    mysql_close(&connection->handle);
    free(connection);
}

int gh_mysql_query(gh_mysql *connection, const char *sql, size_t length) {
    if (mysql_real_query(&connection->handle, sql, length) != 0) return -1;
    /* Statements run here return no rows; anything they do return is discarded. */
    MYSQL_RES *result = mysql_store_result(&connection->handle);
    if (result) mysql_free_result(result);
    return mysql_errno(&connection->handle) ? -1 : 0;
}

unsigned int gh_mysql_errno(gh_mysql *connection) { return mysql_errno(&connection->handle); }
const char *gh_mysql_error(gh_mysql *connection) { return mysql_error(&connection->handle); }
const char *gh_mysql_sqlstate(gh_mysql *connection) { return mysql_sqlstate(&connection->handle); }
const char *gh_mysql_tls_cipher(gh_mysql *connection) { return mysql_get_ssl_cipher(&connection->handle); }
unsigned long gh_mysql_server_version(gh_mysql *connection) { return mysql_get_server_version(&connection->handle); }
const char *gh_mysql_server_info(gh_mysql *connection) { return mysql_get_server_info(&connection->handle); }

static void free_slots(gh_slot *slots, unsigned int count) {
    if (!slots) return;
    for (unsigned int i = 0; i < count; i++) free(slots[i].data);
    free(slots);
}

gh_mysql_stmt *gh_mysql_prepare(gh_mysql *connection, const char *sql, size_t length, unsigned int *error_number, char *message,
                                size_t message_size) {
    *error_number = 2008; /* CR_OUT_OF_MEMORY, unless the server says otherwise */
    copy_message(message, message_size, "out of memory");
    MYSQL_STMT *statement = mysql_stmt_init(&connection->handle);
    if (!statement) return NULL;
    if (mysql_stmt_prepare(statement, sql, length) != 0) {
        *error_number = mysql_stmt_errno(statement);
        copy_message(message, message_size, mysql_stmt_error(statement));
        mysql_stmt_close(statement);
        return NULL;
    }
    gh_mysql_stmt *wrapped = calloc(1, sizeof(gh_mysql_stmt));
    if (!wrapped) {
        mysql_stmt_close(statement);
        return NULL;
    }
    wrapped->statement = statement;
    wrapped->param_count = mysql_stmt_param_count(statement);
    if (wrapped->param_count) {
        wrapped->params = calloc(wrapped->param_count, sizeof(MYSQL_BIND));
        wrapped->param_slots = calloc(wrapped->param_count, sizeof(gh_slot));
    }
    MYSQL_RES *metadata = mysql_stmt_result_metadata(statement);
    if (metadata) {
        wrapped->column_count = mysql_num_fields(metadata);
        wrapped->columns = calloc(wrapped->column_count, sizeof(MYSQL_BIND));
        wrapped->column_slots = calloc(wrapped->column_count, sizeof(gh_slot));
        if (!wrapped->columns || !wrapped->column_slots) {
            mysql_free_result(metadata);
            gh_mysql_stmt_close(wrapped);
            return NULL;
        }
        MYSQL_FIELD *fields = mysql_fetch_fields(metadata);
        for (unsigned int i = 0; i < wrapped->column_count; i++) {
            MYSQL_BIND *bind = &wrapped->columns[i];
            gh_slot *slot = &wrapped->column_slots[i];
            switch (fields[i].type) {
            case MYSQL_TYPE_TINY:
            case MYSQL_TYPE_SHORT:
            case MYSQL_TYPE_INT24:
            case MYSQL_TYPE_LONG:
            case MYSQL_TYPE_LONGLONG:
            case MYSQL_TYPE_YEAR:
                slot->is_integer = 1;
                bind->buffer_type = MYSQL_TYPE_LONGLONG;
                bind->buffer = &slot->integer;
                bind->is_unsigned = 0;
                break;
            default:
                /* Everything else as bytes: fetched with no buffer first, then in full once
                   the length is known (gh_mysql_stmt_fetch). */
                bind->buffer_type = MYSQL_TYPE_BLOB;
                bind->buffer = NULL;
                bind->buffer_length = 0;
                break;
            }
            bind->length = &slot->length;
            bind->is_null = &slot->is_null;
            bind->error = &slot->error;
        }
        mysql_free_result(metadata);
        if (mysql_stmt_bind_result(statement, wrapped->columns) != 0) {
            *error_number = mysql_stmt_errno(statement);
            copy_message(message, message_size, mysql_stmt_error(statement));
            gh_mysql_stmt_close(wrapped);
            return NULL;
        }
    }
    if (wrapped->param_count && (!wrapped->params || !wrapped->param_slots)) {
        gh_mysql_stmt_close(wrapped);
        return NULL;
    }
    return wrapped;
}

void gh_mysql_stmt_close(gh_mysql_stmt *statement) {
    if (!statement) return;
    if (statement->statement) mysql_stmt_close(statement->statement);
    free(statement->params);
    free_slots(statement->param_slots, statement->param_count);
    free(statement->columns);
    free_slots(statement->column_slots, statement->column_count);
    free(statement);
}

unsigned int gh_mysql_stmt_param_count(gh_mysql_stmt *statement) { return statement->param_count; }

int gh_mysql_bind_null(gh_mysql_stmt *statement, unsigned int index) {
    if (index >= statement->param_count) return -1;
    MYSQL_BIND *bind = &statement->params[index];
    memset(bind, 0, sizeof(*bind));
    bind->buffer_type = MYSQL_TYPE_NULL;
    return 0;
}

int gh_mysql_bind_int64(gh_mysql_stmt *statement, unsigned int index, int64_t value) {
    if (index >= statement->param_count) return -1;
    MYSQL_BIND *bind = &statement->params[index];
    gh_slot *slot = &statement->param_slots[index];
    memset(bind, 0, sizeof(*bind));
    slot->integer = value;
    bind->buffer_type = MYSQL_TYPE_LONGLONG;
    bind->buffer = &slot->integer;
    return 0;
}

int gh_mysql_bind_bytes(gh_mysql_stmt *statement, unsigned int index, const void *bytes, size_t length, int is_text) {
    if (index >= statement->param_count) return -1;
    MYSQL_BIND *bind = &statement->params[index];
    gh_slot *slot = &statement->param_slots[index];
    if (length > slot->capacity || !slot->data) {
        void *grown = realloc(slot->data, length ? length : 1);
        if (!grown) return -1;
        slot->data = grown;
        slot->capacity = length ? length : 1;
    }
    if (length) memcpy(slot->data, bytes, length);
    slot->length = length;
    memset(bind, 0, sizeof(*bind));
    bind->buffer_type = is_text ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
    bind->buffer = slot->data;
    bind->buffer_length = length;
    bind->length = &slot->length;
    return 0;
}

int gh_mysql_stmt_execute(gh_mysql_stmt *statement) {
    gh_mysql_stmt_reset(statement);
    if (statement->param_count && mysql_stmt_bind_param(statement->statement, statement->params) != 0) return -1;
    if (mysql_stmt_execute(statement->statement) != 0) return -1;
    if (statement->column_count) {
        if (mysql_stmt_store_result(statement->statement) != 0) return -1;
        statement->has_result = 1;
    }
    return 0;
}

uint64_t gh_mysql_stmt_affected_rows(gh_mysql_stmt *statement) { return mysql_stmt_affected_rows(statement->statement); }
uint64_t gh_mysql_stmt_insert_id(gh_mysql_stmt *statement) { return mysql_stmt_insert_id(statement->statement); }
unsigned int gh_mysql_stmt_errno(gh_mysql_stmt *statement) { return mysql_stmt_errno(statement->statement); }
const char *gh_mysql_stmt_error(gh_mysql_stmt *statement) { return mysql_stmt_error(statement->statement); }
const char *gh_mysql_stmt_sqlstate(gh_mysql_stmt *statement) { return mysql_stmt_sqlstate(statement->statement); }
unsigned int gh_mysql_stmt_column_count(gh_mysql_stmt *statement) { return statement->column_count; }

int gh_mysql_stmt_fetch(gh_mysql_stmt *statement) {
    int status = mysql_stmt_fetch(statement->statement);
    if (status == MYSQL_NO_DATA) return 0;
    if (status != 0 && status != MYSQL_DATA_TRUNCATED) return -1;
    /* Byte columns were bound without a buffer: fetch each in full now that its length is known. */
    for (unsigned int i = 0; i < statement->column_count; i++) {
        gh_slot *slot = &statement->column_slots[i];
        if (slot->is_integer || slot->is_null) continue;
        if (slot->length > slot->capacity || !slot->data) {
            void *grown = realloc(slot->data, slot->length ? slot->length : 1);
            if (!grown) return -1;
            slot->data = grown;
            slot->capacity = slot->length ? slot->length : 1;
        }
        if (slot->length == 0) continue;
        MYSQL_BIND bind;
        memset(&bind, 0, sizeof(bind));
        unsigned long length = 0;
        bind.buffer_type = MYSQL_TYPE_BLOB;
        bind.buffer = slot->data;
        bind.buffer_length = slot->capacity;
        bind.length = &length;
        if (mysql_stmt_fetch_column(statement->statement, &bind, i, 0) != 0) return -1;
    }
    return 1;
}

int gh_mysql_column_is_null(gh_mysql_stmt *statement, unsigned int column) {
    return column < statement->column_count ? statement->column_slots[column].is_null : 1;
}

int64_t gh_mysql_column_int64(gh_mysql_stmt *statement, unsigned int column) {
    if (column >= statement->column_count) return 0;
    gh_slot *slot = &statement->column_slots[column];
    if (slot->is_null) return 0;
    if (slot->is_integer) return slot->integer;
    /* DECIMAL sums and the like arrive as text. */
    char digits[32];
    size_t length = slot->length < sizeof(digits) - 1 ? slot->length : sizeof(digits) - 1;
    if (length && slot->data) memcpy(digits, slot->data, length);
    digits[length] = 0;
    return strtoll(digits, NULL, 10);
}

const uint8_t *gh_mysql_column_bytes(gh_mysql_stmt *statement, unsigned int column, size_t *length) {
    *length = 0;
    if (column >= statement->column_count) return NULL;
    gh_slot *slot = &statement->column_slots[column];
    if (slot->is_null || slot->is_integer) return NULL;
    *length = slot->length;
    return slot->data;
}

void gh_mysql_stmt_reset(gh_mysql_stmt *statement) {
    if (statement->has_result) {
        mysql_stmt_free_result(statement->statement);
        statement->has_result = 0;
    }
}

#ifndef GH_MARIADB_H
#define GH_MARIADB_H

#include <stddef.h>
#include <stdint.h>

/*
 * A small C interface over MariaDB Connector/C (libmariadb) for the MySQL/MariaDB store: one
 * connection, prepared statements with binary-safe parameters and results, nothing else. Swift
 * cannot fill MYSQL_BIND arrays comfortably, and the connector's option calls are variadic, so
 * both live here. Every function is blocking; the store calls them on threads of its own.
 */

typedef struct gh_mysql gh_mysql;
typedef struct gh_mysql_stmt gh_mysql_stmt;

/* Where and how to connect. Strings may be NULL (the connector's default). */
typedef struct gh_mysql_target {
    const char *host;
    unsigned int port;
    const char *unix_socket;
    const char *user;
    const char *password;
    const char *database;
    /* 0 disabled, 1 preferred (TLS when the server offers it), 2 required, 3 required and the
       server's certificate and name verified */
    int tls;
    const char *tls_ca;
    unsigned int connect_timeout_seconds;
    unsigned int read_timeout_seconds;
    unsigned int write_timeout_seconds;
} gh_mysql_target;

/* Connects with utf8mb4, no automatic reconnect, and found-rows counting. Returns NULL on failure
   with the connector's error number and message (never containing the password) in the out
   parameters. */
gh_mysql *gh_mysql_connect(const gh_mysql_target *target, unsigned int *error_number, char *message, size_t message_size);
void gh_mysql_close(gh_mysql *connection);

/* A statement without parameters or results (BEGIN, COMMIT, DDL). 0 on success. */
int gh_mysql_query(gh_mysql *connection, const char *sql, size_t length);
unsigned int gh_mysql_errno(gh_mysql *connection);
const char *gh_mysql_error(gh_mysql *connection);
const char *gh_mysql_sqlstate(gh_mysql *connection);
/* The TLS cipher in use, or NULL when the connection is not encrypted. */
const char *gh_mysql_tls_cipher(gh_mysql *connection);
unsigned long gh_mysql_server_version(gh_mysql *connection);
const char *gh_mysql_server_info(gh_mysql *connection);

/* Prepares a statement; NULL on failure, with the error number and message in the out parameters. */
gh_mysql_stmt *gh_mysql_prepare(gh_mysql *connection, const char *sql, size_t length, unsigned int *error_number, char *message,
                                size_t message_size);
void gh_mysql_stmt_close(gh_mysql_stmt *statement);
unsigned int gh_mysql_stmt_param_count(gh_mysql_stmt *statement);

/* Parameters, numbered from 0, bound until the next execute. Bytes are copied. */
int gh_mysql_bind_null(gh_mysql_stmt *statement, unsigned int index);
int gh_mysql_bind_int64(gh_mysql_stmt *statement, unsigned int index, int64_t value);
/* is_text: sent as a string in the connection's character set (utf8mb4), else as bytes. */
int gh_mysql_bind_bytes(gh_mysql_stmt *statement, unsigned int index, const void *bytes, size_t length, int is_text);

/* Executes with the bound parameters and buffers the whole result on the client. 0 on success. */
int gh_mysql_stmt_execute(gh_mysql_stmt *statement);
uint64_t gh_mysql_stmt_affected_rows(gh_mysql_stmt *statement);
uint64_t gh_mysql_stmt_insert_id(gh_mysql_stmt *statement);
unsigned int gh_mysql_stmt_errno(gh_mysql_stmt *statement);
const char *gh_mysql_stmt_error(gh_mysql_stmt *statement);
const char *gh_mysql_stmt_sqlstate(gh_mysql_stmt *statement);

unsigned int gh_mysql_stmt_column_count(gh_mysql_stmt *statement);
/* 1 a row was fetched, 0 no more rows, -1 an error. */
int gh_mysql_stmt_fetch(gh_mysql_stmt *statement);
int gh_mysql_column_is_null(gh_mysql_stmt *statement, unsigned int column);
/* Integer columns as they are; other columns parsed from their text (0 when they are not a number). */
int64_t gh_mysql_column_int64(gh_mysql_stmt *statement, unsigned int column);
/* The column's bytes, valid until the next fetch; integer columns have none. */
const uint8_t *gh_mysql_column_bytes(gh_mysql_stmt *statement, unsigned int column, size_t *length);
/* Frees the buffered result, so the statement can run again. */
void gh_mysql_stmt_reset(gh_mysql_stmt *statement);

#endif

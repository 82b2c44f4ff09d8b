/*
 * The reference for `make bench-mysql`: MySQL/MariaDB alone doing what one check-in does, with
 * no HTTP and no service — per transaction one conditional UPDATE of a random unused ticket and
 * one log INSERT, committed (durable with the server's innodb_flush_log_at_trx_commit=1), from N
 * connections at once, prepared statements through the same Connector/C the store uses.
 *
 *   mysql-checkin HOST PORT USER PASSWORD DATABASE EVENT FIRST LAST CONNECTIONS SECONDS
 *
 * Tickets FIRST..LAST of EVENT are drawn in random order from one shared pool, so each is tried
 * once. Prints "RATE P50_MS P99_MS" (transactions per second; latency of one transaction).
 */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *host, *user, *password, *database, *event;
static unsigned int port;
static long seconds;
static long *order;
static long order_count;
static long next_index;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    double *latencies;
    long count;
    long capacity;
    int failed;
} worker_result;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static long take_ticket(void) {
    pthread_mutex_lock(&order_lock);
    long number = next_index < order_count ? order[next_index++] : -1;
    pthread_mutex_unlock(&order_lock);
    return number;
}

static void *work(void *raw) {
    worker_result *result = raw;
    MYSQL *mysql = mysql_init(NULL);
    if (!mysql_real_connect(mysql, host, user, password, database, port, NULL, CLIENT_FOUND_ROWS)) {
        fprintf(stderr, "connect: %s\n", mysql_error(mysql));
        result->failed = 1;
        return NULL;
    }
    mysql_query(mysql, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    mysql_autocommit(mysql, 0);
    MYSQL_STMT *update = mysql_stmt_init(mysql), *insert = mysql_stmt_init(mysql);
    const char *update_sql =
        "UPDATE tickets SET status = 'used', used_at = ?, used_gate = 'bench-1', used_device = 'bench' "
        "WHERE event_id = ? AND number = ? AND status = 'unused'";
    const char *insert_sql =
        "INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash) "
        "VALUES (?, ?, NULL, 'bench-1', 'bench', ?, 'commit', NULL, 'x')";
    if (mysql_stmt_prepare(update, update_sql, strlen(update_sql)) || mysql_stmt_prepare(insert, insert_sql, strlen(insert_sql))) {
        fprintf(stderr, "prepare: %s\n", mysql_error(mysql));
        result->failed = 1;
        return NULL;
    }
    long long at = 0, number = 0;
    unsigned long event_length = strlen(event), result_length = 0;
    char outcome[16];
    MYSQL_BIND update_params[3], insert_params[3];
    memset(update_params, 0, sizeof(update_params));
    memset(insert_params, 0, sizeof(insert_params));
    update_params[0].buffer_type = MYSQL_TYPE_LONGLONG;
    update_params[0].buffer = &at;
    update_params[1].buffer_type = MYSQL_TYPE_STRING;
    update_params[1].buffer = (void *)event;
    update_params[1].buffer_length = event_length;
    update_params[1].length = &event_length;
    update_params[2].buffer_type = MYSQL_TYPE_LONGLONG;
    update_params[2].buffer = &number;
    insert_params[0] = update_params[0];
    insert_params[1] = update_params[1];
    insert_params[2].buffer_type = MYSQL_TYPE_STRING;
    insert_params[2].buffer = outcome;
    insert_params[2].length = &result_length;
    mysql_stmt_bind_param(update, update_params);
    mysql_stmt_bind_param(insert, insert_params);
    double end = now_ms() + seconds * 1000.0;
    while (now_ms() < end) {
        number = take_ticket();
        if (number < 0) break;
        double started = now_ms();
        at = (long long)started;
        if (mysql_stmt_execute(update)) goto failed;
        strcpy(outcome, mysql_stmt_affected_rows(update) == 1 ? "valid" : "already_used");
        result_length = strlen(outcome);
        if (mysql_stmt_execute(insert) || mysql_commit(mysql)) goto failed;
        if (result->count == result->capacity) {
            result->capacity = result->capacity ? result->capacity * 2 : 4096;
            result->latencies = realloc(result->latencies, result->capacity * sizeof(double));
        }
        result->latencies[result->count++] = now_ms() - started;
        continue;
    failed:
        fprintf(stderr, "transaction: %s\n", mysql_error(mysql));
        mysql_rollback(mysql);
    }
    mysql_stmt_close(update);
    mysql_stmt_close(insert);
    mysql_close(mysql);
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DATABASE EVENT FIRST LAST CONNECTIONS SECONDS\n", argv[0]);
        return 64;
    }
    host = argv[1];
    port = (unsigned int)atoi(argv[2]);
    user = argv[3];
    password = argv[4];
    database = argv[5];
    event = argv[6];
    long first = atol(argv[7]), last = atol(argv[8]);
    int connections = atoi(argv[9]);
    seconds = atol(argv[10]);
    order_count = last - first + 1;
    order = malloc(order_count * sizeof(long));
    for (long i = 0; i < order_count; i++) order[i] = first + i;
    srand((unsigned int)time(NULL));
    for (long i = order_count - 1; i > 0; i--) {
        long j = rand() % (i + 1), swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
    mysql_library_init(0, NULL, NULL);
    pthread_t threads[256];
    worker_result results[256];
    memset(results, 0, sizeof(results));
    if (connections < 1 || connections > 256) return 64;
    double started = now_ms();
    for (int i = 0; i < connections; i++) pthread_create(&threads[i], NULL, work, &results[i]);
    long total = 0;
    for (int i = 0; i < connections; i++) {
        pthread_join(threads[i], NULL);
        if (results[i].failed) return 1;
        total += results[i].count;
    }
    double elapsed = (now_ms() - started) / 1000.0;
    double *all = malloc((total ? total : 1) * sizeof(double));
    long at = 0;
    for (int i = 0; i < connections; i++) {
        memcpy(all + at, results[i].latencies, results[i].count * sizeof(double));
        at += results[i].count;
    }
    qsort(all, total, sizeof(double), compare);
    printf("%ld %.2fms %.2fms\n", (long)(total / elapsed), total ? all[total / 2] : 0, total ? all[(long)(total * 0.99)] : 0);
    return 0;
}

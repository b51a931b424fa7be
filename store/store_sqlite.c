/*
 * store_sqlite.c - the SQLite adapter: the only file of loginrisk with SQL.
 *
 * One struct store_conn wraps one connection and its prepared statements;
 * it is used by one thread at a time (store.c holds a mutex per connection,
 * or gives it to the writer thread alone), so connections are opened in
 * SQLite's multi-thread mode. The database is in WAL mode, so readers never
 * wait for the writers and the two writers (lock calls, writer thread) wait
 * for each other through busy_timeout. Lock calls run on a connection with
 * synchronous=FULL and no automatic checkpoints: a commit fsyncs the WAL
 * before the call returns, and checkpoint work happens in the writer thread.
 * The writer thread's commits (history batches, profiles) run with
 * synchronous=NORMAL: no fsync of their own (the next lock commit or
 * checkpoint syncs them); a power loss can lose the last of them, never
 * corrupt the file.
 *
 * The schema is versioned with PRAGMA user_version and stamped with
 * PRAGMA application_id, so another application's database is refused
 * rather than "migrated". Migrations run in order, each in its own
 * transaction; a new file gets the latest schema in one. SQLite result codes
 * are translated here (store_sql_err) and the original message is logged.
 *
 * Schema (version 4):
 *   locks(account_id PK, expires_ms, scope, audit_id) WITHOUT ROWID
 *       -- reason, ticket, source and created time live in the audit row
 *   audit(id PK, at_ms, actor, action, reason, ticket, matched, changed)
 *   profiles(account_id PK, updated_ms, last_success_ms, last_lat,
 *            last_lon, last_radius_km, last_country, last_city,
 *            flagged_spray, seen BLOB) WITHOUT ROWID
 *   history_batch(id PK, ts_min, ts_max, n, accounts_bloom BLOB, body BLOB,
 *                 terms_bloom BLOB) indexed by ts_max: one row per batch of
 *       logins (store_hist.c); terms_bloom since version 4
 *
 * Versions 1 and 2 kept one history row per login, with 2 and then 6
 * indexes; the migration to 4 packs those rows into batches and drops the
 * table, in the one transaction of that step.
 */
#include "store/store_int.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE_APP_ID 0x4C52736B /* "LRsk" */
#define STORE_BUSY_MS 5000
#define STORE_PURGE_CHUNK 1000        /* batches per purge transaction */
#define STORE_RECENT_SCAN_MAX 1000000 /* batches one recent() reads */
#define STORE_TRIM_CHUNK 16 /* batches per size-cap transaction (~1 MiB) */

/* The tables every schema version has, as created at version 1. */
#define STORE_SQL_BASE_TABLES                                                  \
    "CREATE TABLE locks ("                                                     \
    " account_id TEXT PRIMARY KEY NOT NULL,"                                   \
    " expires_ms INTEGER NOT NULL,"                                            \
    " scope INTEGER NOT NULL,"                                                 \
    " audit_id INTEGER NOT NULL) WITHOUT ROWID;"                               \
    "CREATE INDEX locks_expiry ON locks(expires_ms) WHERE expires_ms != 0;"    \
    "CREATE TABLE audit ("                                                     \
    " id INTEGER PRIMARY KEY,"                                                 \
    " at_ms INTEGER NOT NULL,"                                                 \
    " actor TEXT NOT NULL,"                                                    \
    " action TEXT NOT NULL,"                                                   \
    " reason TEXT NOT NULL,"                                                   \
    " ticket TEXT NOT NULL,"                                                   \
    " matched INTEGER NOT NULL,"                                               \
    " changed INTEGER NOT NULL);"                                              \
    "CREATE TABLE profiles ("                                                  \
    " account_id TEXT PRIMARY KEY NOT NULL,"                                   \
    " updated_ms INTEGER NOT NULL,"                                            \
    " last_success_ms INTEGER NOT NULL,"                                       \
    " last_lat REAL,"                                                          \
    " last_lon REAL,"                                                          \
    " last_radius_km INTEGER NOT NULL,"                                        \
    " last_country TEXT NOT NULL,"                                             \
    " last_city TEXT NOT NULL,"                                                \
    " flagged_spray INTEGER NOT NULL,"                                         \
    " seen BLOB NOT NULL) WITHOUT ROWID;"

static const char *const store_migrations[] = {
    /* 0 -> 1: the base tables. */
    STORE_SQL_BASE_TABLES
    "CREATE TABLE history ("
    " id INTEGER PRIMARY KEY,"
    " ts_ms INTEGER NOT NULL,"
    " account_id TEXT NOT NULL,"
    " ip BLOB NOT NULL,"
    " device_id TEXT NOT NULL,"
    " credential INTEGER NOT NULL,"
    " action INTEGER NOT NULL,"
    " score INTEGER NOT NULL,"
    " country TEXT NOT NULL,"
    " city TEXT NOT NULL,"
    " lat REAL,"
    " lon REAL,"
    " asn INTEGER NOT NULL,"
    " reasons TEXT NOT NULL,"
    " request_id TEXT NOT NULL);"
    "CREATE INDEX history_ts ON history(ts_ms);"
    "CREATE INDEX history_account ON history(account_id, ts_ms);"
    "PRAGMA application_id = 1280471915;",
    /* 1 -> 2: lookups for lock-by-query. */
    "CREATE INDEX history_ip ON history(ip, ts_ms);"
    "CREATE INDEX history_asn ON history(asn, ts_ms);"
    "CREATE INDEX history_country ON history(country, ts_ms);"
    "CREATE INDEX history_device ON history(device_id, ts_ms)"
    " WHERE device_id != '';",
    /* 2 -> 3: history in batches (the rows move in the step to 4). */
    "CREATE TABLE history_batch ("
    " id INTEGER PRIMARY KEY,"
    " ts_min INTEGER NOT NULL,"
    " ts_max INTEGER NOT NULL,"
    " n INTEGER NOT NULL,"
    " accounts_bloom BLOB NOT NULL,"
    " body BLOB NOT NULL);"
    "CREATE INDEX history_batch_ts ON history_batch(ts_max);",
    /* 3 -> 4: the batches' query-term filters (NULL in older batches);
     * store_migrate_history moves the rows of a version 2 history. */
    "ALTER TABLE history_batch ADD COLUMN terms_bloom BLOB;",
};

/* The version whose step moves a schema 1 or 2 history into batches (once
 * the batch table has all its columns); a no-op without the old table. */
#define STORE_BATCH_MIGRATION 4

/*
 * A new file gets the latest schema in one step, not the migrations in
 * turn: creating the old history table and its indexes only to drop them
 * would leave their pages in the WAL and the free list.
 */
static const char store_schema_new[] = STORE_SQL_BASE_TABLES
    "CREATE TABLE history_batch ("
    " id INTEGER PRIMARY KEY,"
    " ts_min INTEGER NOT NULL,"
    " ts_max INTEGER NOT NULL,"
    " n INTEGER NOT NULL,"
    " accounts_bloom BLOB NOT NULL,"
    /* before the body: SQLite reads a row's columns in order, so a column
     * after a 64 KiB body costs the body's whole overflow chain */
    " terms_bloom BLOB,"
    " body BLOB NOT NULL);"
    "CREATE INDEX history_batch_ts ON history_batch(ts_max);"
    "PRAGMA application_id = 1280471915;";

#define STORE_LATEST ((int)LR_ARRAY_LEN(store_migrations))

#define STORE_HISTORY_COLS                                                     \
    "ts_ms, account_id, ip, device_id, credential, action, score, country,"    \
    " city, lat, lon, asn, reasons, request_id"

#define STORE_LOCK_COLS                                                        \
    "l.account_id, l.expires_ms, l.scope, l.audit_id, a.at_ms, a.actor,"       \
    " a.reason, a.ticket FROM locks l LEFT JOIN audit a ON a.id = l.audit_id"

enum store_sql_id {
    SQL_LOCK_UPSERT,
    SQL_LOCK_DELETE,
    SQL_AUDIT_INSERT,
    SQL_AUDIT_LIST,
    SQL_LOCKS_LOAD,
    SQL_LATEST_TIME,
    SQL_LOCKS_LIST,
    SQL_PROFILE_LOAD,
    SQL_PROFILE_IDS,
    SQL_PROFILE_UPSERT,
    SQL_BATCH_INSERT,
    SQL_BATCH_BLOOMS,
    SQL_BATCH_BODY,
    SQL_BATCH_RANGE,
    SQL_BATCH_OLD,
    SQL_BATCH_OLDEST,
    SQL_BATCH_DELETE,
    SQL_LOCKS_PURGE,
    SQL_COUNT_
};

static const char *const store_sql[SQL_COUNT_] = {
    [SQL_LOCK_UPSERT] = "INSERT OR REPLACE INTO locks(account_id, expires_ms,"
                        " scope, audit_id) VALUES(?1, ?2, ?3, ?4)",
    [SQL_LOCK_DELETE] = "DELETE FROM locks WHERE account_id = ?1",
    [SQL_AUDIT_INSERT] = "INSERT INTO audit(at_ms, actor, action, reason,"
                         " ticket, matched, changed)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQL_AUDIT_LIST] = "SELECT id, at_ms, actor, action, reason, ticket,"
                       " matched, changed FROM audit ORDER BY id DESC"
                       " LIMIT ?1",
    [SQL_LOCKS_LOAD] = "SELECT " STORE_LOCK_COLS,
    [SQL_LATEST_TIME] = "SELECT max(at_ms) FROM audit",
    [SQL_LOCKS_LIST] = "SELECT " STORE_LOCK_COLS " WHERE l.account_id > ?1"
                       " AND (l.expires_ms = 0 OR l.expires_ms > ?2)"
                       " ORDER BY l.account_id LIMIT ?3",
    [SQL_PROFILE_LOAD] = "SELECT last_success_ms, last_lat, last_lon,"
                         " last_radius_km, last_country, last_city,"
                         " flagged_spray, seen FROM profiles"
                         " WHERE account_id = ?1",
    [SQL_PROFILE_IDS] = "SELECT account_id FROM profiles",
    [SQL_PROFILE_UPSERT] = "INSERT OR REPLACE INTO profiles(account_id,"
                           " updated_ms, last_success_ms, last_lat, last_lon,"
                           " last_radius_km, last_country, last_city,"
                           " flagged_spray, seen)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQL_BATCH_INSERT] = "INSERT INTO history_batch(ts_min, ts_max, n,"
                         " accounts_bloom, body, terms_bloom)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_BATCH_BLOOMS] = "SELECT id, ts_max, accounts_bloom FROM history_batch"
                         " ORDER BY ts_max DESC, id DESC",
    [SQL_BATCH_BODY] = "SELECT body FROM history_batch WHERE id = ?1",
    [SQL_BATCH_RANGE] = "SELECT id, terms_bloom FROM history_batch"
                        " WHERE ts_max >= ?1 AND ts_min <= ?2",
    [SQL_BATCH_OLD] = "SELECT id, n FROM history_batch WHERE ts_max < ?1"
                      " LIMIT ?2",
    [SQL_BATCH_OLDEST] = "SELECT id, n FROM history_batch WHERE id > ?1"
                         " ORDER BY id LIMIT ?2",
    [SQL_BATCH_DELETE] = "DELETE FROM history_batch WHERE id = ?1",
    [SQL_LOCKS_PURGE] = "DELETE FROM locks WHERE expires_ms != 0"
                        " AND expires_ms <= ?1",
};

struct store_conn {
    sqlite3 *db;
    char *path;
    enum store_conn_role role;
    bool read_only;
    bool immutable;
    uint64_t max_bytes;
    sqlite3_stmt *stmt[SQL_COUNT_];
};

/* ---- errors ------------------------------------------------------------ */

static int store_sql_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return LR_OK;
    case SQLITE_NOMEM:
        return LR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return LR_CORRUPT;
    default: /* FULL, READONLY, IOERR, BUSY, CANTOPEN, PERM, ... */
        return LR_STORE;
    }
}

/* Logs SQLite's own words for a failed step and translates the code. */
static int store_fail(const struct store_conn *c, int rc, const char *what)
{
    lr_log(LR_LOG_ERROR, "store: %s: %s: %s (%s)", c->path, what,
           sqlite3_errmsg(c->db), sqlite3_errstr(rc));
    return store_sql_err(rc);
}

static void store_errf(char *err, size_t errcap, const char *fmt, ...)
    LR_PRINTF(3, 4);

static void store_errf(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errcap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

/* ---- small helpers ----------------------------------------------------- */

static int store_exec(struct store_conn *c, const char *sql, const char *what)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? LR_OK : store_fail(c, rc, what);
}

static int store_stmt(struct store_conn *c, enum store_sql_id id,
                      sqlite3_stmt **out)
{
    int rc;

    if (c->stmt[id] == NULL) {
        rc = sqlite3_prepare_v3(c->db, store_sql[id], -1,
                                SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
        if (rc != SQLITE_OK)
            return store_fail(c, rc, "prepare");
    }
    *out = c->stmt[id];
    return LR_OK;
}

/* Steps a write statement to completion and resets it. */
static int store_step_done(struct store_conn *c, sqlite3_stmt *s,
                           const char *what)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    return rc == SQLITE_DONE ? LR_OK : store_fail(c, rc, what);
}

/* One integer from a one-row query (PRAGMA or SELECT); errors raw. */
static int store_query_int(struct store_conn *c, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int store_begin(struct store_conn *c)
{
    return store_exec(c, "BEGIN IMMEDIATE", "begin");
}

/* Commits; on failure rolls back whatever is still open. */
static int store_commit(struct store_conn *c)
{
    int rc = store_exec(c, "COMMIT", "commit");

    if (rc && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void store_rollback(struct store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

static const char *store_col_text(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);

    return t != NULL ? (const char *)t : "";
}

static void store_bind_text(sqlite3_stmt *s, int col, const char *t, size_t len)
{
    sqlite3_bind_text(s, col, t != NULL ? t : "", (int)len, SQLITE_STATIC);
}

/* ---- open and setup ---------------------------------------------------- */

/* "file:<path>?immutable=1" with the path percent-encoded. */
static char *store_immutable_uri(const char *path)
{
    size_t len = strlen(path);
    char *uri = malloc(len * 3 + 32), *p;

    if (uri == NULL)
        return NULL;
    p = uri + sprintf(uri, "file:");
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
            (*s >= '0' && *s <= '9') || strchr("/._-~", *s) != NULL)
            *p++ = (char)*s;
        else
            p += sprintf(p, "%%%02X", *s);
    }
    strcpy(p, "?immutable=1");
    return uri;
}

static int store_conn_pragmas(struct store_conn *c)
{
    int rc = LR_OK;

    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
    if (c->role == STORE_CONN_MAIN)
        rc = store_exec(c,
                        "PRAGMA synchronous=FULL;"
                        "PRAGMA wal_autocheckpoint=0;",
                        "configure");
    else if (c->role == STORE_CONN_WRITER)
        rc = store_exec(c,
                        "PRAGMA synchronous=NORMAL;"
                        "PRAGMA cache_size=-65536;"
                        "PRAGMA wal_autocheckpoint=8192;"
                        "PRAGMA journal_size_limit=67108864;",
                        "configure");
    return rc;
}

/* Sets the size cap; needs the page size, so runs after the file is read. */
static int store_apply_max_bytes(struct store_conn *c)
{
    char sql[64];
    int64_t page = 0;
    int rc;

    if (c->max_bytes == 0 || c->read_only)
        return LR_OK;
    rc = store_query_int(c, "PRAGMA page_size", &page);
    if (rc != SQLITE_OK || page <= 0)
        return store_fail(c, rc, "page_size");
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%llu",
             (unsigned long long)(c->max_bytes / (uint64_t)page + 1));
    return store_exec(c, sql, "max_page_count");
}

static int store_open_flags(enum store_conn_role role, bool immutable)
{
    int flags = SQLITE_OPEN_NOMUTEX;

    if (immutable)
        return flags | SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
    if (role == STORE_CONN_READER)
        return flags | SQLITE_OPEN_READONLY;
    if (role == STORE_CONN_MAIN)
        return flags | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    return flags | SQLITE_OPEN_READWRITE;
}

/*
 * True when the file can be read only as immutable: reading fails because
 * the WAL shared memory cannot be made, and no WAL is pending (a pending
 * WAL holds committed locks that immutable mode would not see).
 */
static bool store_needs_immutable(sqlite3 *db, const char *path)
{
    char wal[4096];
    struct stat sb;
    int rc;

    rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                      NULL);
    if ((rc & 0xff) != SQLITE_READONLY && (rc & 0xff) != SQLITE_CANTOPEN)
        return false;
    if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal))
        return false;
    return stat(wal, &sb) != 0 || sb.st_size == 0;
}

/* Opens the SQLite handle, falling back to immutable for the main one. */
static int store_conn_handle(struct store_conn *c, const char *path)
{
    char *uri;
    int rc;

    if (!c->immutable) {
        rc = sqlite3_open_v2(path, &c->db, store_open_flags(c->role, false),
                             NULL);
        if (rc != SQLITE_OK || c->role != STORE_CONN_MAIN ||
            !store_needs_immutable(c->db, path))
            return rc;
        sqlite3_close(c->db);
        c->db = NULL;
        c->immutable = true;
    }
    uri = store_immutable_uri(path);
    if (uri == NULL)
        return SQLITE_NOMEM;
    rc = sqlite3_open_v2(uri, &c->db, store_open_flags(c->role, true), NULL);
    free(uri);
    return rc;
}

int store_conn_open(const char *path, enum store_conn_role role, bool immutable,
                    uint64_t max_bytes, struct store_conn **out, char *err,
                    size_t errcap)
{
    struct store_conn *c = calloc(1, sizeof(*c));
    int rc = LR_NOMEM;

    if (c == NULL)
        goto out;
    c->role = role;
    c->immutable = immutable;
    c->max_bytes = max_bytes;
    c->path = strdup(path);
    if (c->path == NULL)
        goto out;
    rc = store_conn_handle(c, path);
    if (rc != SQLITE_OK) {
        store_errf(err, errcap, "%s: cannot open: %s", path,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        rc = rc == SQLITE_NOMEM ? LR_NOMEM : LR_IO;
        goto out;
    }
    c->read_only = immutable || sqlite3_db_readonly(c->db, "main") == 1;
    rc = store_conn_pragmas(c);
    if (rc == 0 && role == STORE_CONN_WRITER)
        rc = store_apply_max_bytes(c);
    if (rc)
        store_errf(err, errcap, "%s: %s: %s", path,
                   rc == LR_CORRUPT ? "corrupt or not a database"
                                    : "cannot configure",
                   sqlite3_errmsg(c->db));
out:
    if (rc) {
        store_conn_close(c);
        return rc;
    }
    *out = c;
    return LR_OK;
}

void store_conn_close(struct store_conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < SQL_COUNT_; i++)
        sqlite3_finalize(c->stmt[i]);
    if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
        lr_log(LR_LOG_ERROR, "store: %s: close: %s", c->path,
               sqlite3_errmsg(c->db));
    free(c->path);
    free(c);
}

bool store_conn_read_only(const struct store_conn *c)
{
    return c->read_only;
}

bool store_conn_immutable(const struct store_conn *c)
{
    return c->immutable;
}

int store_db_latest_version(void)
{
    return STORE_LATEST;
}

static int store_identity(struct store_conn *c, int64_t *version, char *err,
                          size_t errcap)
{
    int64_t app = 0, tables = 0;
    int rc;

    rc = store_query_int(c, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK)
        rc = store_query_int(c, "PRAGMA user_version", version);
    if (rc == SQLITE_OK)
        rc = store_query_int(c, "SELECT count(*) FROM sqlite_schema", &tables);
    if (rc != SQLITE_OK) {
        store_errf(err, errcap, "%s: cannot read the database: %s", c->path,
                   sqlite3_errmsg(c->db));
        rc = store_sql_err(rc);
        return rc == LR_CORRUPT || rc == LR_NOMEM ? rc : LR_IO;
    }
    if (app == 0 && *version == 0 && tables == 0)
        return LR_OK; /* a new, empty file */
    if (app != STORE_APP_ID) {
        store_errf(err, errcap,
                   "%s: not a loginrisk database (application_id %lld)",
                   c->path, (long long)app);
        return LR_CORRUPT;
    }
    if (*version > STORE_LATEST || *version < 1) {
        store_errf(err, errcap,
                   "%s: schema version %lld is not one this build knows"
                   " (1..%d)",
                   c->path, (long long)*version, STORE_LATEST);
        return LR_CORRUPT;
    }
    return LR_OK;
}

static int store_quick_check(struct store_conn *c, char *err, size_t errcap)
{
    sqlite3_stmt *s = NULL;
    const char *res;
    int rc;

    rc = sqlite3_prepare_v2(c->db, "PRAGMA quick_check(1)", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        res = store_col_text(s, 0);
        rc = strcmp(res, "ok") == 0 ? LR_OK : LR_CORRUPT;
        if (rc)
            store_errf(err, errcap, "%s: integrity check failed: %s", c->path,
                       res);
    } else {
        store_errf(err, errcap, "%s: integrity check failed: %s", c->path,
                   sqlite3_errmsg(c->db));
        rc = store_sql_err(rc) == LR_NOMEM ? LR_NOMEM : LR_CORRUPT;
    }
    sqlite3_finalize(s);
    return rc;
}

static int store_migrate_history(struct store_conn *c);

static int store_migrate(struct store_conn *c, int from, char *err,
                         size_t errcap)
{
    char sql[64];
    int rc = LR_OK;

    for (int v = from; v < STORE_LATEST && rc == 0; v++) {
        if (v == 0) /* a new file: straight to the latest */
            v = STORE_LATEST - 1;
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
        rc = store_begin(c);
        if (rc == 0)
            rc = store_exec(c,
                            from == 0 ? store_schema_new : store_migrations[v],
                            "migrate");
        if (rc == 0 && from != 0 && v + 1 == STORE_BATCH_MIGRATION)
            rc = store_migrate_history(c);
        if (rc == 0)
            rc = store_exec(c, sql, "migrate");
        if (rc == 0)
            rc = store_commit(c);
        else
            store_rollback(c);
        if (rc)
            store_errf(err, errcap, "%s: migration to schema %d failed: %s",
                       c->path, v + 1, sqlite3_errmsg(c->db));
        else
            lr_log(LR_LOG_INFO, "store: %s: migrated to schema %d", c->path,
                   v + 1);
    }
    return rc == LR_NOMEM ? rc : (rc ? LR_IO : LR_OK);
}

static int store_wal_mode(struct store_conn *c, char *err, size_t errcap)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && strcmp(store_col_text(s, 0), "wal") == 0)
        rc = LR_OK;
    else
        rc = LR_IO;
    if (rc)
        store_errf(err, errcap, "%s: cannot switch to WAL: %s", c->path,
                   sqlite3_errmsg(c->db));
    sqlite3_finalize(s);
    return rc;
}

int store_db_setup(struct store_conn *c, int *version_out, char *err,
                   size_t errcap)
{
    int64_t version = 0;
    int rc;

    rc = store_identity(c, &version, err, errcap);
    if (rc)
        goto out;
    if (version > 0) {
        rc = store_quick_check(c, err, errcap);
        if (rc)
            goto out;
    }
    if (c->read_only) {
        rc = version < STORE_LATEST ? LR_IO : LR_OK;
        if (rc)
            store_errf(err, errcap, "%s: read-only, cannot migrate schema %lld",
                       c->path, (long long)version);
        goto out;
    }
    rc = store_wal_mode(c, err, errcap);
    if (rc)
        goto out;
    rc = store_migrate(c, (int)version, err, errcap);
    if (rc)
        goto out;
    if (store_apply_max_bytes(c) != 0) {
        store_errf(err, errcap, "%s: cannot set the size cap", c->path);
        rc = LR_IO;
    }
out:
    if (rc == 0)
        *version_out = STORE_LATEST;
    return rc;
}

/* ---- locks and audit --------------------------------------------------- */

int store_db_locks_load(struct store_conn *c,
                        int (*fn)(const struct store_db_lock_row *, void *),
                        void *arg)
{
    struct store_db_lock_row row;
    sqlite3_stmt *s = NULL;
    int rc, step = SQLITE_DONE;

    rc = store_stmt(c, SQL_LOCKS_LOAD, &s);
    if (rc)
        return rc;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        row.account_id = store_col_text(s, 0);
        row.len = (size_t)sqlite3_column_bytes(s, 0);
        row.expires_ms = sqlite3_column_int64(s, 1);
        row.scope = sqlite3_column_int(s, 2);
        row.audit_id = sqlite3_column_int64(s, 3);
        row.created_ms = sqlite3_column_int64(s, 4);
        row.actor = store_col_text(s, 5);
        row.reason = store_col_text(s, 6);
        row.ticket = store_col_text(s, 7);
        rc = fn(&row, arg);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(c, step, "load locks");
    sqlite3_reset(s);
    return rc;
}

int store_db_latest_time(struct store_conn *c, int64_t *ms_out)
{
    sqlite3_stmt *s = NULL;
    int rc, step;

    rc = store_stmt(c, SQL_LATEST_TIME, &s);
    if (rc)
        return rc;
    step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        *ms_out = sqlite3_column_int64(s, 0); /* NULL (no rows) reads 0 */
    else
        rc = store_fail(c, step, "latest time");
    sqlite3_reset(s);
    return rc;
}

static int store_audit_insert(struct store_conn *c,
                              const struct store_db_audit *a, int64_t *id)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = store_stmt(c, SQL_AUDIT_INSERT, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, a->at_ms);
    store_bind_text(s, 2, a->actor, strlen(a->actor ? a->actor : ""));
    store_bind_text(s, 3, a->action, strlen(a->action ? a->action : ""));
    store_bind_text(s, 4, a->reason, strlen(a->reason ? a->reason : ""));
    store_bind_text(s, 5, a->ticket, strlen(a->ticket ? a->ticket : ""));
    sqlite3_bind_int64(s, 6, (sqlite3_int64)a->matched);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)a->changed);
    rc = store_step_done(c, s, "audit");
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

static int store_locks_rows(struct store_conn *c, bool lock,
                            const char *const *ids, size_t n,
                            int64_t expires_ms, int scope, int64_t audit_id)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = store_stmt(c, lock ? SQL_LOCK_UPSERT : SQL_LOCK_DELETE, &s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        store_bind_text(s, 1, ids[i], strlen(ids[i]));
        if (lock) {
            sqlite3_bind_int64(s, 2, expires_ms);
            sqlite3_bind_int(s, 3, scope);
            sqlite3_bind_int64(s, 4, audit_id);
        }
        rc = store_step_done(c, s, lock ? "lock" : "unlock");
    }
    return rc;
}

int store_db_locks_apply(struct store_conn *c, bool lock,
                         const char *const *ids, size_t n, int64_t expires_ms,
                         int scope, const struct store_db_audit *a,
                         int64_t *audit_id_out)
{
    int64_t audit_id = 0;
    int rc;

    rc = store_begin(c);
    if (rc)
        return rc;
    rc = store_audit_insert(c, a, &audit_id);
    if (rc == 0)
        rc = store_locks_rows(c, lock, ids, n, expires_ms, scope, audit_id);
    if (rc == 0)
        rc = store_commit(c);
    else
        store_rollback(c);
    if (rc == 0)
        *audit_id_out = audit_id;
    return rc;
}

int store_db_audit_add(struct store_conn *c, const struct store_db_audit *a,
                       int64_t *id_out)
{
    int64_t id = 0;
    int rc;

    rc = store_audit_insert(c, a, &id);
    if (rc == 0)
        *id_out = id;
    return rc;
}

int store_db_audit_list(struct store_conn *c, size_t max,
                        struct store_audit *out, size_t *n_out)
{
    sqlite3_stmt *s = NULL;
    size_t n = 0;
    int rc, step = SQLITE_DONE;

    rc = store_stmt(c, SQL_AUDIT_LIST, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
    while (n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_audit *a = &out[n++];

        a->id = sqlite3_column_int64(s, 0);
        a->at_ms = sqlite3_column_int64(s, 1);
        lr_strlcpy(a->actor, store_col_text(s, 2), sizeof(a->actor));
        lr_strlcpy(a->action, store_col_text(s, 3), sizeof(a->action));
        lr_strlcpy(a->reason, store_col_text(s, 4), sizeof(a->reason));
        lr_strlcpy(a->ticket, store_col_text(s, 5), sizeof(a->ticket));
        a->matched = (uint64_t)sqlite3_column_int64(s, 6);
        a->changed = (uint64_t)sqlite3_column_int64(s, 7);
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_fail(c, step, "audit list");
    sqlite3_reset(s);
    if (rc == 0)
        *n_out = n;
    return rc;
}

int store_db_locks_list(struct store_conn *c, const char *after, int64_t now_ms,
                        size_t limit, struct store_lock *out, size_t *n_out)
{
    sqlite3_stmt *s = NULL;
    size_t n = 0;
    int rc, step = SQLITE_DONE;

    rc = store_stmt(c, SQL_LOCKS_LIST, &s);
    if (rc)
        return rc;
    store_bind_text(s, 1, after, strlen(after ? after : ""));
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
    while (n < limit && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_lock *l = &out[n++];

        lr_strlcpy(l->account_id, store_col_text(s, 0), sizeof(l->account_id));
        l->expires_ms = sqlite3_column_int64(s, 1);
        l->scope = sqlite3_column_int(s, 2) == STORE_SCOPE_UNFAMILIAR
                       ? STORE_SCOPE_UNFAMILIAR
                       : STORE_SCOPE_ALL;
        l->created_ms = sqlite3_column_int64(s, 4);
        lr_strlcpy(l->source, store_col_text(s, 5), sizeof(l->source));
        lr_strlcpy(l->reason, store_col_text(s, 6), sizeof(l->reason));
        lr_strlcpy(l->ticket, store_col_text(s, 7), sizeof(l->ticket));
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_fail(c, step, "list locks");
    sqlite3_reset(s);
    if (rc == 0)
        *n_out = n;
    return rc;
}

/* ---- profiles ---------------------------------------------------------- */

static int store_profile_row(sqlite3_stmt *s, struct store_profile *p)
{
    p->last_success_ms = sqlite3_column_int64(s, 0);
    p->last_has_location = sqlite3_column_type(s, 1) != SQLITE_NULL;
    p->last_lat = sqlite3_column_double(s, 1);
    p->last_lon = sqlite3_column_double(s, 2);
    p->last_radius_km = (uint32_t)sqlite3_column_int64(s, 3);
    lr_strlcpy(p->last_country, store_col_text(s, 4), sizeof(p->last_country));
    lr_strlcpy(p->last_city, store_col_text(s, 5), sizeof(p->last_city));
    p->flagged_spray = sqlite3_column_int(s, 6) != 0;
    return store_prof_blob_decode(sqlite3_column_blob(s, 7),
                                  (size_t)sqlite3_column_bytes(s, 7), p);
}

int store_db_profile_load(struct store_conn *c, const char *account_id,
                          struct store_profile *out)
{
    struct store_profile *p = NULL;
    sqlite3_stmt *s = NULL;
    int rc, step;

    rc = store_stmt(c, SQL_PROFILE_LOAD, &s);
    if (rc)
        return rc;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return LR_NOMEM;
    store_bind_text(s, 1, account_id, strlen(account_id));
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        lr_strlcpy(p->account_id, account_id, sizeof(p->account_id));
        rc = store_profile_row(s, p);
        if (rc)
            lr_log(LR_LOG_ERROR, "store: %s: profile of %s is damaged", c->path,
                   account_id);
    } else {
        rc = step == SQLITE_DONE ? LR_NOTFOUND
                                 : store_fail(c, step, "load profile");
    }
    sqlite3_reset(s);
    if (rc == 0)
        *out = *p;
    free(p);
    return rc;
}

int store_db_profile_ids(struct store_conn *c,
                         void (*fn)(const char *account_id, void *arg),
                         void *arg)
{
    sqlite3_stmt *s = NULL;
    int rc, step;

    rc = store_stmt(c, SQL_PROFILE_IDS, &s);
    if (rc)
        return rc;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        fn(store_col_text(s, 0), arg);
    rc = step == SQLITE_DONE ? LR_OK : store_fail(c, step, "list profiles");
    sqlite3_reset(s);
    return rc;
}

static int store_put_profile(struct store_conn *c,
                             const struct store_prof_rec *r)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = store_stmt(c, SQL_PROFILE_UPSERT, &s);
    if (rc)
        return rc;
    store_bind_text(s, 1, r->account, r->account_len);
    sqlite3_bind_int64(s, 2, r->updated_ms);
    sqlite3_bind_int64(s, 3, r->last_success_ms);
    if (r->has_location) {
        sqlite3_bind_double(s, 4, r->lat);
        sqlite3_bind_double(s, 5, r->lon);
    } else {
        sqlite3_bind_null(s, 4);
        sqlite3_bind_null(s, 5);
    }
    sqlite3_bind_int64(s, 6, r->radius_km);
    store_bind_text(s, 7, r->country, strlen(r->country));
    store_bind_text(s, 8, r->city, r->city_len);
    sqlite3_bind_int(s, 9, r->flagged_spray);
    sqlite3_bind_blob(s, 10, r->blob, (int)r->blob_len, SQLITE_STATIC);
    return store_step_done(c, s, "save profile");
}

/* ---- transactions of the writer thread --------------------------------- */

int store_db_begin(struct store_conn *c)
{
    return store_begin(c);
}

int store_db_commit(struct store_conn *c)
{
    return store_commit(c);
}

void store_db_rollback(struct store_conn *c)
{
    store_rollback(c);
}

int store_db_profile_put(struct store_conn *c, const struct store_prof_rec *r)
{
    return store_put_profile(c, r);
}

/* ---- history ----------------------------------------------------------- */

int store_db_batch_put(struct store_conn *c, const struct store_hist_sealed *b)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = store_stmt(c, SQL_BATCH_INSERT, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, b->ts_min);
    sqlite3_bind_int64(s, 2, b->ts_max);
    sqlite3_bind_int64(s, 3, b->n);
    sqlite3_bind_blob(s, 4, b->bloom, (int)b->bloom_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, b->body, (int)b->body_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, b->terms, (int)b->terms_len, SQLITE_STATIC);
    return store_step_done(c, s, "append history");
}

static void store_login_row(sqlite3_stmt *s, struct store_login *l)
{
    uint8_t key[16] = {0};

    memset(l, 0, sizeof(*l));
    l->ts_ms = sqlite3_column_int64(s, 0);
    lr_strlcpy(l->account_id, store_col_text(s, 1), sizeof(l->account_id));
    if (sqlite3_column_bytes(s, 2) == 16)
        memcpy(key, sqlite3_column_blob(s, 2), 16);
    store_ip_unkey(key, l->ip, &l->ip_family);
    lr_strlcpy(l->device_id, store_col_text(s, 3), sizeof(l->device_id));
    l->credential = sqlite3_column_int(s, 4);
    l->action = sqlite3_column_int(s, 5);
    l->score = sqlite3_column_int(s, 6);
    lr_strlcpy(l->country, store_col_text(s, 7), sizeof(l->country));
    lr_strlcpy(l->city, store_col_text(s, 8), sizeof(l->city));
    l->has_location = sqlite3_column_type(s, 9) != SQLITE_NULL;
    l->lat = sqlite3_column_double(s, 9);
    l->lon = sqlite3_column_double(s, 10);
    l->asn = (uint32_t)sqlite3_column_int64(s, 11);
    store_reasons_split(store_col_text(s, 12),
                        (size_t)sqlite3_column_bytes(s, 12), l);
    lr_strlcpy(l->request_id, store_col_text(s, 13), sizeof(l->request_id));
}

/* Writes the batch if it has rows, and empties it. */
static int store_batch_flush(struct store_conn *c, struct store_hist_batch *b)
{
    struct store_hist_sealed sealed;
    int rc = LR_OK;

    if (store_hist_batch_rows(b) == 0)
        return LR_OK;
    store_hist_batch_seal(b, &sealed);
    rc = store_db_batch_put(c, &sealed);
    store_hist_batch_reset(b);
    return rc;
}

/* Moves one old row into the batch; a row the codec refuses is skipped. */
static int store_migrate_row(struct store_conn *c, struct store_hist_batch *b,
                             const struct store_login *l, uint64_t *skipped)
{
    struct store_hist_rec *r = NULL;
    int rc;

    if (store_hist_pack(l, &r) != LR_OK) {
        (*skipped)++;
        return LR_OK;
    }
    rc = store_hist_batch_fits(b, r) ? LR_OK : store_batch_flush(c, b);
    if (rc == 0)
        store_hist_batch_add(b, r, 0);
    free(r);
    return rc;
}

/*
 * Schema 3 -> 4, inside the migration's transaction: packs every row of
 * the old history table (if there is one) into batches, in id order, then
 * drops the table and its six indexes.
 */
static int store_migrate_history(struct store_conn *c)
{
    struct store_hist_batch *b = NULL;
    struct store_login *l = malloc(sizeof(*l));
    sqlite3_stmt *s = NULL;
    uint64_t moved = 0, skipped = 0;
    int64_t tables = 0;
    int rc = LR_NOMEM, step = SQLITE_DONE;

    if (l == NULL || store_hist_batch_new(&b) != LR_OK)
        goto out;
    rc = store_query_int(c,
                         "SELECT count(*) FROM sqlite_schema"
                         " WHERE type = 'table' AND name = 'history'",
                         &tables);
    if (rc != SQLITE_OK) {
        rc = store_fail(c, rc, "migrate history");
        goto out;
    }
    if (tables == 0) { /* created at version 3: nothing to move */
        rc = LR_OK;
        goto out;
    }
    rc = sqlite3_prepare_v2(
        c->db, "SELECT " STORE_HISTORY_COLS " FROM history ORDER BY id", -1, &s,
        NULL);
    if (rc != SQLITE_OK) {
        rc = store_fail(c, rc, "migrate history");
        goto out;
    }
    rc = LR_OK;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        store_login_row(s, l);
        rc = store_migrate_row(c, b, l, &skipped);
        moved++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(c, step, "migrate history");
    if (rc == 0)
        rc = store_batch_flush(c, b);
    if (rc == 0)
        rc = store_exec(c, "DROP TABLE history", "migrate history");
    if (rc == 0 && moved > 0)
        lr_log(LR_LOG_INFO,
               "store: %s: %llu logins packed into batches (%llu unreadable"
               " ones dropped)",
               c->path, (unsigned long long)(moved - skipped),
               (unsigned long long)skipped);
out:
    sqlite3_finalize(s);
    store_hist_batch_free(b);
    free(l);
    return rc;
}

/* Logs a damaged batch once per read; the caller skips it. */
static void store_batch_damaged(const struct store_conn *c, int64_t id)
{
    lr_log(LR_LOG_ERROR, "store: %s: history batch %lld is damaged; skipped",
           c->path, (long long)id);
}

/* Keeps the @p max newest rows of @p r (ts, then arrival, descending). */
struct store_recent {
    struct store_login *rows;
    size_t n, cap, max;
    uint64_t *seq; /* arrival order: larger = newer */
    uint64_t next_seq;
};

static int store_recent_cmp(const struct store_login *a, uint64_t sa,
                            const struct store_login *b, uint64_t sb)
{
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms > b->ts_ms ? -1 : 1;
    return sa > sb ? -1 : (sa < sb ? 1 : 0);
}

/* Insertion into the sorted array; drops the oldest beyond max. */
static void store_recent_add(struct store_recent *r,
                             const struct store_hist_view *v, uint64_t seq)
{
    struct store_login *l;
    size_t pos;

    if (r->n == r->max) {
        l = &r->rows[r->n - 1];
        if (v->ts_ms < l->ts_ms ||
            (v->ts_ms == l->ts_ms && seq < r->seq[r->n - 1]))
            return;
        r->n--;
    }
    store_hist_view_login(v, &r->rows[r->n]);
    r->seq[r->n] = seq;
    pos = r->n++;
    while (pos > 0 &&
           store_recent_cmp(&r->rows[pos], r->seq[pos], &r->rows[pos - 1],
                            r->seq[pos - 1]) < 0) {
        struct store_login t = r->rows[pos];
        uint64_t ts = r->seq[pos];

        r->rows[pos] = r->rows[pos - 1];
        r->seq[pos] = r->seq[pos - 1];
        r->rows[pos - 1] = t;
        r->seq[pos - 1] = ts;
        pos--;
    }
}

/*
 * Calls @p fn for each row of batch @p id, in order, until it returns an
 * error. A damaged batch is logged and its remaining rows skipped. LR_OK,
 * @p fn's error, or the database's.
 */
static int store_batch_each(struct store_conn *c, int64_t id, const char *what,
                            int (*fn)(const struct store_hist_view *v,
                                      uint64_t row, void *arg),
                            void *arg)
{
    struct store_hist_iter it;
    struct store_hist_view v;
    sqlite3_stmt *s = NULL;
    uint64_t row = 0;
    int rc, step;

    rc = store_stmt(c, SQL_BATCH_BODY, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        rc = store_hist_iter_init(&it, sqlite3_column_blob(s, 0),
                                  (size_t)sqlite3_column_bytes(s, 0));
        while (rc == 0 && (rc = store_hist_iter_next(&it, &v)) == LR_OK)
            rc = fn(&v, row++, arg);
        if (rc == LR_CORRUPT)
            store_batch_damaged(c, id);
        if (rc == LR_CORRUPT || rc == LR_NOTFOUND)
            rc = LR_OK;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(c, step, what);
    }
    sqlite3_reset(s);
    return rc;
}

struct store_recent_arg {
    const char *account;
    size_t len;
    struct store_recent *r;
    uint64_t batch_seq;
};

static int store_recent_row(const struct store_hist_view *v, uint64_t row,
                            void *arg)
{
    struct store_recent_arg *a = arg;

    if (store_hist_view_is(v, a->account, a->len))
        store_recent_add(a->r, v, (a->batch_seq << 10) | row);
    return LR_OK;
}

/* Reads the rows of @p account from batch @p id into @p r. */
static int store_recent_batch(struct store_conn *c, int64_t id,
                              const char *account, size_t len,
                              struct store_recent *r, uint64_t batch_seq)
{
    struct store_recent_arg a = {account, len, r, batch_seq};

    return store_batch_each(c, id, "recent history", store_recent_row, &a);
}

/*
 * Walks the batches by their newest login first (ts_max; login times come
 * from clients, so a batch committed later may hold older logins), reading
 * only those whose Bloom filter may hold the account. Stops once @p max rows
 * are held and the next batch's newest login is older than the oldest row
 * held (no batch after it can hold a newer one), or after
 * STORE_RECENT_SCAN_MAX batches.
 */
static int store_recent_scan(struct store_conn *c, const char *account,
                             struct store_recent *r)
{
    uint64_t h = store_hist_hash(account, strlen(account)), seen = 0;
    size_t len = strlen(account);
    sqlite3_stmt *s = NULL;
    int rc, step = SQLITE_DONE;

    rc = store_stmt(c, SQL_BATCH_BLOOMS, &s);
    if (rc)
        return rc;
    while (rc == 0 && seen < STORE_RECENT_SCAN_MAX &&
           (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);

        if (r->n == r->max &&
            sqlite3_column_int64(s, 1) < r->rows[r->n - 1].ts_ms)
            break;
        seen++;
        if (store_hist_bloom_may(sqlite3_column_blob(s, 2),
                                 (size_t)sqlite3_column_bytes(s, 2), h))
            rc = store_recent_batch(c, id, account, len, r, (uint64_t)id);
    }
    if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_fail(c, step, "recent history");
    sqlite3_reset(s);
    return rc;
}

int store_db_history_recent(struct store_conn *c, const char *account_id,
                            size_t max, struct store_login **rows_out,
                            size_t *n_out)
{
    struct store_recent r = {.max = max};
    int rc;

    r.rows = malloc((max ? max : 1) * sizeof(*r.rows));
    r.seq = malloc((max ? max : 1) * sizeof(*r.seq));
    if (r.rows == NULL || r.seq == NULL) {
        free(r.rows);
        free(r.seq);
        return LR_NOMEM;
    }
    rc = max ? store_recent_scan(c, account_id, &r) : LR_OK;
    free(r.seq);
    if (rc) {
        free(r.rows);
        return rc;
    }
    *rows_out = r.rows;
    *n_out = r.n;
    return LR_OK;
}

/* ---- lock-by-query ----------------------------------------------------- */

/* Adds the matching accounts of batch @p id to @p set. */
struct store_query_arg {
    const struct store_query *q;
    const uint8_t (*ranges)[2][16];
    struct store_acctset *set;
};

static int store_query_row(const struct store_hist_view *v, uint64_t row,
                           void *arg)
{
    struct store_query_arg *a = arg;

    (void)row;
    if (!store_hist_match(v, a->q, a->ranges))
        return LR_OK;
    return store_acctset_add(a->set, v->account, v->account_len);
}

static int store_query_batch(struct store_conn *c, int64_t id,
                             const struct store_query *q,
                             const uint8_t (*ranges)[2][16],
                             struct store_acctset *set)
{
    struct store_query_arg a = {q, ranges, set};

    return store_batch_each(c, id, "query history", store_query_row, &a);
}

static int store_query_scan(struct store_conn *c, const struct store_query *q,
                            const uint8_t (*ranges)[2][16],
                            struct store_acctset *set)
{
    sqlite3_stmt *s = NULL;
    int rc, step = SQLITE_DONE;

    rc = store_stmt(c, SQL_BATCH_RANGE, &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, q->since_ms != 0 ? q->since_ms : INT64_MIN);
    sqlite3_bind_int64(s, 2, q->until_ms != 0 ? q->until_ms : INT64_MAX);
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const void *terms = sqlite3_column_blob(s, 1);

        /* the rows are read only when the batch's filter admits a match */
        if (store_hist_terms_may(terms, (size_t)sqlite3_column_bytes(s, 1), q,
                                 ranges))
            rc = store_query_batch(c, sqlite3_column_int64(s, 0), q, ranges,
                                   set);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_fail(c, step, "query history");
    sqlite3_reset(s);
    if (rc == LR_FULL)
        lr_log(LR_LOG_WARN,
               "store: %s: query without a limit matches more than %d"
               " accounts; refused",
               c->path, STORE_QUERY_ACCOUNTS_MAX);
    return rc;
}

int store_db_history_query(struct store_conn *c, const struct store_query *q,
                           void (*fn)(const char *, void *), void *arg)
{
    uint8_t(*ranges)[2][16] = calloc(q->n_cidrs + 1, sizeof(*ranges));
    struct store_acctset *set = NULL;
    int rc = LR_NOMEM;

    if (ranges == NULL || store_acctset_new(q->limit, &set) != LR_OK)
        goto out;
    rc = LR_OK;
    for (size_t i = 0; i < q->n_cidrs && rc == 0; i++)
        rc = store_cidr_range(q->cidr_nets[i], q->cidr_families[i],
                              q->cidr_bits[i], ranges[i][0], ranges[i][1]);
    if (rc == 0)
        rc = store_query_scan(c, q, (const uint8_t(*)[2][16])ranges, set);
    if (rc == 0)
        rc = store_acctset_emit(set, q->limit, fn, arg);
out:
    store_acctset_free(set);
    free(ranges);
    return rc;
}

/* ---- maintenance ------------------------------------------------------- */

/*
 * Deletes one chunk of batches in its own transaction: those selected by
 * @p sel_id (SQL_BATCH_OLD: older than @p arg; SQL_BATCH_OLDEST: the first
 * ones by id above @p arg).
 */
static int store_purge_chunk(struct store_conn *c, enum store_sql_id sel_id,
                             int64_t arg, size_t limit, uint64_t *rows,
                             size_t *batches)
{
    sqlite3_stmt *sel = NULL, *del = NULL;
    int64_t ids[STORE_PURGE_CHUNK];
    size_t n = 0;
    int rc, step = SQLITE_DONE;

    rc = store_stmt(c, sel_id, &sel);
    if (rc == 0)
        rc = store_stmt(c, SQL_BATCH_DELETE, &del);
    if (rc == 0)
        rc = store_begin(c);
    if (rc)
        return rc;
    sqlite3_bind_int64(sel, 1, arg);
    sqlite3_bind_int64(sel, 2, (sqlite3_int64)limit);
    while (n < limit && (step = sqlite3_step(sel)) == SQLITE_ROW) {
        ids[n++] = sqlite3_column_int64(sel, 0);
        *rows += (uint64_t)sqlite3_column_int64(sel, 1);
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = store_fail(c, step, "purge history");
    sqlite3_reset(sel);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(del, 1, ids[i]);
        rc = store_step_done(c, del, "purge history");
    }
    if (rc == 0)
        rc = store_commit(c);
    else
        store_rollback(c);
    if (rc == 0)
        *batches = n;
    return rc;
}

int store_db_purge(struct store_conn *c, int64_t before_ms, int64_t now_ms,
                   uint64_t *deleted_out)
{
    uint64_t total = 0;
    size_t batches = STORE_PURGE_CHUNK;
    sqlite3_stmt *s = NULL;
    int rc = LR_OK;

    while (rc == 0 && batches == STORE_PURGE_CHUNK) {
        uint64_t rows = 0;

        batches = 0;
        rc = store_purge_chunk(c, SQL_BATCH_OLD, before_ms, STORE_PURGE_CHUNK,
                               &rows, &batches);
        if (rc == 0)
            total += rows;
    }
    if (rc == 0)
        rc = store_stmt(c, SQL_LOCKS_PURGE, &s);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, now_ms);
        rc = store_step_done(c, s, "purge locks");
    }
    if (rc == 0)
        *deleted_out = total;
    return rc;
}

/* Bytes of the file in use (pages not on the free list). */
static int store_used_bytes(struct store_conn *c, uint64_t *out)
{
    int64_t pages = 0, free_pages = 0, page = 0;
    int rc;

    rc = store_query_int(c, "PRAGMA page_count", &pages);
    if (rc == SQLITE_OK)
        rc = store_query_int(c, "PRAGMA freelist_count", &free_pages);
    if (rc == SQLITE_OK)
        rc = store_query_int(c, "PRAGMA page_size", &page);
    if (rc != SQLITE_OK)
        return store_fail(c, rc, "page count");
    *out = pages > free_pages ? (uint64_t)(pages - free_pages) * (uint64_t)page
                              : 0;
    return LR_OK;
}

int store_db_history_trim(struct store_conn *c, uint64_t cap_bytes,
                          struct store_db_trim *out)
{
    struct store_db_trim t = {0};
    uint64_t used = 0;
    int rc;

    rc = store_used_bytes(c, &used);
    if (rc)
        return rc;
    t.over = used > cap_bytes;
    if (t.over)
        rc = store_purge_chunk(c, SQL_BATCH_OLDEST, INT64_MIN, STORE_TRIM_CHUNK,
                               &t.rows, &t.batches);
    if (rc == 0)
        *out = t;
    return rc;
}

void store_db_checkpoint(struct store_conn *c)
{
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       NULL, NULL);

    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
        lr_log(LR_LOG_WARN, "store: %s: checkpoint: %s", c->path,
               sqlite3_errmsg(c->db));
}

int store_db_probe(struct store_conn *c)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", STORE_LATEST);
    return store_exec(c, sql, "write probe");
}

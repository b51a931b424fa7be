/*
 * test_store.c - store/: locks, profiles, history, audit, and its faults.
 *
 * Every test runs against real SQLite files in its own mkdtemp directory.
 * Fault tests use real mechanisms: a child killed with SIGKILL, a child
 * that drops root so file modes bite, SQLite's own page cap for a full
 * disk, files of random bytes, a truncated database and another
 * application's database. The test talks SQL directly only to craft such
 * files (a version 1 database, a damaged profile) and to look inside.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#define T0 1700000000000LL /* a fixed event time, Nov 2023 */
#define NOBODY 65534

struct fx {
    char dir[64];
    char db[128];
    struct store *st;
};

/* ---- fixture and helpers ----------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/lr-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/loginrisk.db", f->dir);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->st);
    chmod(f->dir, 0700);
    nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct store_opts fx_opts(const struct fx *f)
{
    struct store_opts o = {.dir = f->dir, .retention_days = 7};

    return o;
}

static void fx_open(struct fx *f)
{
    struct store_opts o = fx_opts(f);
    char err[512];

    store_close(f->st);
    f->st = NULL;
    assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), LR_OK);
}

static void fx_close(struct fx *f)
{
    store_close(f->st);
    f->st = NULL;
}

static const struct store_actor *actor(int64_t now_ms)
{
    static struct store_actor a;

    a = (struct store_actor){.actor = "alice-responder",
                             .reason = "credential stuffing wave",
                             .ticket = "INC-42",
                             .now_ms = now_ms};
    return &a;
}

/* ids[i] = "<prefix>-<from + i>", in one malloc'd block. */
static char **make_ids(const char *prefix, size_t from, size_t n)
{
    char **ids = malloc(n * (sizeof(char *) + 32));
    char *text = (char *)(ids + n);

    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = text + i * 32;
        snprintf(ids[i], 32, "%s-%07zu", prefix, from + i);
    }
    return ids;
}

static int lock_ids(struct store *st, char **ids, size_t n, uint64_t dur,
                    int64_t now, struct store_bulk_result *r)
{
    return store_lock_accounts(st, (const char *const *)ids, n, dur,
                               STORE_SCOPE_ALL, actor(now), false, r);
}

static int lock_const(struct store *st, const char *const *ids, size_t n,
                      struct store_bulk_result *r)
{
    return store_lock_accounts(st, ids, n, 0, STORE_SCOPE_ALL, actor(T0), false,
                               r);
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sql failed: %s: %s", sql, msg);
    sqlite3_close(db);
}

static void sql_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    out[0] = '\0';
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        lr_strlcpy(out, (const char *)sqlite3_column_text(s, 0), cap);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

/* ---- open, schema, migrations ------------------------------------------ */

static void test_store_open_creates_schema(void **state)
{
    struct fx *f = *state;
    struct store_opts o = fx_opts(f);
    char nested[160], err[256], mode[16];
    struct stat sb;

    snprintf(nested, sizeof(nested), "%s/a/b", f->dir);
    o.dir = nested;
    assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), LR_OK);
    assert_int_equal(store_schema_version(f->st), store_schema_latest());
    assert_true(store_schema_latest() >= 2);
    assert_false(store_read_only(f->st));
    assert_true(store_writable(f->st));
    assert_int_equal(store_probe(f->st), LR_OK);
    assert_true(store_writable(f->st));
    assert_int_equal(stat(nested, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    fx_close(f);
    strcat(nested, "/loginrisk.db");
    assert_int_equal(sql_int(nested, "PRAGMA application_id"), 0x4C52736B);
    sql_text(nested, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
}

static void test_store_open_invalid_args(void **state)
{
    struct fx *f = *state;
    struct store_opts o = {0};
    char err[64];

    assert_int_equal(store_open(NULL, &f->st, err, sizeof(err)), LR_INVALID);
    assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), LR_INVALID);
    o.dir = "";
    assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), LR_INVALID);
    assert_null(f->st);
}

/* The version 1 schema exactly as the first release created it. */
static const char v1_schema[] =
    "CREATE TABLE locks (account_id TEXT PRIMARY KEY NOT NULL,"
    " expires_ms INTEGER NOT NULL, scope INTEGER NOT NULL,"
    " audit_id INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX locks_expiry ON locks(expires_ms) WHERE expires_ms != 0;"
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,"
    " ticket TEXT NOT NULL, matched INTEGER NOT NULL,"
    " changed INTEGER NOT NULL);"
    "CREATE TABLE profiles (account_id TEXT PRIMARY KEY NOT NULL,"
    " updated_ms INTEGER NOT NULL, last_success_ms INTEGER NOT NULL,"
    " last_lat REAL, last_lon REAL, last_radius_km INTEGER NOT NULL,"
    " last_country TEXT NOT NULL, last_city TEXT NOT NULL,"
    " flagged_spray INTEGER NOT NULL, seen BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE history (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,"
    " account_id TEXT NOT NULL, ip BLOB NOT NULL, device_id TEXT NOT NULL,"
    " credential INTEGER NOT NULL, action INTEGER NOT NULL,"
    " score INTEGER NOT NULL, country TEXT NOT NULL, city TEXT NOT NULL,"
    " lat REAL, lon REAL, asn INTEGER NOT NULL, reasons TEXT NOT NULL,"
    " request_id TEXT NOT NULL);"
    "CREATE INDEX history_ts ON history(ts_ms);"
    "CREATE INDEX history_account ON history(account_id, ts_ms);"
    "PRAGMA application_id = 1280471915;"
    "PRAGMA user_version = 1;"
    "INSERT INTO audit VALUES(7, 1700000000000, 'bob', 'lock', 'fraud',"
    " 'INC-1', 1, 1);"
    "INSERT INTO locks VALUES('old-account', 0, 0, 7);"
    "INSERT INTO history VALUES(1, 1700000000000, 'old-account',"
    " x'00000000000000000000ffffc0000201', 'dev', 1, 1, 0, 'GB', 'London',"
    " 51.5, -0.1, 64500, 'NEW_DEVICE', 'req-1');";

static void collect_account(const char *id, void *arg)
{
    char *buf = arg;

    strcat(buf, id);
    strcat(buf, ";");
}

static void test_store_open_migrates_v1(void **state)
{
    struct fx *f = *state;
    uint32_t asn = 64500;
    struct store_query q = {.asns = &asn, .n_asns = 1};
    struct store_lock l;
    char got[256] = "";

    sql_exec(f->db, v1_schema);
    fx_open(f);
    assert_int_equal(store_schema_version(f->st), store_schema_latest());
    assert_int_equal(store_lock_get(f->st, "old-account", T0, &l), LR_OK);
    assert_string_equal(l.reason, "fraud");
    assert_string_equal(l.source, "bob");
    assert_int_equal(l.created_ms, T0);
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_OK);
    assert_string_equal(got, "old-account;");
    fx_close(f);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"),
                     store_schema_latest());
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema"
                                    " WHERE name = 'history_asn'"),
                     0);
    assert_int_equal(sql_int(f->db, "SELECT n FROM history_batch"), 1);
}

static void expect_corrupt(struct fx *f, const char *what)
{
    struct store_opts o = fx_opts(f);
    char err[512] = "";

    assert_int_equal(store_open(&o, &f->st, err, sizeof(err)), LR_CORRUPT);
    assert_null(f->st);
    if (strstr(err, f->db) == NULL || strstr(err, what) == NULL)
        fail_msg("message \"%s\" lacks the file or \"%s\"", err, what);
}

static void test_store_open_newer_version_refused(void **state)
{
    struct fx *f = *state;

    fx_open(f);
    fx_close(f);
    sql_exec(f->db, "PRAGMA user_version = 99");
    expect_corrupt(f, "schema version 99");
}

static void test_store_open_corrupt_random_bytes(void **state)
{
    struct fx *f = *state;
    unsigned char junk[8192];

    srand(7);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand();
    write_file(f->db, junk, sizeof(junk));
    expect_corrupt(f, "loginrisk.db");
}

static void test_store_open_corrupt_truncated(void **state)
{
    struct fx *f = *state;
    struct store_bulk_result r;
    char **ids = make_ids("trunc", 0, 5000);
    struct stat sb;

    fx_open(f);
    assert_int_equal(lock_ids(f->st, ids, 5000, 0, T0, &r), LR_OK);
    fx_close(f);
    free(ids);
    assert_int_equal(stat(f->db, &sb), 0);
    assert_true(sb.st_size > 64 * 1024);
    assert_int_equal(truncate(f->db, sb.st_size / 2), 0);
    expect_corrupt(f, "loginrisk.db");
}

static void test_store_open_other_application(void **state)
{
    struct fx *f = *state;

    sql_exec(f->db, "CREATE TABLE songs(title TEXT);"
                    "INSERT INTO songs VALUES('la');");
    expect_corrupt(f, "not a loginrisk database");
}

/* ---- locks ------------------------------------------------------------- */

static void test_store_lock_accounts_basic(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"carol", "alice", "bob", "alice"};
    struct store_bulk_result r;
    struct store_lock l;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 4, 3600,
                                         STORE_SCOPE_UNFAMILIAR, actor(T0),
                                         false, &r),
                     LR_OK);
    assert_int_equal(r.matched, 3);
    assert_int_equal(r.changed, 3);
    assert_int_equal(r.unchanged, 0);
    assert_true(r.audit_id > 0);
    assert_int_equal(r.n_sample, 3);
    assert_string_equal(r.sample[0], "alice");
    assert_string_equal(r.sample[2], "carol");
    assert_int_equal(store_lock_get(f->st, "bob", T0 + 1, &l), LR_OK);
    assert_string_equal(l.account_id, "bob");
    assert_string_equal(l.reason, "credential stuffing wave");
    assert_string_equal(l.ticket, "INC-42");
    assert_string_equal(l.source, "alice-responder");
    assert_int_equal(l.created_ms, T0);
    assert_int_equal(l.expires_ms, T0 + 3600 * 1000);
    assert_int_equal(l.scope, STORE_SCOPE_UNFAMILIAR);
    assert_int_equal(store_lock_get(f->st, "dave", T0, &l), LR_NOTFOUND);
    assert_true(store_lock_memory(f->st) > 0);
}

static void test_store_lock_accounts_idempotent(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"a1", "a2", "a3"};
    struct store_bulk_result r;
    struct store_lock l;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 3, 600, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    /* A resent batch 5 s later: same duration, nothing changes. */
    assert_int_equal(store_lock_accounts(f->st, ids, 3, 600, STORE_SCOPE_ALL,
                                         actor(T0 + 5000), false, &r),
                     LR_OK);
    assert_int_equal(r.changed, 0);
    assert_int_equal(r.unchanged, 3);
    assert_int_equal(r.audit_id, 0);
    assert_int_equal(r.n_sample, 0);
    /* A weaker scope or a shorter lock is covered by the existing one. */
    assert_int_equal(store_lock_accounts(f->st, ids, 3, 60,
                                         STORE_SCOPE_UNFAMILIAR,
                                         actor(T0 + 6000), false, &r),
                     LR_OK);
    assert_int_equal(r.changed, 0);
    /* A longer one replaces it. */
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 0, STORE_SCOPE_ALL,
                                         actor(T0 + 7000), false, &r),
                     LR_OK);
    assert_int_equal(r.changed, 1);
    assert_int_equal(store_lock_get(f->st, "a1", T0 + 8000, &l), LR_OK);
    assert_int_equal(l.expires_ms, 0);
    assert_int_equal(l.created_ms, T0 + 7000);
    assert_int_equal(store_lock_count(f->st), 3);
}

static void test_store_lock_accounts_scope_upgrade(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"s1"};
    struct store_bulk_result r;
    struct store_lock l;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 0,
                                         STORE_SCOPE_UNFAMILIAR, actor(T0),
                                         false, &r),
                     LR_OK);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 0, STORE_SCOPE_ALL,
                                         actor(T0 + 1), false, &r),
                     LR_OK);
    assert_int_equal(r.changed, 1);
    assert_int_equal(store_lock_get(f->st, "s1", T0 + 2, &l), LR_OK);
    assert_int_equal(l.scope, STORE_SCOPE_ALL);
    assert_int_equal(store_lock_count(f->st), 1);
}

static void test_store_lock_accounts_dry_run(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"d1", "d2", "d3"};
    struct store_bulk_result r;
    struct store_audit a[4];
    struct store_lock l;
    size_t n;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 0, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_accounts(f->st, ids, 3, 0, STORE_SCOPE_ALL,
                                         actor(T0), true, &r),
                     LR_OK);
    assert_int_equal(r.matched, 3);
    assert_int_equal(r.changed, 2);
    assert_int_equal(r.unchanged, 1);
    assert_int_equal(r.audit_id, 0);
    assert_string_equal(r.sample[0], "d2");
    assert_int_equal(store_lock_get(f->st, "d2", T0, &l), LR_NOTFOUND);
    assert_int_equal(store_unlock_accounts(f->st, ids, 3, actor(T0), true, &r),
                     LR_OK);
    assert_int_equal(r.changed, 1);
    assert_int_equal(store_lock_get(f->st, "d1", T0, &l), LR_OK);
    fx_open(f);
    assert_int_equal(store_lock_count(f->st), 1);
    assert_int_equal(store_audit_list(f->st, 4, a, &n), LR_OK);
    assert_int_equal(n, 1);
}

static void test_store_lock_accounts_expiry(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"e1"}, *keep[] = {"e2"};
    struct store_bulk_result r;
    struct store_lock l;
    uint64_t deleted;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 60, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_accounts(f->st, keep, 1, 0, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_count(f->st), 2);
    assert_int_equal(store_lock_get(f->st, "e1", T0 + 59999, &l), LR_OK);
    assert_int_equal(store_lock_get(f->st, "e1", T0 + 60000, &l), LR_NOTFOUND);
    /* Store time is now T0 + 60 s: the expired lock no longer counts. */
    assert_int_equal(store_lock_count(f->st), 1);
    /* Expired: locking again changes it, unlocking does not. */
    assert_int_equal(
        store_unlock_accounts(f->st, ids, 1, actor(T0 + 60001), true, &r),
        LR_OK);
    assert_int_equal(r.changed, 0);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 60, STORE_SCOPE_ALL,
                                         actor(T0 + 60001), true, &r),
                     LR_OK);
    assert_int_equal(r.changed, 1);
    /* The row goes from disk at the next purge; reopening does not revive
     * it, and store time starts from the newest audit row. */
    assert_int_equal(store_purge(f->st, T0 + 60001, &deleted), LR_OK);
    fx_open(f);
    assert_int_equal(store_lock_count(f->st), 1);
    assert_int_equal(store_lock_get(f->st, "e1", T0 + 1, &l), LR_NOTFOUND);
    assert_int_equal(store_lock_get(f->st, "e2", T0 + 1, &l), LR_OK);
}

/* A timed lock at a fixed past date outlives the writer's housekeeping. */
static void test_store_lock_accounts_past_clock(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"p1"};
    struct store_bulk_result r;
    struct store_lock l;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 3600, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    usleep(200 * 1000); /* several writer ticks */
    assert_int_equal(store_lock_count(f->st), 1);
    fx_open(f);
    assert_int_equal(store_lock_count(f->st), 1);
    assert_int_equal(store_lock_get(f->st, "p1", T0 + 1000, &l), LR_OK);
}

static void test_store_lock_accounts_invalid(void **state)
{
    struct fx *f = *state;
    char longid[STORE_ID_MAX + 1];
    const char *empty[] = {"ok", ""}, *toolong[] = {longid};
    const char *badutf8[] = {"\xc3\x28"}, *nul[] = {NULL}, *good[] = {"g"};
    struct store_actor bad = *actor(T0);
    struct store_bulk_result r;

    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    fx_open(f);
    assert_int_equal(lock_const(f->st, empty, 2, &r), LR_INVALID);
    assert_int_equal(lock_const(f->st, toolong, 1, &r), LR_INVALID);
    assert_int_equal(lock_const(f->st, badutf8, 1, &r), LR_INVALID);
    assert_int_equal(lock_const(f->st, nul, 1, &r), LR_INVALID);
    assert_int_equal(
        store_lock_accounts(f->st, good, 1, 0, 7, actor(T0), false, &r),
        LR_INVALID);
    assert_int_equal(store_lock_accounts(f->st, good, 1, 0, STORE_SCOPE_ALL,
                                         NULL, false, &r),
                     LR_INVALID);
    assert_int_equal(store_lock_accounts(f->st, good, STORE_BULK_MAX + 1, 0,
                                         STORE_SCOPE_ALL, actor(T0), false, &r),
                     LR_INVALID);
    bad.reason = longid;
    assert_int_equal(store_lock_accounts(f->st, good, 1, 0, STORE_SCOPE_ALL,
                                         &bad, false, &r),
                     LR_INVALID);
    assert_int_equal(store_lock_count(f->st), 0);
    assert_int_equal(store_lock_get(f->st, NULL, T0, NULL), LR_INVALID);
}

static void test_store_unlock_accounts_basic(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"u1", "u2", "u3", "u4", "u5"};
    const char *un[] = {"u1", "u2", "u3", "nobody-locked-me"};
    struct store_bulk_result r;
    struct store_lock l;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 5, 0, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    assert_int_equal(
        store_unlock_accounts(f->st, un, 4, actor(T0 + 1), false, &r), LR_OK);
    assert_int_equal(r.matched, 4);
    assert_int_equal(r.changed, 3);
    assert_int_equal(r.unchanged, 1);
    assert_true(r.audit_id > 0);
    assert_int_equal(store_lock_count(f->st), 2);
    assert_int_equal(store_lock_get(f->st, "u2", T0 + 2, &l), LR_NOTFOUND);
    assert_int_equal(store_lock_get(f->st, "u4", T0 + 2, &l), LR_OK);
    assert_int_equal(
        store_unlock_accounts(f->st, un, 4, actor(T0 + 3), false, &r), LR_OK);
    assert_int_equal(r.changed, 0);
    assert_int_equal(r.audit_id, 0);
    fx_open(f);
    assert_int_equal(store_lock_count(f->st), 2);
    assert_int_equal(store_lock_get(f->st, "u1", T0 + 2, &l), LR_NOTFOUND);
}

static void test_store_audit_list_rows(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"x1", "x2", "x2", "x3"};
    struct store_actor who = *actor(T0 + 5);
    struct store_bulk_result r;
    struct store_audit a[8];
    int64_t id = 0;
    size_t n;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, ids, 4, 0, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    assert_int_equal(
        store_unlock_accounts(f->st, ids, 2, actor(T0 + 1), false, &r), LR_OK);
    who.action = "lock_by_query";
    assert_int_equal(
        store_lock_accounts(f->st, ids, 1, 0, STORE_SCOPE_ALL, &who, false, &r),
        LR_OK);
    assert_int_equal(store_audit_add(f->st, actor(T0 + 9), "reload", 0, 0, &id),
                     LR_OK);
    assert_true(id > r.audit_id);
    fx_open(f);
    assert_int_equal(store_audit_list(f->st, 8, a, &n), LR_OK);
    assert_int_equal(n, 4);
    assert_string_equal(a[0].action, "reload");
    assert_string_equal(a[1].action, "lock_by_query");
    assert_string_equal(a[2].action, "unlock");
    assert_int_equal(a[2].matched, 2);
    assert_int_equal(a[2].changed, 2);
    assert_string_equal(a[3].action, "lock");
    assert_int_equal(a[3].matched, 3);
    assert_int_equal(a[3].changed, 3);
    assert_int_equal(a[3].at_ms, T0);
    assert_string_equal(a[3].actor, "alice-responder");
    assert_string_equal(a[3].reason, "credential stuffing wave");
    assert_string_equal(a[3].ticket, "INC-42");
    assert_int_equal(store_audit_list(f->st, 2, a, &n), LR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_audit_add(f->st, actor(T0), "", 0, 0, &id),
                     LR_INVALID);
}

static void test_store_locks_list_paged(void **state)
{
    struct fx *f = *state;
    char **ids = make_ids("page", 0, 25);
    const char *gone[] = {"page-0000003"};
    int64_t now = lr_now_ms();
    struct store_bulk_result r;
    struct store_lock page[10];
    char after[STORE_ID_MAX] = "";
    size_t n, total = 0;

    fx_open(f);
    assert_int_equal(lock_ids(f->st, ids, 25, 0, now, &r), LR_OK);
    assert_int_equal(
        store_unlock_accounts(f->st, gone, 1, actor(now), false, &r), LR_OK);
    do {
        assert_int_equal(store_locks_list(f->st, after, 10, page, &n), LR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_true(strcmp(page[i].account_id, after) > 0);
            assert_string_not_equal(page[i].account_id, "page-0000003");
            assert_string_equal(page[i].ticket, "INC-42");
            lr_strlcpy(after, page[i].account_id, sizeof(after));
        }
        total += n;
    } while (n == 10);
    assert_int_equal(total, 24);
    assert_string_equal(after, "page-0000024");
    free(ids);
}

static void test_store_open_reopen_keeps_locks(void **state)
{
    struct fx *f = *state;
    char **a = make_ids("keep", 0, 3000), **b = make_ids("auto", 0, 2);
    struct store_actor robot = {
        .actor = "auto:IMPOSSIBLE_TRAVEL", .reason = "travel", .now_ms = T0};
    struct store_bulk_result r;
    struct store_lock l;

    fx_open(f);
    assert_int_equal(lock_ids(f->st, a, 3000, 0, T0, &r), LR_OK);
    assert_int_equal(store_lock_accounts(f->st, (const char *const *)b, 2, 0,
                                         STORE_SCOPE_UNFAMILIAR, &robot, false,
                                         &r),
                     LR_OK);
    fx_open(f);
    assert_int_equal(store_lock_count(f->st), 3002);
    for (size_t i = 0; i < 3000; i++)
        assert_int_equal(store_lock_get(f->st, a[i], T0, &l), LR_OK);
    assert_string_equal(l.reason, "credential stuffing wave");
    assert_int_equal(store_lock_get(f->st, b[1], T0, &l), LR_OK);
    assert_string_equal(l.source, "auto:IMPOSSIBLE_TRAVEL");
    assert_string_equal(l.ticket, "");
    assert_int_equal(l.scope, STORE_SCOPE_UNFAMILIAR);
    free(a);
    free(b);
}

/* Many inserts, removals and purges: the table's probing stays right. */
static void test_store_lock_get_after_churn(void **state)
{
    struct fx *f = *state;
    char **ids = make_ids("churn", 0, 20000);
    const char **even = malloc(10000 * sizeof(*even));
    const char **odd = malloc(10000 * sizeof(*odd));
    int64_t now = lr_now_ms();
    struct store_bulk_result r;
    struct store_lock l;

    for (size_t i = 0; i < 10000; i++) {
        even[i] = ids[2 * i];
        odd[i] = ids[2 * i + 1];
    }
    fx_open(f);
    /* Even ids forever, odd ids expired at once (store time is now). */
    assert_int_equal(store_lock_accounts(f->st, odd, 10000, 1, STORE_SCOPE_ALL,
                                         actor(now - 5000), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_accounts(f->st, even, 10000, 0, STORE_SCOPE_ALL,
                                         actor(now), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_count(f->st), 10000); /* purges the odd */
    /* Unlock the first quarter, relock and unlock a slice: churn. */
    for (int round = 0; round < 3; round++) {
        assert_int_equal(store_unlock_accounts(f->st, even + 1000, 500,
                                               actor(now), false, &r),
                         LR_OK);
        assert_int_equal(store_lock_accounts(f->st, even + 1000, 500, 0,
                                             STORE_SCOPE_ALL, actor(now), false,
                                             &r),
                         LR_OK);
    }
    assert_int_equal(store_unlock_accounts(f->st, (const char *const *)ids,
                                           5000, actor(now), false, &r),
                     LR_OK);
    assert_int_equal(r.changed, 2500);
    for (size_t i = 0; i < 20000; i++) {
        int want = (i % 2 == 0 && i >= 5000) ? LR_OK : LR_NOTFOUND;

        assert_int_equal(store_lock_get(f->st, ids[i], now, &l), want);
    }
    assert_int_equal(store_lock_count(f->st), 7500);
    free(even);
    free(odd);
    free(ids);
}

/* Evaluate-style readers while a responder locks: run under TSan too. */
struct reader_arg {
    struct store *st;
    int stop;
    long hits;
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    struct store_lock l;

    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        if (store_lock_get(a->st, "conc-0000005", T0, &l) == LR_OK)
            __atomic_add_fetch(&a->hits, 1, __ATOMIC_RELAXED);
        (void)store_lock_count(a->st);
    }
    return NULL;
}

static void test_store_lock_get_concurrent(void **state)
{
    struct fx *f = *state;
    struct reader_arg arg = {0};
    struct store_bulk_result r;
    pthread_t th[2];

    fx_open(f);
    arg.st = f->st;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &arg), 0);
    for (size_t k = 0; k < 20; k++) {
        char **ids = make_ids("conc", k * 500, 500);

        assert_int_equal(lock_ids(f->st, ids, 500, 0, T0, &r), LR_OK);
        free(ids);
    }
    __atomic_store_n(&arg.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(store_lock_count(f->st), 10000);
}

/* ---- faults: kill -9, read-only, disk full ----------------------------- */

static void child_lock_then_hang(const struct fx *f, int wfd)
{
    struct store_opts o = fx_opts(f);
    struct store_bulk_result r;
    struct store *st = NULL;

    if (store_open(&o, &st, NULL, 0) != 0)
        _exit(2);
    for (size_t b = 0;; b++) {
        char **ids = make_ids("k9", b * 1000, 1000);

        if (lock_ids(st, ids, 1000, 0, T0 + (int64_t)b, &r) != 0)
            _exit(3);
        free(ids);
        if (write(wfd, "x", 1) != 1)
            _exit(4);
    }
}

static void test_store_lock_accounts_survives_kill9(void **state)
{
    struct fx *f = *state;
    struct store_audit a[64];
    struct store_lock l;
    size_t acked = 0, n;
    int p[2], status;
    pid_t pid;
    char c;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_lock_then_hang(f, p[1]);
    }
    close(p[1]);
    while (acked < 3 && read(p[0], &c, 1) == 1)
        acked++;
    /* Killed right after the third acknowledgement, mid fourth batch. */
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(p[0]);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(acked, 3);
    fx_open(f);
    for (size_t i = 0; i < acked * 1000; i++) {
        char id[32];

        snprintf(id, sizeof(id), "k9-%07zu", i);
        assert_int_equal(store_lock_get(f->st, id, T0, &l), LR_OK);
    }
    /* Every audit row is matched by its locks, and the other way round. */
    assert_int_equal(store_audit_list(f->st, 64, a, &n), LR_OK);
    assert_true(n >= acked);
    assert_int_equal(store_lock_count(f->st), n * 1000);
}

/* Runs @p body as "nobody" (or as is when not root); returns its status. */
static int run_unprivileged(const struct fx *f, int (*body)(const struct fx *))
{
    int status = -1;
    pid_t pid = fork();

    if (pid == 0) {
        if (geteuid() == 0 && (setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
            _exit(99);
        _exit(body(f));
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int ro_body(const struct fx *f)
{
    struct store_opts o = fx_opts(f);
    const char *fresh[] = {"ro-new"}, *old[] = {"ro-old"};
    struct store_login login = {.account_id = "ro-old", .ip_family = 4};
    struct store_bulk_result r;
    struct store *st = NULL;
    struct store_lock l;
    char err[256];
    int rc = 0;

    if (store_open(&o, &st, err, sizeof(err)) != 0)
        return 10;
    if (!store_read_only(st))
        rc = 11;
    else if (store_lock_get(st, "ro-old", T0, &l) != 0)
        rc = 12;
    else if (store_lock_accounts(st, fresh, 1, 0, STORE_SCOPE_ALL, actor(T0),
                                 false, &r) != LR_STORE)
        rc = 13;
    else if (store_unlock_accounts(st, old, 1, actor(T0), false, &r) !=
             LR_STORE)
        rc = 14;
    else if (store_lock_get(st, "ro-new", T0, &l) != LR_NOTFOUND ||
             store_lock_get(st, "ro-old", T0, &l) != LR_OK ||
             store_lock_count(st) != 1)
        rc = 15;
    else if (store_history_append(st, &login) != 0 || store_flush(st) == 0 ||
             store_dropped_writes(st) != 1)
        rc = 16;
    else if (store_writable(st) || store_probe(st) != LR_STORE)
        rc = 17;
    store_close(st);
    return rc;
}

static void ro_prepare(struct fx *f)
{
    const char *old[] = {"ro-old"};
    struct store_bulk_result r;

    fx_open(f);
    assert_int_equal(store_lock_accounts(f->st, old, 1, 0, STORE_SCOPE_ALL,
                                         actor(T0), false, &r),
                     LR_OK);
    fx_close(f);
}

static void ro_check_unchanged(struct fx *f)
{
    struct store_lock l;
    struct store_audit a[4];
    size_t n;

    chmod(f->dir, 0700);
    chmod(f->db, 0600);
    fx_open(f);
    assert_int_equal(store_lock_count(f->st), 1);
    assert_int_equal(store_lock_get(f->st, "ro-new", T0, &l), LR_NOTFOUND);
    assert_int_equal(store_audit_list(f->st, 4, a, &n), LR_OK);
    assert_int_equal(n, 1);
}

static void test_store_lock_accounts_read_only_file(void **state)
{
    struct fx *f = *state;

    ro_prepare(f);
    assert_int_equal(chmod(f->dir, 0777), 0);
    assert_int_equal(chmod(f->db, 0444), 0);
    assert_int_equal(run_unprivileged(f, ro_body), 0);
    ro_check_unchanged(f);
}

static void test_store_lock_accounts_read_only_dir(void **state)
{
    struct fx *f = *state;

    ro_prepare(f);
    assert_int_equal(chmod(f->db, 0444), 0);
    assert_int_equal(chmod(f->dir, 0555), 0);
    assert_int_equal(run_unprivileged(f, ro_body), 0);
    ro_check_unchanged(f);
}

static int no_db_body(const struct fx *f)
{
    struct store_opts o = fx_opts(f);
    struct store *st = NULL;
    char err[256] = "";
    int rc = store_open(&o, &st, err, sizeof(err));

    store_close(st);
    if (rc != LR_IO)
        return 20;
    return strstr(err, "loginrisk.db") != NULL ? 0 : 21;
}

static void test_store_open_unwritable_dir(void **state)
{
    struct fx *f = *state;

    assert_int_equal(chmod(f->dir, 0555), 0);
    assert_int_equal(run_unprivileged(f, no_db_body), 0);
}

static void test_store_lock_accounts_disk_full(void **state)
{
    struct fx *f = *state;
    struct store_opts o = fx_opts(f);
    struct store_bulk_result r;
    struct store_lock l;
    size_t ok = 0, n;
    char **ids = NULL;
    struct store_audit a[64];
    int rc = LR_OK;

    o.max_bytes = 256 * 1024;
    assert_int_equal(store_open(&o, &f->st, NULL, 0), LR_OK);
    while (rc == LR_OK && ok < 50) {
        free(ids);
        ids = make_ids("full", ok * 1000, 1000);
        rc = lock_ids(f->st, ids, 1000, 0, T0, &r);
        if (rc == LR_OK)
            ok++;
    }
    assert_int_equal(rc, LR_STORE);
    assert_false(store_writable(f->st)); /* until a write succeeds */
    assert_true(ok >= 1);
    assert_int_equal(store_lock_count(f->st), ok * 1000);
    assert_int_equal(store_lock_get(f->st, ids[0], T0, &l), LR_NOTFOUND);
    assert_int_equal(store_lock_get(f->st, ids[999], T0, &l), LR_NOTFOUND);
    /* a one-page write still fits (the header page is rewritten in place):
     * the probe succeeds and the store counts as writable again */
    assert_int_equal(store_probe(f->st), LR_OK);
    assert_true(store_writable(f->st));
    fx_open(f); /* no cap now */
    assert_int_equal(store_lock_count(f->st), ok * 1000);
    assert_int_equal(store_lock_get(f->st, ids[0], T0, &l), LR_NOTFOUND);
    assert_int_equal(store_audit_list(f->st, 64, a, &n), LR_OK);
    assert_int_equal(n, ok);
    free(ids);
}

/* ---- profiles ---------------------------------------------------------- */

static void fill_profile(struct store_profile *p, const char *id, size_t nd)
{
    memset(p, 0, sizeof(*p));
    lr_strlcpy(p->account_id, id, sizeof(p->account_id));
    for (size_t i = 0; i < nd; i++) {
        snprintf(p->devices[i].id, sizeof(p->devices[i].id), "device-%zu-%s", i,
                 i == 0 ? "\xc3\xa9t\xc3\xa9" : "x");
        p->devices[i].first_ms = T0 - (int64_t)i * 1000;
        p->devices[i].last_ms = T0 + (int64_t)i;
    }
    p->n_devices = nd;
    strcpy(p->countries[0], "GB");
    strcpy(p->countries[1], "FR");
    strcpy(p->countries[2], "");
    p->n_countries = 3;
    p->asns[0] = 64500;
    p->asns[1] = 4294967295u;
    p->n_asns = 2;
    p->last_success_ms = T0;
    p->last_has_location = true;
    p->last_lat = 51.5072;
    p->last_lon = -0.1276;
    p->last_radius_km = 20;
    strcpy(p->last_country, "GB");
    strcpy(p->last_city, "London");
    p->flagged_spray = true;
}

static void assert_profile_equal(const struct store_profile *a,
                                 const struct store_profile *b)
{
    assert_string_equal(a->account_id, b->account_id);
    assert_int_equal(a->n_devices, b->n_devices);
    for (size_t i = 0; i < a->n_devices; i++) {
        assert_string_equal(a->devices[i].id, b->devices[i].id);
        assert_int_equal(a->devices[i].first_ms, b->devices[i].first_ms);
        assert_int_equal(a->devices[i].last_ms, b->devices[i].last_ms);
    }
    assert_int_equal(a->n_countries, b->n_countries);
    for (size_t i = 0; i < a->n_countries; i++)
        assert_string_equal(a->countries[i], b->countries[i]);
    assert_int_equal(a->n_asns, b->n_asns);
    assert_memory_equal(a->asns, b->asns, a->n_asns * sizeof(a->asns[0]));
    assert_int_equal(a->last_success_ms, b->last_success_ms);
    assert_int_equal(a->last_has_location, b->last_has_location);
    assert_true(a->last_lat == b->last_lat && a->last_lon == b->last_lon);
    assert_int_equal(a->last_radius_km, b->last_radius_km);
    assert_string_equal(a->last_country, b->last_country);
    assert_string_equal(a->last_city, b->last_city);
    assert_int_equal(a->flagged_spray, b->flagged_spray);
}

static void test_store_profile_save_round_trip(void **state)
{
    struct fx *f = *state;
    struct store_profile *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));

    fx_open(f);
    fill_profile(p, "acct-1", STORE_DEVICES_MAX);
    assert_int_equal(store_profile_load(f->st, "acct-1", q), LR_NOTFOUND);
    assert_int_equal(store_profile_save(f->st, p), LR_OK);
    assert_int_equal(store_flush(f->st), LR_OK);
    assert_int_equal(store_profile_load(f->st, "acct-1", q), LR_OK);
    assert_profile_equal(p, q);
    /* An upsert replaces the whole profile; reopen reads it from disk. */
    fill_profile(p, "acct-1", 1);
    p->last_has_location = false;
    p->last_lat = p->last_lon = 0;
    p->flagged_spray = false;
    assert_int_equal(store_profile_save(f->st, p), LR_OK);
    fx_open(f);
    assert_int_equal(store_profile_load(f->st, "acct-1", q), LR_OK);
    assert_profile_equal(p, q);
    free(p);
    free(q);
}

static void test_store_profile_save_bounds(void **state)
{
    struct fx *f = *state;
    struct store_profile *p = malloc(sizeof(*p));

    fx_open(f);
    fill_profile(p, "acct-2", 2);
    p->n_devices = STORE_DEVICES_MAX + 1;
    assert_int_equal(store_profile_save(f->st, p), LR_INVALID);
    fill_profile(p, "acct-2", 2);
    p->n_asns = STORE_PLACES_MAX + 1;
    assert_int_equal(store_profile_save(f->st, p), LR_INVALID);
    fill_profile(p, "acct-2", 2);
    memset(p->devices[1].id, 'z', sizeof(p->devices[1].id));
    assert_int_equal(store_profile_save(f->st, p), LR_INVALID);
    fill_profile(p, "", 2);
    assert_int_equal(store_profile_save(f->st, p), LR_INVALID);
    memset(p->last_country, 'Q', sizeof(p->last_country));
    assert_int_equal(store_profile_save(f->st, p), LR_INVALID);
    assert_int_equal(store_profile_load(f->st, "", p), LR_INVALID);
    free(p);
}

static void test_store_profile_load_damaged(void **state)
{
    struct fx *f = *state;
    struct store_profile *p = malloc(sizeof(*p));

    fx_open(f);
    fill_profile(p, "acct-3", 3);
    assert_int_equal(store_profile_save(f->st, p), LR_OK);
    fx_close(f);
    sql_exec(f->db, "UPDATE profiles SET seen = x'01ff' WHERE"
                    " account_id = 'acct-3'");
    fx_open(f);
    assert_int_equal(store_profile_load(f->st, "acct-3", p), LR_CORRUPT);
    free(p);
}

/* Hostile blobs straight into the decoder. */
static void test_store_prof_blob_decode_hostile(void **state)
{
    struct store_profile *p = malloc(sizeof(*p));
    struct store_prof_rec *rec = NULL;
    unsigned char bad[4][8] = {
        {2, 0, 0, 0},       /* unknown version */
        {1, 33, 0, 0},      /* too many devices */
        {1, 0, 0, 0, 0x7f}, /* trailing byte */
        {1, 1, 5, 0, 'a'},  /* device id longer than the blob */
    };
    size_t lens[4] = {4, 4, 5, 5};

    (void)state;
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(store_prof_blob_decode(bad[i], lens[i], p),
                         LR_CORRUPT);
    assert_int_equal(store_prof_blob_decode(NULL, 0, p), LR_CORRUPT);
    fill_profile(p, "blob", 4);
    assert_int_equal(store_prof_pack(p, T0, &rec), LR_OK);
    for (size_t cut = 0; cut < rec->blob_len; cut++)
        assert_int_equal(store_prof_blob_decode(rec->blob, cut, p), LR_CORRUPT);
    assert_int_equal(store_prof_blob_decode(rec->blob, rec->blob_len, p),
                     LR_OK);
    assert_int_equal(p->n_devices, 4);
    free(rec);
    free(p);
}

/* ---- history ----------------------------------------------------------- */

static void ip4(struct store_login *l, const char *dotted)
{
    unsigned a, b, c, d;

    assert_int_equal(sscanf(dotted, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
    memset(l->ip, 0, sizeof(l->ip));
    l->ip[0] = (uint8_t)a;
    l->ip[1] = (uint8_t)b;
    l->ip[2] = (uint8_t)c;
    l->ip[3] = (uint8_t)d;
    l->ip_family = 4;
}

static void ip6(struct store_login *l, uint16_t w0, uint16_t w1, uint16_t w2,
                uint16_t w3, uint16_t last)
{
    uint16_t w[8] = {w0, w1, w2, w3, 0, 0, 0, last};

    for (int i = 0; i < 8; i++) {
        l->ip[2 * i] = (uint8_t)(w[i] >> 8);
        l->ip[2 * i + 1] = (uint8_t)w[i];
    }
    l->ip_family = 6;
}

static void login(struct store *st, const char *acct, int64_t dt, int cred,
                  int action, uint32_t asn, const char *cc, const char *dev,
                  const struct store_login *ipsrc)
{
    struct store_login l;

    memset(&l, 0, sizeof(l));
    lr_strlcpy(l.account_id, acct, sizeof(l.account_id));
    snprintf(l.request_id, sizeof(l.request_id), "req-%s-%lld", acct,
             (long long)dt);
    l.ts_ms = T0 + dt;
    memcpy(l.ip, ipsrc->ip, 16);
    l.ip_family = ipsrc->ip_family;
    lr_strlcpy(l.device_id, dev, sizeof(l.device_id));
    l.credential = cred;
    l.action = action;
    l.score = 30;
    lr_strlcpy(l.country, cc, sizeof(l.country));
    strcpy(l.city, "Somewhere");
    l.has_location = true;
    l.lat = 48.85;
    l.lon = 2.35;
    l.asn = asn;
    strcpy(l.reasons[0], "NEW_DEVICE");
    strcpy(l.reasons[1], "RULE:office-hours");
    l.n_reasons = 2;
    assert_int_equal(store_history_append(st, &l), LR_OK);
}

/* The data set of the query tests: who logged in from where and how. */
static void history_fixture(struct store *st)
{
    struct store_login a;

    ip4(&a, "192.0.2.10");
    login(st, "alice", 0, LR_CRED_VALID, LR_ACTION_ALLOW, 64500, "GB", "dev-a",
          &a);
    ip4(&a, "192.0.2.77");
    login(st, "bob", 1000, LR_CRED_INVALID, LR_ACTION_CAPTCHA, 64500, "GB",
          "dev-b", &a);
    ip4(&a, "198.51.100.5");
    login(st, "carol", 2000, LR_CRED_VALID, LR_ACTION_ALLOW, 64501, "FR",
          "dev-c", &a);
    ip6(&a, 0x2001, 0xdb8, 0x1, 0xffff, 1);
    login(st, "dave", 3000, LR_CRED_VALID, LR_ACTION_CHALLENGE_2FA, 64502, "US",
          "dev-a", &a);
    ip6(&a, 0x2001, 0xdb8, 0x2, 0, 1);
    login(st, "erin", 4000, LR_CRED_VALID, LR_ACTION_ALLOW, 64502, "US",
          "dev-e", &a);
    ip4(&a, "192.0.2.200");
    login(st, "frank", 5000, LR_CRED_VALID, LR_ACTION_LOCK, 64500, "GB", "",
          &a);
    ip4(&a, "203.0.113.9");
    login(st, "alice", 6000, LR_CRED_VALID, LR_ACTION_ALLOW, 64503, "DE",
          "dev-a2", &a);
    /* Just past the IPv4-mapped block, so a v4 range must not reach it. */
    ip6(&a, 0, 0, 0, 0, 0);
    a.ip[10] = 0xff;
    a.ip[11] = 0xff;
    a.ip[12] = 0xff;
    a.ip[13] = 0xff;
    a.ip[14] = 0xff;
    a.ip[15] = 0xff;
    a.ip[9] = 0x01;
    login(st, "gina", 7000, LR_CRED_VALID, LR_ACTION_ALLOW, 64504, "JP",
          "dev-g", &a);
}

static void expect_query(struct store *st, const struct store_query *q,
                         const char *want)
{
    char got[512] = "";

    assert_int_equal(store_history_query(st, q, collect_account, got), LR_OK);
    assert_string_equal(got, want);
}

static void test_store_history_query_cidr(void **state)
{
    struct fx *f = *state;
    uint8_t nets[2][16] = {{192, 0, 2, 0},
                           {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01}};
    uint8_t fams[2] = {4, 6}, bits[2] = {24, 48}, zero[1][16] = {{0}};
    uint8_t four = 4, none = 0, six = 6, sixty_four = 64;
    struct store_query q = {0};

    fx_open(f);
    history_fixture(f->st);
    q = (struct store_query){.cidr_nets = nets,
                             .cidr_families = fams,
                             .cidr_bits = bits,
                             .n_cidrs = 1};
    expect_query(f->st, &q, "alice;bob;frank;");
    q.successful_only = true;
    expect_query(f->st, &q, "alice;");
    q = (struct store_query){.cidr_nets = nets + 1,
                             .cidr_families = fams + 1,
                             .cidr_bits = bits + 1,
                             .n_cidrs = 1};
    expect_query(f->st, &q, "dave;");
    q = (struct store_query){.cidr_nets = nets,
                             .cidr_families = fams,
                             .cidr_bits = bits,
                             .n_cidrs = 2};
    expect_query(f->st, &q, "alice;bob;dave;frank;");
    q.since_ms = T0 + 1000;
    expect_query(f->st, &q, "bob;dave;frank;");
    /* 0.0.0.0/0 is every IPv4 login and nothing else. */
    q = (struct store_query){.cidr_nets = zero,
                             .cidr_families = &four,
                             .cidr_bits = &none,
                             .n_cidrs = 1};
    expect_query(f->st, &q, "alice;bob;carol;frank;");
    /* ::/64 holds gina's "::" and ::ffff:0:0/96, so every IPv4 login too */
    q = (struct store_query){.cidr_nets = zero,
                             .cidr_families = &six,
                             .cidr_bits = &sixty_four,
                             .n_cidrs = 1};
    expect_query(f->st, &q, "alice;bob;carol;frank;gina;");
}

/* A batch of IPv4 logins only: its filter files them under IPv4 terms, and
 * an IPv6 range that holds ::ffff:0:0/96 must still read it. */
static void test_store_history_query_v6_range_holds_v4(void **state)
{
    struct fx *f = *state;
    uint8_t zero[1][16] = {{0}}, six = 6, bits = 64;
    struct store_query q = {.cidr_nets = zero,
                            .cidr_families = &six,
                            .cidr_bits = &bits,
                            .n_cidrs = 1};
    struct store_login a;

    fx_open(f);
    ip4(&a, "192.0.2.1");
    login(f->st, "v4-a", 0, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
    ip4(&a, "198.51.100.2");
    login(f->st, "v4-b", 1, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "US", "d", &a);
    assert_int_equal(store_flush(f->st), LR_OK);
    expect_query(f->st, &q, "v4-a;v4-b;");
}

static void test_store_history_query_fields(void **state)
{
    struct fx *f = *state;
    uint32_t asns[] = {64502};
    const char *gb_de[] = {"GB", "DE"}, *fr[] = {"FR"};
    struct store_query q = {.asns = asns, .n_asns = 1};

    fx_open(f);
    history_fixture(f->st);
    expect_query(f->st, &q, "dave;erin;");
    q = (struct store_query){.countries = fr, .n_countries = 1};
    expect_query(f->st, &q, "carol;");
    q = (struct store_query){.countries = gb_de, .n_countries = 2};
    expect_query(f->st, &q, "alice;bob;frank;");
    q = (struct store_query){.device_id = "dev-a"};
    expect_query(f->st, &q, "alice;dave;");
    q = (struct store_query){.since_ms = T0 + 1000, .until_ms = T0 + 3000};
    expect_query(f->st, &q, "bob;carol;dave;");
    q = (struct store_query){.successful_only = true};
    expect_query(f->st, &q, "alice;carol;dave;erin;gina;");
    q = (struct store_query){.limit = 2};
    expect_query(f->st, &q, "alice;bob;");
    q = (struct store_query){.countries = gb_de,
                             .n_countries = 2,
                             .successful_only = true,
                             .since_ms = T0 + 1};
    expect_query(f->st, &q, "alice;");
}

static void test_store_history_query_invalid(void **state)
{
    struct fx *f = *state;
    uint8_t nets[1][16] = {{10}}, fam = 4, bits = 33, six = 7;
    const char *bad[] = {"GBR"}, *nul[] = {NULL};
    struct store_query q = {.cidr_nets = nets,
                            .cidr_families = &fam,
                            .cidr_bits = &bits,
                            .n_cidrs = 1};
    char got[8] = "";

    fx_open(f);
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_INVALID);
    q.cidr_families = &six;
    bits = 8;
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_INVALID);
    q = (struct store_query){.countries = bad, .n_countries = 1};
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_INVALID);
    q = (struct store_query){.countries = nul, .n_countries = 1};
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_INVALID);
    q = (struct store_query){.n_asns = STORE_QUERY_TERMS_MAX + 1};
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_INVALID);
    q = (struct store_query){.device_id = ""};
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_INVALID);
}

struct recent {
    struct store_login rows[4];
    size_t n;
};

static void collect_recent(const struct store_login *l, void *arg)
{
    struct recent *r = arg;

    if (r->n < 4)
        r->rows[r->n] = *l;
    r->n++;
}

static void test_store_history_recent_per_account(void **state)
{
    struct fx *f = *state;
    struct recent *r = calloc(1, sizeof(*r));
    const struct store_login *l;

    fx_open(f);
    history_fixture(f->st); /* no flush: recent() flushes the writer */
    assert_int_equal(
        store_history_recent(f->st, "alice", 10, collect_recent, r), LR_OK);
    assert_int_equal(r->n, 2);
    l = &r->rows[0];
    assert_int_equal(l->ts_ms, T0 + 6000);
    assert_int_equal(l->ip_family, 4);
    assert_int_equal(l->ip[0], 203);
    assert_int_equal(l->ip[3], 9);
    assert_int_equal(l->ip[4], 0);
    assert_string_equal(l->country, "DE");
    assert_string_equal(l->device_id, "dev-a2");
    assert_string_equal(l->city, "Somewhere");
    assert_string_equal(l->request_id, "req-alice-6000");
    assert_true(l->has_location && l->lat == 48.85 && l->lon == 2.35);
    assert_int_equal(l->asn, 64503);
    assert_int_equal(l->n_reasons, 2);
    assert_string_equal(l->reasons[1], "RULE:office-hours");
    assert_int_equal(r->rows[1].ts_ms, T0);
    memset(r, 0, sizeof(*r));
    assert_int_equal(store_history_recent(f->st, "dave", 1, collect_recent, r),
                     LR_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->rows[0].ip_family, 6);
    assert_int_equal(r->rows[0].ip[0], 0x20);
    assert_int_equal(r->rows[0].ip[15], 1);
    assert_int_equal(r->rows[0].action, LR_ACTION_CHALLENGE_2FA);
    free(r);
}

static void test_store_history_append_invalid(void **state)
{
    struct fx *f = *state;
    struct store_login l = {.account_id = "a", .ip_family = 5};

    fx_open(f);
    assert_int_equal(store_history_append(f->st, &l), LR_INVALID);
    l.ip_family = 4;
    strcpy(l.reasons[0], "A,B");
    l.n_reasons = 1;
    assert_int_equal(store_history_append(f->st, &l), LR_INVALID);
    l.n_reasons = STORE_REASONS_MAX + 1;
    assert_int_equal(store_history_append(f->st, &l), LR_INVALID);
    l.n_reasons = 0;
    memset(l.city, 'c', sizeof(l.city));
    assert_int_equal(store_history_append(f->st, &l), LR_INVALID);
    assert_int_equal(store_dropped_writes(f->st), 0);
}

static void test_store_close_drains_queue(void **state)
{
    struct fx *f = *state;
    struct recent *r = calloc(1, sizeof(*r));
    struct store_login a;

    fx_open(f);
    ip4(&a, "192.0.2.1");
    for (int i = 0; i < 3; i++)
        login(f->st, "drain", i, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d",
              &a);
    fx_open(f); /* closes without a flush */
    assert_int_equal(
        store_history_recent(f->st, "drain", 10, collect_recent, r), LR_OK);
    assert_int_equal(r->n, 3);
    free(r);
}

/* A writer stuck behind another process's write lock: the queue fills
 * (once the open history batch is full and must be written). */
static void test_store_history_append_queue_full(void **state)
{
    struct fx *f = *state;
    struct store_opts o = fx_opts(f);
    struct store_login a;
    sqlite3 *blocker = NULL;
    size_t accepted = 0, full = 0;

    o.queue_cap = 8;
    o.batch = 4;
    assert_int_equal(store_open(&o, &f->st, NULL, 0), LR_OK);
    assert_int_equal(sqlite3_open(f->db, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    ip4(&a, "192.0.2.1");
    for (int i = 0; i < STORE_HIST_BATCH_ROWS + 200; i++) {
        struct store_login l;
        int rc;

        memset(&l, 0, sizeof(l));
        snprintf(l.account_id, sizeof(l.account_id), "q%03d", i);
        memcpy(l.ip, a.ip, 16);
        l.ip_family = 4;
        rc = store_history_append(f->st, &l);
        assert_true(rc == LR_OK || rc == LR_FULL);
        accepted += rc == LR_OK;
        full += rc == LR_FULL;
        assert_true(store_queue_depth(f->st) <= 8);
    }
    /* the open batch, the stuck commit's <= 8, the queue's 8 */
    assert_true(accepted <= STORE_HIST_BATCH_ROWS + 8 + 8);
    assert_true(full > 0);
    assert_int_equal(store_dropped_writes(f->st), full);
    assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(blocker);
    assert_int_equal(store_flush(f->st), LR_OK);
    assert_int_equal(store_queue_depth(f->st), 0);
    assert_int_equal(store_dropped_writes(f->st), full);
    fx_close(f);
    assert_int_equal(sql_int(f->db, "SELECT coalesce(sum(n), 0)"
                                    " FROM history_batch"),
                     (int64_t)accepted);
}

/* A caller's wild clock must not let retention wipe the history. */
static void test_store_purge_ignores_far_future_clock(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"w1"};
    int64_t now = lr_now_ms();
    struct store_bulk_result r;
    struct store_login a;
    struct store_lock l;
    struct store_query q = {0};

    fx_open(f);
    ip4(&a, "192.0.2.1");
    login(f->st, "kept", now - T0, LR_CRED_VALID, 1, 1, "GB", "d", &a);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 3600, STORE_SCOPE_ALL,
                                         actor(now), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_get(f->st, "w1", INT64_MAX / 2, &l),
                     LR_NOTFOUND);
    assert_int_equal(store_lock_count(f->st), 1);
    expect_query(f->st, &q, "kept;");
}

static void test_store_purge_retention(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"gone-lock", "kept-lock"};
    int64_t now = lr_now_ms(), dt_old, dt_new;
    struct store_bulk_result r;
    struct store_login a;
    uint64_t deleted = 0;
    struct store_query q = {0};

    fx_open(f); /* retention_days = 7 */
    ip4(&a, "192.0.2.1");
    dt_old = now - 3 * 86400000LL - T0;
    dt_new = now - 3600000LL - T0;
    login(f->st, "old-login", dt_old, LR_CRED_VALID, 1, 1, "GB", "d", &a);
    login(f->st, "new-login", dt_new, LR_CRED_VALID, 1, 1, "GB", "d", &a);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 1, STORE_SCOPE_ALL,
                                         actor(now - 60000), false, &r),
                     LR_OK);
    assert_int_equal(store_lock_accounts(f->st, ids + 1, 1, 0, STORE_SCOPE_ALL,
                                         actor(now), false, &r),
                     LR_OK);
    assert_int_equal(store_flush(f->st), LR_OK);
    /* Five days on, the 3-day-old login is 8 days old: past retention. */
    assert_int_equal(store_purge(f->st, now + 5 * 86400000LL, &deleted), LR_OK);
    assert_int_equal(deleted, 1);
    expect_query(f->st, &q, "new-login;");
    assert_int_equal(store_purge(f->st, now, &deleted), LR_OK);
    assert_int_equal(deleted, 0);
    fx_close(f);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM locks"), 1);
}

/* ---- history batches --------------------------------------------------- */

#define HIST_ROWS_SQL "SELECT coalesce(sum(n), 0) FROM history_batch"

/* The version 1 -> 2 indexes, as the second release created them. */
static const char v2_indexes[] =
    "CREATE INDEX history_ip ON history(ip, ts_ms);"
    "CREATE INDEX history_asn ON history(asn, ts_ms);"
    "CREATE INDEX history_country ON history(country, ts_ms);"
    "CREATE INDEX history_device ON history(device_id, ts_ms)"
    " WHERE device_id != '';"
    "PRAGMA user_version = 2;"
    "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c"
    " WHERE i < 1299)"
    " INSERT INTO history(ts_ms, account_id, ip, device_id, credential,"
    " action, score, country, city, lat, lon, asn, reasons, request_id)"
    " SELECT 1700000000000 + i * 1000, 'm-' || (i % 50),"
    " x'00000000000000000000ffffc0000201', 'dev-' || (i % 7), 1, 1, 10,"
    " CASE WHEN i % 2 THEN 'GB' ELSE 'FR' END, 'City', NULL, NULL,"
    " 64500 + (i % 3), 'NEW_DEVICE,RULE:x', 'req-' || i FROM c;"
    /* a row the codec refuses (empty account): dropped with a count */
    "INSERT INTO history(ts_ms, account_id, ip, device_id, credential,"
    " action, score, country, city, lat, lon, asn, reasons, request_id)"
    " VALUES(1700000000000, '', x'00', '', 1, 1, 0, '', '', NULL, NULL, 0,"
    " '', '');";

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "m-3;m-10;..." in account order for the migrated rows matching @p keep. */
static void expect_migrated(char *out, size_t cap, bool (*keep)(int))
{
    char names[50][8];
    const char *sorted[50];
    bool seen[50] = {false};
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < 1300; i++)
        seen[i % 50] |= keep(i);
    for (int a = 0; a < 50; a++) {
        if (!seen[a])
            continue;
        snprintf(names[n], sizeof(names[n]), "m-%d", a);
        sorted[n] = names[n];
        n++;
    }
    qsort(sorted, n, sizeof(sorted[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        lr_strlcpy(out + strlen(out), sorted[i], cap - strlen(out));
        lr_strlcpy(out + strlen(out), ";", cap - strlen(out));
    }
}

static bool keep_dev3_early(int i)
{
    return i % 7 == 3 && i <= 100;
}

static bool keep_asn1_gb(int i)
{
    return i % 3 == 1 && i % 2 == 1;
}

struct recent_all {
    int64_t ts[1000];
    char request[1000][65];
    size_t n;
};

static void collect_all(const struct store_login *l, void *arg)
{
    struct recent_all *r = arg;

    if (r->n < 1000) {
        r->ts[r->n] = l->ts_ms;
        lr_strlcpy(r->request[r->n], l->request_id, sizeof(r->request[0]));
    }
    r->n++;
}

/* A version 2 database (one row per login, six indexes) migrates to
 * batches in one step: same answers, old table and indexes gone. */
static void test_store_open_migrates_v2_history(void **state)
{
    struct fx *f = *state;
    struct store_query q = {.device_id = "dev-3", .until_ms = T0 + 100000};
    uint32_t asn = 64501;
    const char *gb[] = {"GB"};
    struct recent_all *r = calloc(1, sizeof(*r));
    char got[1024] = "", want[1024];

    assert_non_null(r);
    sql_exec(f->db, v1_schema);
    sql_exec(f->db, v2_indexes);
    fx_open(f);
    assert_int_equal(store_schema_version(f->st), store_schema_latest());
    expect_migrated(want, sizeof(want), keep_dev3_early);
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_OK);
    assert_string_equal(got, want);
    q = (struct store_query){
        .asns = &asn, .n_asns = 1, .countries = gb, .n_countries = 1};
    got[0] = '\0';
    expect_migrated(want, sizeof(want), keep_asn1_gb);
    assert_int_equal(store_history_query(f->st, &q, collect_account, got),
                     LR_OK);
    assert_string_equal(got, want);
    /* m-7: rows 7, 57, ..., 1257, newest first */
    assert_int_equal(store_history_recent(f->st, "m-7", 100, collect_all, r),
                     LR_OK);
    assert_int_equal(r->n, 26);
    assert_int_equal(r->ts[0], T0 + 1257000);
    assert_string_equal(r->request[0], "req-1257");
    assert_int_equal(r->ts[25], T0 + 7000);
    fx_close(f);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema"
                                    " WHERE name LIKE 'history%'"
                                    " AND name NOT LIKE 'history_batch%'"),
                     0);
    assert_int_equal(sql_int(f->db, HIST_ROWS_SQL), 1301); /* + v1's row */
    assert_true(sql_int(f->db, "SELECT count(*) FROM history_batch") >= 3);
    free(r);
}

/* Login times come from clients: a batch committed later may hold older
 * logins. recent() with a small max still returns the newest ones (it walks
 * batches by their newest login, not by commit order). */
static void test_store_history_recent_out_of_order_batches(void **state)
{
    struct fx *f = *state;
    struct recent_all *r = calloc(1, sizeof(*r));
    const int64_t t[] = {0, -3600000, -1800000, 60000};
    const char *who[] = {"x", "y", "x", "x"};
    struct store_login a;

    assert_non_null(r);
    fx_open(f);
    ip4(&a, "192.0.2.1");
    for (size_t i = 0; i < LR_ARRAY_LEN(t); i++) {
        login(f->st, who[i], t[i], LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d",
              &a);
        assert_int_equal(store_flush(f->st), LR_OK); /* one batch each */
    }
    assert_int_equal(store_history_recent(f->st, "x", 2, collect_all, r),
                     LR_OK);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ts[0], T0 + 60000);
    assert_int_equal(r->ts[1], T0);
    fx_close(f);
    assert_true(sql_int(f->db, "SELECT count(*) FROM history_batch") >= 4);
    free(r);
}

/* Batches hold at most STORE_HIST_BATCH_ROWS rows; an account's recent
 * logins come newest first across batches, whatever order they came in. */
static void test_store_history_recent_across_batches(void **state)
{
    struct fx *f = *state;
    struct recent_all *r = calloc(1, sizeof(*r));
    struct store_login a;
    char acct[16];

    assert_non_null(r);
    fx_open(f);
    ip4(&a, "192.0.2.1");
    for (int i = 0; i < 1200; i++) {
        snprintf(acct, sizeof(acct), "r-%d", i % 3);
        login(f->st, acct, i, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
    }
    login(f->st, "r-1", -5000, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d",
          &a); /* late, and older than all */
    login(f->st, "r-1", 100000, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d",
          &a);
    assert_int_equal(store_flush(f->st), LR_OK);
    assert_int_equal(store_history_recent(f->st, "r-1", 1000, collect_all, r),
                     LR_OK);
    assert_int_equal(r->n, 402);
    assert_int_equal(r->ts[0], T0 + 100000);
    assert_int_equal(r->ts[1], T0 + 1198);
    for (size_t i = 1; i < r->n; i++)
        assert_true(r->ts[i] < r->ts[i - 1]);
    assert_int_equal(r->ts[401], T0 - 5000);
    memset(r, 0, sizeof(*r));
    assert_int_equal(store_history_recent(f->st, "r-2", 3, collect_all, r),
                     LR_OK);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->ts[0], T0 + 1199);
    assert_int_equal(r->ts[2], T0 + 1193);
    memset(r, 0, sizeof(*r));
    assert_int_equal(store_history_recent(f->st, "nobody", 10, collect_all, r),
                     LR_OK);
    assert_int_equal(r->n, 0);
    fx_close(f);
    assert_int_equal(sql_int(f->db, HIST_ROWS_SQL), 1202);
    assert_true(sql_int(f->db, "SELECT max(n) FROM history_batch") <=
                STORE_HIST_BATCH_ROWS);
    assert_true(sql_int(f->db, "SELECT count(*) FROM history_batch") >= 4);
    free(r);
}

/* A damaged batch is skipped (and logged); the others still answer. */
static void test_store_history_damaged_batch_skipped(void **state)
{
    struct fx *f = *state;
    struct store_query q = {0};
    struct recent *r = calloc(1, sizeof(*r));
    struct store_login a;

    assert_non_null(r);
    fx_open(f);
    ip4(&a, "192.0.2.1");
    login(f->st, "first", 0, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
    assert_int_equal(store_flush(f->st), LR_OK);
    login(f->st, "second", 1, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
    fx_close(f);
    /* batch 1: a count past its rows; then batches of junk and of a row
     * whose account length runs past the end */
    sql_exec(f->db,
             "UPDATE history_batch SET body = x'01000000ff000000'"
             " WHERE id = 1;"
             "INSERT INTO history_batch(ts_min, ts_max, n, accounts_bloom,"
             " body) VALUES(0, 1800000000000, 1, x'ffff', x'deadbeef'),"
             "(0, 1800000000000, 1, x'', x'0100000001000000'"
             " || x'4500' || zeroblob(57) || x'ff00' || zeroblob(10));");
    fx_open(f);
    expect_query(f->st, &q, "second;");
    assert_int_equal(
        store_history_recent(f->st, "first", 10, collect_recent, r), LR_OK);
    assert_int_equal(r->n, 0);
    assert_int_equal(
        store_history_recent(f->st, "second", 10, collect_recent, r), LR_OK);
    assert_int_equal(r->n, 1);
    free(r);
}

/* Every truncation and many byte flips of a real body: decoding ends in
 * LR_CORRUPT or a bounded row, never a read past the blob (ASan). */
static void test_store_hist_iter_hostile(void **state)
{
    struct store_hist_batch *b = NULL;
    struct store_hist_sealed s;
    struct store_hist_iter it;
    struct store_hist_view v;
    struct store_hist_rec *rec = NULL;
    struct store_login l, back;
    unsigned char *copy;
    uint32_t seed = 12345;
    int rc;

    (void)state;
    memset(&l, 0, sizeof(l));
    ip4(&l, "198.51.100.7");
    strcpy(l.account_id, "hostile");
    strcpy(l.device_id, "dev");
    strcpy(l.request_id, "req");
    strcpy(l.city, "Ville");
    strcpy(l.country, "FR");
    strcpy(l.reasons[0], "NEW_DEVICE");
    l.n_reasons = 1;
    l.ts_ms = T0;
    l.has_location = true;
    l.lat = -33.9;
    l.lon = 151.2;
    l.asn = 4294967295u;
    l.score = -7;
    assert_int_equal(store_hist_batch_new(&b), LR_OK);
    for (int i = 0; i < 3; i++) {
        l.ts_ms = T0 + i;
        assert_int_equal(store_hist_pack(&l, &rec), LR_OK);
        assert_true(store_hist_batch_fits(b, rec));
        store_hist_batch_add(b, rec, 0);
        free(rec);
    }
    /* a batch spans a minute at most, whatever the clock says (UBSan) */
    for (int i = 0; i < 2; i++) {
        l.ts_ms = i ? INT64_MAX : INT64_MIN;
        assert_int_equal(store_hist_pack(&l, &rec), LR_OK);
        assert_false(store_hist_batch_fits(b, rec));
        free(rec);
    }
    l.ts_ms = T0 + 59000;
    assert_int_equal(store_hist_pack(&l, &rec), LR_OK);
    assert_true(store_hist_batch_fits(b, rec));
    free(rec);
    store_hist_batch_seal(b, &s);
    assert_int_equal(s.n, 3);
    assert_false(store_hist_bloom_may(s.bloom, s.bloom_len,
                                      store_hist_hash("other", 5)) &&
                 store_hist_bloom_may(s.bloom, s.bloom_len,
                                      store_hist_hash("other2", 6)) &&
                 store_hist_bloom_may(s.bloom, s.bloom_len,
                                      store_hist_hash("other3", 6)));
    assert_true(store_hist_bloom_may(s.bloom, s.bloom_len,
                                     store_hist_hash("hostile", 7)));
    assert_int_equal(store_hist_iter_init(&it, s.body, s.body_len), LR_OK);
    assert_int_equal(store_hist_iter_next(&it, &v), LR_OK);
    store_hist_view_login(&v, &back);
    assert_string_equal(back.account_id, "hostile");
    assert_string_equal(back.city, "Ville");
    assert_string_equal(back.country, "FR");
    assert_string_equal(back.reasons[0], "NEW_DEVICE");
    assert_int_equal(back.ip_family, 4);
    assert_int_equal(back.ip[3], 7);
    assert_true(back.lat == -33.9 && back.lon == 151.2);
    assert_int_equal(back.asn, 4294967295u);
    assert_int_equal(back.score, -7);
    for (size_t cut = 0; cut < s.body_len; cut++) {
        copy = malloc(cut ? cut : 1);
        memcpy(copy, s.body, cut);
        rc = store_hist_iter_init(&it, copy, cut);
        while (rc == LR_OK)
            rc = store_hist_iter_next(&it, &v);
        assert_int_equal(rc, LR_CORRUPT);
        free(copy);
    }
    for (int round = 0; round < 5000; round++) {
        copy = malloc(s.body_len);
        memcpy(copy, s.body, s.body_len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % s.body_len] = (unsigned char)(seed >> 20);
        }
        rc = store_hist_iter_init(&it, copy, s.body_len);
        while (rc == LR_OK) {
            rc = store_hist_iter_next(&it, &v);
            if (rc == LR_OK)
                store_hist_view_login(&v, &back);
        }
        assert_true(rc == LR_CORRUPT || rc == LR_NOTFOUND);
        free(copy);
    }
    /* a NUL inside a string (the encoder never writes one) is corrupt, not
     * a shorter string: "hostile\0" read as "hostile" would be another
     * account to LockByQuery */
    copy = malloc(s.body_len);
    memcpy(copy, s.body, s.body_len);
    for (size_t i = 0; i + 7 <= s.body_len; i++) {
        if (memcmp(copy + i, "hostile", 7) == 0) {
            copy[i + 3] = '\0';
            break;
        }
    }
    assert_int_equal(store_hist_iter_init(&it, copy, s.body_len), LR_OK);
    assert_int_equal(store_hist_iter_next(&it, &v), LR_CORRUPT);
    free(copy);
    store_hist_batch_free(b);
}

/* Commit times are counted per kind, as cumulative buckets. */
static void test_store_commit_stats_counts(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"timed"};
    struct store_commit_stats cs;
    struct store_bulk_result r;
    struct store_login a;
    const double *bounds = store_commit_bounds();

    fx_open(f);
    store_commit_stats(f->st, &cs);
    assert_int_equal(cs.lock.count, 0);
    assert_int_equal(lock_const(f->st, ids, 1, &r), LR_OK);
    ip4(&a, "192.0.2.1");
    login(f->st, "timed", 0, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
    assert_int_equal(store_flush(f->st), LR_OK);
    store_commit_stats(f->st, &cs);
    assert_int_equal(cs.lock.count, 1);
    assert_true(cs.history.count >= 1);
    assert_true(cs.lock.sum_s > 0);
    for (size_t i = 1; i < STORE_COMMIT_BUCKETS; i++) {
        assert_true(bounds[i] > bounds[i - 1]);
        assert_true(cs.lock.le[i] >= cs.lock.le[i - 1]);
        assert_true(cs.history.le[i] >= cs.history.le[i - 1]);
    }
    assert_true(cs.lock.le[STORE_COMMIT_BUCKETS - 1] <= cs.lock.count);
}

/* Without a flush, the open batch is written once its first row waited
 * the linger time: polled on the file, bounded. */
static void test_store_history_open_batch_lingers(void **state)
{
    struct fx *f = *state;
    struct store_login a;
    int64_t rows = 0;

    fx_open(f);
    ip4(&a, "192.0.2.1");
    login(f->st, "linger", 0, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
    for (int i = 0; i < 1000 && rows == 0; i++) {
        rows = sql_int(f->db, HIST_ROWS_SQL);
        if (rows == 0)
            usleep(10000);
    }
    assert_int_equal(rows, 1);
}

/* Under max_bytes the oldest history batches make way: new logins and new
 * locks still fit, old logins are gone. */
static void test_store_history_size_cap_drops_oldest(void **state)
{
    struct fx *f = *state;
    struct store_opts o = fx_opts(f);
    const char *ids[] = {"after-cap"};
    struct recent *r = calloc(1, sizeof(*r));
    struct store_bulk_result res;
    struct store_login a;
    uint64_t deleted = 0;
    char acct[32];
    int flushed = 0;

    assert_non_null(r);
    o.max_bytes = 2 * 1024 * 1024;
    assert_int_equal(store_open(&o, &f->st, NULL, 0), LR_OK);
    ip4(&a, "192.0.2.1");
    for (int i = 0; i < 40000; i++) {
        snprintf(acct, sizeof(acct), "cap-%05d", i);
        login(f->st, acct, i, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
        if (i % 2000 == 1999) /* a failed batch is allowed: it is counted */
            flushed += store_flush(f->st) == LR_OK;
    }
    flushed += store_flush(f->st) == LR_OK;
    assert_true(flushed > 0);
    /* the writer trims by itself after a failed batch; a purge trims too */
    assert_int_equal(store_purge(f->st, T0, &deleted), LR_OK);
    assert_int_equal(store_lock_accounts(f->st, ids, 1, 0, STORE_SCOPE_ALL,
                                         actor(T0), false, &res),
                     LR_OK);
    login(f->st, "newest", 50000, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d",
          &a);
    assert_int_equal(store_flush(f->st), LR_OK);
    assert_int_equal(
        store_history_recent(f->st, "newest", 10, collect_recent, r), LR_OK);
    assert_int_equal(r->n, 1);
    r->n = 0;
    assert_int_equal(
        store_history_recent(f->st, "cap-00000", 10, collect_recent, r), LR_OK);
    assert_int_equal(r->n, 0);
    fx_close(f);
    assert_true(sql_int(f->db, HIST_ROWS_SQL) < 40000);
    assert_true(sql_int(f->db, "SELECT (page_count - freelist_count) *"
                               " page_size FROM pragma_page_count,"
                               " pragma_freelist_count, pragma_page_size") <=
                2 * 1024 * 1024);
    free(r);
}

#define USED_BYTES_SQL                                                         \
    "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count," \
    " pragma_freelist_count, pragma_page_size"

/* Counts the lines holding @p needle in the file at @p path. */
static int count_lines(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    char line[1024];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(fp);
    return n;
}

/* When locks alone fill 90% of max_bytes, every new history batch is
 * trimmed by the writer: the trim stops when no history is left, counts
 * it (batches, starved) and logs one line a minute, not one a second. */
static void test_store_history_size_cap_no_history_left(void **state)
{
    struct fx *f = *state;
    struct store_opts o = fx_opts(f);
    struct store_trim_stats ts;
    struct store_bulk_result r;
    struct store_login a;
    char log[160], acct[32];
    uint64_t deleted = 0;
    int saved, fd, rc = LR_OK;
    size_t chunks = 0;

    o.max_bytes = 512 * 1024;
    /* the log from the start: the writer's once-a-second trim may find the
     * locks over the cap (and log it) while they are still being added */
    snprintf(log, sizeof(log), "%s/stderr.log", f->dir);
    fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    assert_int_equal(store_open(&o, &f->st, NULL, 0), LR_OK);
    while (sql_int(f->db, USED_BYTES_SQL) * 100 < (int64_t)o.max_bytes * 92) {
        char **ids = make_ids("fill", chunks * 100, 100);

        rc = lock_ids(f->st, ids, 100, 0, T0, &r);
        free(ids);
        assert_int_equal(rc, LR_OK);
        chunks++;
    }
    ip4(&a, "192.0.2.1");
    for (int k = 1; k <= 3; k++) {
        int64_t rows = 1;

        snprintf(acct, sizeof(acct), "starved-%d", k);
        login(f->st, acct, k, LR_CRED_VALID, LR_ACTION_ALLOW, 1, "GB", "d", &a);
        assert_int_equal(store_flush(f->st), LR_OK);
        /* the writer trims about once a second: wait for the batch to go */
        for (int i = 0; i < 1000 && rows != 0; i++) {
            rows = sql_int(f->db, HIST_ROWS_SQL);
            if (rows != 0)
                usleep(10000);
        }
        assert_int_equal(rows, 0);
    }
    /* a purge trims the same way and finds nothing left */
    assert_int_equal(store_purge(f->st, T0, &deleted), LR_OK);
    assert_int_equal(deleted, 0);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(fd);
    store_trim_stats(f->st, &ts);
    assert_int_equal(ts.batches, 3);
    assert_int_equal(ts.rows, 3);
    assert_true(ts.starved >= 3);
    assert_int_equal(count_lines(log, "size cap"), 1);
    assert_int_equal(count_lines(log, "history is not kept"), 1);
    /* locks still go in */
    {
        const char *one[] = {"after-starved"};

        assert_int_equal(lock_const(f->st, one, 1, &r), LR_OK);
    }
}

/* The query-term filter admits every batch that may match and turns away
 * most that cannot; a CIDR shorter than it knows is always admitted. */
static void test_store_hist_terms_filter(void **state)
{
    struct store_hist_batch *b = NULL;
    struct store_hist_rec *rec = NULL;
    struct store_hist_sealed s;
    struct store_login l;
    uint8_t ranges[1][2][16], nets[1][16] = {{192, 0, 2, 0}}, fam = 4;
    uint8_t bits = 24;
    const char *gb[] = {"GB"}, *fr[] = {"FR"};
    struct store_query q = {0};
    size_t admitted = 0;

    (void)state;
    memset(&l, 0, sizeof(l));
    ip4(&l, "192.0.2.10");
    strcpy(l.account_id, "terms");
    strcpy(l.device_id, "dev-x");
    strcpy(l.country, "GB");
    l.asn = 64500;
    l.ts_ms = T0;
    assert_int_equal(store_hist_batch_new(&b), LR_OK);
    assert_int_equal(store_hist_pack(&l, &rec), LR_OK);
    store_hist_batch_add(b, rec, 0);
    free(rec);
    store_hist_batch_seal(b, &s);
#define MAY(qq) store_hist_terms_may(s.terms, s.terms_len, &(qq), ranges)
    assert_true(MAY(q));
    q.asns = &l.asn;
    q.n_asns = 1;
    assert_true(MAY(q));
    for (uint32_t asn = 1; asn <= 200; asn++) {
        q.asns = &asn;
        admitted += MAY(q);
    }
    assert_true(admitted <= 10);
    q = (struct store_query){.countries = gb, .n_countries = 1};
    assert_true(MAY(q));
    q.countries = fr;
    assert_false(MAY(q));
    q = (struct store_query){.device_id = "dev-x"};
    assert_true(MAY(q));
    q.device_id = "dev-y";
    assert_false(MAY(q));
    q = (struct store_query){.cidr_nets = nets,
                             .cidr_families = &fam,
                             .cidr_bits = &bits,
                             .n_cidrs = 1};
    assert_int_equal(
        store_cidr_range(nets[0], 4, 24, ranges[0][0], ranges[0][1]), LR_OK);
    assert_true(MAY(q));
    nets[0][0] = 10;
    assert_int_equal(
        store_cidr_range(nets[0], 4, 24, ranges[0][0], ranges[0][1]), LR_OK);
    assert_false(MAY(q));
    bits = 8; /* shorter than a /16: the filter cannot say */
    assert_int_equal(
        store_cidr_range(nets[0], 4, 8, ranges[0][0], ranges[0][1]), LR_OK);
    assert_true(MAY(q));
    assert_true(store_hist_terms_may(NULL, 0, &q, ranges)); /* older batch */
#undef MAY
    store_hist_batch_free(b);
}

/* Batches written before schema 4 have no term filter: still read. */
static void test_store_history_query_without_terms(void **state)
{
    struct fx *f = *state;
    uint32_t asns[] = {64502};
    struct store_query q = {.asns = asns, .n_asns = 1};

    fx_open(f);
    history_fixture(f->st);
    fx_close(f);
    sql_exec(f->db, "UPDATE history_batch SET terms_bloom = NULL");
    fx_open(f);
    expect_query(f->st, &q, "dave;erin;");
    q = (struct store_query){.device_id = "dev-a"};
    expect_query(f->st, &q, "alice;dave;");
}

/* ---- lock-by-query with a limit ---------------------------------------- */

#define LQ_IDS 20000

/* A fixed shuffle of 0..n-1 (xorshift, so every run sees the same order). */
static void shuffle(unsigned *v, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (unsigned)i;
    for (size_t i = n; i > 1; i--) {
        size_t j;
        unsigned t;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        j = (size_t)(seed % i);
        t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* What a limited query must return: the ids emitted, in order. */
struct emitted {
    char **ids;
    size_t n, cap;
};

static void collect_emitted(const char *id, void *arg)
{
    struct emitted *e = arg;

    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->ids = realloc(e->ids, e->cap * sizeof(*e->ids));
        assert_non_null(e->ids);
    }
    e->ids[e->n] = strdup(id);
    assert_non_null(e->ids[e->n]);
    e->n++;
}

static void emitted_free(struct emitted *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->ids[i]);
    free(e->ids);
    memset(e, 0, sizeof(*e));
}

/* @p got equals the first @p limit (0 = all) of the sorted @p want. */
static void expect_first(const struct emitted *got, char *const *want,
                         size_t n_want, uint64_t limit)
{
    size_t n = limit != 0 && limit < n_want ? (size_t)limit : n_want;

    assert_int_equal(got->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got->ids[i], want[i]);
}

/* Ids "u<n>" without padding, so many are prefixes of others ("u1" <
 * "u10" < "u100" < "u11"): the bound compares bytes, then length. */
static char **lq_ids(size_t n)
{
    char **ids = calloc(n, sizeof(*ids));

    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = malloc(16);
        assert_non_null(ids[i]);
        snprintf(ids[i], 16, "u%zu", i * 7919 % 100003);
    }
    return ids;
}

static void lq_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* With a limit the set keeps only the smallest ids: memory stays
 * proportional to the limit, however many accounts match, and the result
 * is the first `limit` of all of them in order, whatever the insertion
 * order (each id twice: a repeat is not a new account). */
static void test_store_acctset_limit_keeps_smallest(void **state)
{
    const uint64_t limits[] = {1, 7, 5000, LQ_IDS + 1, 0};
    char **ids = lq_ids(LQ_IDS), **sorted = calloc(LQ_IDS, sizeof(char *));
    unsigned *order = calloc(2 * LQ_IDS, sizeof(unsigned));

    (void)state;
    assert_non_null(sorted);
    assert_non_null(order);
    memcpy(sorted, ids, LQ_IDS * sizeof(char *));
    qsort(sorted, LQ_IDS, sizeof(char *), cmp_str);
    shuffle(order, LQ_IDS, 0x9e3779b97f4a7c15ull);
    shuffle(order + LQ_IDS, LQ_IDS, 0x1234567ull);
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        uint64_t limit = limits[k];
        size_t bound = limit == 0 ? LQ_IDS
                                  : (size_t)limit + (limit > STORE_ACCTSET_FLOOR
                                                         ? limit
                                                         : STORE_ACCTSET_FLOOR);
        struct store_acctset *set = NULL;
        struct emitted got = {0};
        size_t most = 0;

        assert_int_equal(store_acctset_new(limit, &set), LR_OK);
        for (size_t i = 0; i < 2 * LQ_IDS; i++) {
            const char *id = ids[order[i]];

            assert_int_equal(store_acctset_add(set, id, strlen(id)), LR_OK);
            if (store_acctset_size(set) > most)
                most = store_acctset_size(set);
        }
        assert_true(most < bound || limit == 0);
        if (limit != 0 && limit < LQ_IDS)
            assert_true(most < LQ_IDS / 2);
        assert_int_equal(store_acctset_emit(set, limit, collect_emitted, &got),
                         LR_OK);
        expect_first(&got, sorted, LQ_IDS, limit);
        emitted_free(&got);
        store_acctset_free(set);
    }
    free(order);
    free(sorted);
    lq_ids_free(ids, LQ_IDS);
}

/* The same through the store: more matching accounts than the set keeps,
 * logged in random order; limit 1, 7, more than match, none. */
static void test_store_history_query_limit_first_accounts(void **state)
{
    enum { N = 9000 };
    struct fx *f = *state;
    const uint64_t limits[] = {1, 7, N + 5, 0};
    char **ids = lq_ids(N), **sorted = calloc(N, sizeof(char *));
    unsigned *order = calloc(N, sizeof(unsigned));
    struct store_login a;

    assert_non_null(sorted);
    assert_non_null(order);
    memcpy(sorted, ids, N * sizeof(char *));
    qsort(sorted, N, sizeof(char *), cmp_str);
    shuffle(order, N, 42);
    fx_open(f);
    ip4(&a, "192.0.2.7");
    for (size_t i = 0; i < N; i++)
        login(f->st, ids[order[i]], (int64_t)i, LR_CRED_VALID, LR_ACTION_ALLOW,
              64500, "GB", "d", &a);
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        struct store_query q = {.limit = limits[k]};
        struct emitted got = {0};

        assert_int_equal(store_history_query(f->st, &q, collect_emitted, &got),
                         LR_OK);
        expect_first(&got, sorted, N, limits[k]);
        emitted_free(&got);
    }
    free(order);
    free(sorted);
    lq_ids_free(ids, N);
}

/* ---- codec ------------------------------------------------------------- */

static void test_store_cidr_range_edges(void **state)
{
    uint8_t net[16] = {10, 1, 2, 3}, lo[16], hi[16];
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0xff};

    (void)state;
    assert_int_equal(store_cidr_range(net, 4, 32, lo, hi), LR_OK);
    assert_memory_equal(lo, hi, 16);
    assert_int_equal(lo[10], 0xff);
    assert_int_equal(lo[15], 3);
    assert_int_equal(store_cidr_range(net, 4, 8, lo, hi), LR_OK);
    assert_int_equal(lo[12], 10);
    assert_int_equal(lo[13], 0);
    assert_int_equal(hi[13], 0xff);
    assert_int_equal(hi[15], 0xff);
    assert_int_equal(store_cidr_range(v6, 6, 48, lo, hi), LR_OK);
    assert_int_equal(lo[5], 0xcd);
    assert_int_equal(lo[6], 0);
    assert_int_equal(hi[6], 0xff);
    assert_int_equal(store_cidr_range(v6, 6, 0, lo, hi), LR_OK);
    assert_int_equal(lo[0], 0);
    assert_int_equal(hi[0], 0xff);
    assert_int_equal(store_cidr_range(v6, 6, 129, lo, hi), LR_INVALID);
    assert_int_equal(store_cidr_range(net, 4, 33, lo, hi), LR_INVALID);
    assert_int_equal(store_cidr_range(net, 5, 8, lo, hi), LR_INVALID);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_open_creates_schema),
        T(test_store_open_invalid_args),
        T(test_store_open_migrates_v1),
        T(test_store_open_newer_version_refused),
        T(test_store_open_corrupt_random_bytes),
        T(test_store_open_corrupt_truncated),
        T(test_store_open_other_application),
        T(test_store_lock_accounts_basic),
        T(test_store_lock_accounts_idempotent),
        T(test_store_lock_accounts_scope_upgrade),
        T(test_store_lock_accounts_dry_run),
        T(test_store_lock_accounts_expiry),
        T(test_store_lock_accounts_past_clock),
        T(test_store_lock_accounts_invalid),
        T(test_store_unlock_accounts_basic),
        T(test_store_audit_list_rows),
        T(test_store_locks_list_paged),
        T(test_store_open_reopen_keeps_locks),
        T(test_store_lock_get_after_churn),
        T(test_store_lock_get_concurrent),
        T(test_store_lock_accounts_survives_kill9),
        T(test_store_lock_accounts_read_only_file),
        T(test_store_lock_accounts_read_only_dir),
        T(test_store_lock_accounts_disk_full),
        T(test_store_open_unwritable_dir),
        T(test_store_purge_ignores_far_future_clock),
        T(test_store_profile_save_round_trip),
        T(test_store_profile_save_bounds),
        T(test_store_profile_load_damaged),
        T(test_store_prof_blob_decode_hostile),
        T(test_store_history_query_cidr),
        T(test_store_history_query_v6_range_holds_v4),
        T(test_store_history_query_fields),
        T(test_store_history_query_invalid),
        T(test_store_history_recent_per_account),
        T(test_store_history_append_invalid),
        T(test_store_close_drains_queue),
        T(test_store_history_append_queue_full),
        T(test_store_purge_retention),
        T(test_store_cidr_range_edges),
        T(test_store_open_migrates_v2_history),
        T(test_store_history_recent_out_of_order_batches),
        T(test_store_history_recent_across_batches),
        T(test_store_history_damaged_batch_skipped),
        T(test_store_hist_iter_hostile),
        T(test_store_commit_stats_counts),
        T(test_store_history_open_batch_lingers),
        T(test_store_history_size_cap_drops_oldest),
        T(test_store_history_size_cap_no_history_left),
        T(test_store_hist_terms_filter),
        T(test_store_history_query_without_terms),
        T(test_store_acctset_limit_keeps_smallest),
        T(test_store_history_query_limit_first_accounts),
    };

    lr_log_set_level(LR_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

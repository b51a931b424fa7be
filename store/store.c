/*
 * store.c - the public calls of store/: arguments, threads and order.
 *
 * This file owns the connections and decides who may use which:
 *   main     lock, unlock and audit writes; guarded by main_mu, which also
 *            serializes every change to the lock mirror, so a bulk call
 *            classifies, commits and updates the mirror as one step;
 *   writer   the writer thread's batches and maintenance (writer_mu lets
 *            store_purge() borrow it from another thread);
 * write_mu is held around every write transaction of either connection:
 * SQLite admits one writer at a time anyway, and waiting on a mutex wakes a
 * lock call the moment a history batch ends, where SQLite's busy handler
 * would poll with sleeps. The size cap's trim takes it per step (16
 * batches) and, a mutex not being fair, lets a waiting lock call have it
 * before the next step. Order: main_mu, then write_mu, then writer_mu.
 *   query    lock-by-query, whose callback runs while rows stream;
 *   readers  a few read connections for profile loads and admin reads,
 *            each behind its own mutex, so loads do not queue behind a lock.
 *
 * A bulk lock sorts and de-duplicates its ids, classifies each against the
 * mirror, prepares the mirror entries (the only step that allocates), then
 * commits the rows and their audit row in one transaction and only then
 * publishes the entries: a failed commit leaves the mirror as it was.
 *
 * Housekeeping (dropping expired locks, history retention, counting active
 * locks) runs on "store time": the newest time any caller has handed the
 * store (lock calls, store_lock_get, store_purge), seeded at open from the
 * newest audit row. In production that is the wall clock; under an injected
 * clock it is the test's clock, so a test at a fixed past date does not see
 * its locks and logins swept away by the writer thread.
 */
#include "store/store_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define STORE_DB_NAME "loginrisk.db"
#define STORE_READERS 3
#define STORE_DEFAULT_RETENTION_DAYS 30
#define STORE_DEFAULT_BATCH 512
#define STORE_DEFAULT_QUEUE_CAP 65536
#define STORE_TXN_MAX 4096 /* records per writer transaction, at most */
#define STORE_DURATION_MAX_S (100ull * 366 * 86400)
#define STORE_CHECKPOINT_NS (10000LL * 1000000)
#define STORE_PURGE_NS (60000LL * 1000000)
#define STORE_TRIM_NS (1000LL * 1000000) /* size cap checked this often */
#define STORE_TRIM_ROUNDS 256 /* steps (16 batches each) per trim, at most */
#define STORE_TRIM_LOG_NS (60000LL * 1000000) /* one size-cap line per */
#define STORE_FAIL_LOG_NS (10000LL * 1000000)
#define STORE_DAY_MS 86400000LL
#define STORE_CLOCK_AHEAD_MS STORE_DAY_MS       /* store time ignores beyond */
#define STORE_PROBE_MIN_FREE (1024 * 1024)      /* bytes left: else "full" */
#define STORE_HIST_LINGER_NS (1000LL * 1000000) /* open batch written after */

/* Upper bounds of the commit-time buckets, in seconds. */
static const double store_commit_bounds_s[STORE_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,
};

/* Commit times of one kind: per-bucket (not cumulative) counts. */
struct store_commit_counts {
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t bucket[STORE_COMMIT_BUCKETS];
};

struct store_reader {
    pthread_mutex_t mu;
    struct store_conn *conn;
};

struct store {
    char path[PATH_MAX];
    uint32_t retention_days;
    uint32_t batch;
    uint32_t queue_cap;
    uint64_t max_bytes;
    bool read_only;
    bool immutable;
    atomic_bool write_failed; /* the last write transaction failed */
    int version;
    pthread_mutex_t main_mu;
    struct store_conn *main;
    pthread_mutex_t write_mu; /* one write transaction at a time */
    atomic_uint main_waiting; /* lock/audit calls waiting for write_mu */
    pthread_mutex_t writer_mu;
    struct store_conn *writer;
    pthread_mutex_t query_mu;
    struct store_conn *query;
    struct store_reader readers[STORE_READERS];
    atomic_uint next_reader;
    _Atomic int64_t clock_ms; /* store time, see above */
    struct store_lockmap *locks;
    struct store_queue *queue;
    struct store_commit_counts commit_history; /* writer transactions */
    struct store_commit_counts commit_lock;    /* lock and audit writes */
    /* What the size cap deleted since open; the *_unlogged part of it is
     * not logged yet (one line a minute, whoever trims). */
    _Atomic uint64_t trim_batches;
    _Atomic uint64_t trim_rows;
    _Atomic uint64_t trim_starved;
    _Atomic uint64_t trim_rows_unlogged;
    _Atomic uint64_t trim_starved_unlogged;
    _Atomic int64_t trim_log_ns; /* lr_mono_ns() of the last line */
    /* Writer thread only. */
    struct store_hist_batch *hist; /* the open batch of history rows */
    int64_t last_checkpoint_ns;
    int64_t last_purge_ns;
    int64_t last_trim_ns;
    int64_t last_fail_log_ns;
    uint64_t failed_since_log;
};

/* Sorted, de-duplicated ids of one bulk call and the ones that change. */
struct store_plan {
    const char **ids;
    size_t n;
    const char **changed;
    size_t n_changed;
};

/* ---- open and close ---------------------------------------------------- */

static int store_alloc(const struct store_opts *opts, struct store **out,
                       char *err, size_t errcap)
{
    struct store *st;
    int n;

    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return LR_NOMEM;
    n = snprintf(st->path, sizeof(st->path), "%s/%s", opts->dir, STORE_DB_NAME);
    if (n < 0 || (size_t)n >= sizeof(st->path)) {
        snprintf(err, errcap, "%s: state directory path too long", opts->dir);
        free(st);
        return LR_INVALID;
    }
    st->retention_days = opts->retention_days ? opts->retention_days
                                              : STORE_DEFAULT_RETENTION_DAYS;
    st->queue_cap = opts->queue_cap ? opts->queue_cap : STORE_DEFAULT_QUEUE_CAP;
    st->batch = opts->batch ? opts->batch : STORE_DEFAULT_BATCH;
    if (st->batch > st->queue_cap)
        st->batch = st->queue_cap;
    st->max_bytes = opts->max_bytes;
    atomic_init(&st->trim_log_ns, lr_mono_ns() - STORE_TRIM_LOG_NS);
    pthread_mutex_init(&st->main_mu, NULL);
    pthread_mutex_init(&st->write_mu, NULL);
    pthread_mutex_init(&st->writer_mu, NULL);
    pthread_mutex_init(&st->query_mu, NULL);
    for (size_t i = 0; i < STORE_READERS; i++)
        pthread_mutex_init(&st->readers[i].mu, NULL);
    st->last_purge_ns = lr_mono_ns(); /* first purge one interval in */
    *out = st;
    return LR_OK;
}

/* mkdir -p for the directory part of st->path, new parts mode 0700. */
static int store_mkdirs(const struct store *st, char *err, size_t errcap)
{
    char dir[PATH_MAX];
    char *slash;

    lr_strlcpy(dir, st->path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (slash == NULL)
        return LR_OK;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (dir[0] != '\0' && mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto fail;
    return LR_OK;
fail:
    snprintf(err, errcap, "%s: cannot create directory: %s", dir,
             strerror(errno));
    return LR_IO;
}

static int store_open_main(struct store *st, char *err, size_t errcap)
{
    int rc;

    rc = store_conn_open(st->path, STORE_CONN_MAIN, false, st->max_bytes,
                         &st->main, err, errcap);
    if (rc)
        return rc;
    st->immutable = store_conn_immutable(st->main);
    st->read_only = store_conn_read_only(st->main);
    rc = store_db_setup(st->main, &st->version, err, errcap);
    if (rc == 0 && st->read_only)
        lr_log(LR_LOG_WARN,
               "store: %s: opened read-only%s: lock, unlock and history"
               " writes will fail",
               st->path, st->immutable ? " (immutable)" : "");
    return rc;
}

static int store_load_row(const struct store_db_lock_row *row, void *arg)
{
    return store_lockmap_load(arg, row);
}

static int store_load_locks(struct store *st, char *err, size_t errcap)
{
    int64_t latest = 0;
    int rc;

    rc = store_lockmap_new(&st->locks);
    if (rc == 0)
        rc = store_db_locks_load(st->main, store_load_row, st->locks);
    if (rc == 0)
        rc = store_db_latest_time(st->main, &latest);
    if (rc == 0) {
        atomic_store(&st->clock_ms, latest);
        if (latest > 0 && store_lockmap_purge_due(st->locks, latest))
            store_lockmap_purge(st->locks, latest);
    }
    if (st->locks != NULL)
        store_lockmap_load_done(st->locks);
    if (rc)
        snprintf(err, errcap, "%s: cannot load the locks: %s", st->path,
                 lr_strerror(rc));
    return rc;
}

static int store_open_others(struct store *st, char *err, size_t errcap)
{
    int rc;

    rc = store_conn_open(st->path, STORE_CONN_WRITER, st->immutable,
                         st->max_bytes, &st->writer, err, errcap);
    if (rc == 0)
        rc = store_conn_open(st->path, STORE_CONN_READER, st->immutable, 0,
                             &st->query, err, errcap);
    for (size_t i = 0; i < STORE_READERS && rc == 0; i++)
        rc = store_conn_open(st->path, STORE_CONN_READER, st->immutable, 0,
                             &st->readers[i].conn, err, errcap);
    return rc;
}

static int store_writer_commit(void *ctx, struct store_rec *const *recs,
                               size_t n, bool flush, uint64_t *lost);
static void store_writer_tick(void *ctx);
static void store_writer_trim(struct store *st);

int store_open(const struct store_opts *opts, struct store **out, char *err,
               size_t errcap)
{
    struct store *st = NULL;
    char scratch[8];
    int rc;

    if (err == NULL || errcap == 0) {
        err = scratch;
        errcap = sizeof(scratch);
    }
    err[0] = '\0';
    if (opts == NULL || opts->dir == NULL || opts->dir[0] == '\0' ||
        out == NULL)
        return LR_INVALID;
    rc = store_alloc(opts, &st, err, errcap);
    if (rc)
        return rc;
    rc = store_mkdirs(st, err, errcap);
    if (rc)
        goto out;
    rc = store_open_main(st, err, errcap);
    if (rc)
        goto out;
    rc = store_load_locks(st, err, errcap);
    if (rc)
        goto out;
    rc = store_open_others(st, err, errcap);
    if (rc == 0)
        rc = store_hist_batch_new(&st->hist);
    if (rc)
        goto out;
    rc = store_queue_start(
        st->queue_cap, st->batch,
        st->batch > STORE_TXN_MAX ? st->batch : STORE_TXN_MAX,
        store_writer_commit, store_writer_tick, st, &st->queue);
out:
    if (rc) {
        if (err[0] == '\0')
            snprintf(err, errcap, "%s: %s", st->path, lr_strerror(rc));
        store_close(st);
        return rc;
    }
    *out = st;
    return LR_OK;
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
    store_queue_stop(st->queue);
    for (size_t i = 0; i < STORE_READERS; i++) {
        store_conn_close(st->readers[i].conn);
        pthread_mutex_destroy(&st->readers[i].mu);
    }
    store_conn_close(st->query);
    store_conn_close(st->writer);
    store_conn_close(st->main); /* last: it checkpoints and removes the WAL */
    store_lockmap_free(st->locks);
    store_hist_batch_free(st->hist);
    pthread_mutex_destroy(&st->query_mu);
    pthread_mutex_destroy(&st->writer_mu);
    pthread_mutex_destroy(&st->write_mu);
    pthread_mutex_destroy(&st->main_mu);
    free(st);
}

int store_flush(struct store *st)
{
    if (st == NULL)
        return LR_INVALID;
    return store_queue_flush(st->queue);
}

int store_schema_version(const struct store *st)
{
    return st->version;
}

int store_schema_latest(void)
{
    return store_db_latest_version();
}

/* Records the outcome of a write transaction for store_writable(). */
static int store_note_write(struct store *st, int rc)
{
    if (rc == LR_OK || rc == LR_STORE || rc == LR_FULL || rc == LR_IO ||
        rc == LR_CORRUPT)
        atomic_store(&st->write_failed, rc != LR_OK);
    return rc;
}

bool store_writable(const struct store *st)
{
    return !st->read_only && !atomic_load(&st->write_failed);
}

/*
 * The file system's own view first: mounted read-only since the open (the
 * descriptors SQLite holds may still write until a new file is needed), or
 * less than STORE_PROBE_MIN_FREE left for the WAL to grow into.
 */
static int store_probe_fs(const struct store *st)
{
    struct statvfs vfs;

    if (statvfs(st->path, &vfs) != 0)
        return LR_STORE;
    if (vfs.f_flag & ST_RDONLY)
        return LR_STORE;
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < STORE_PROBE_MIN_FREE)
        return LR_FULL;
    return LR_OK;
}

/*
 * write_mu for the main connection (locks, audit, probe): counted while it
 * waits, so a trim between two of its steps lets it in first.
 */
static void store_write_lock_main(struct store *st)
{
    atomic_fetch_add(&st->main_waiting, 1);
    pthread_mutex_lock(&st->write_mu);
    atomic_fetch_sub(&st->main_waiting, 1);
}

int store_probe(struct store *st)
{
    int rc = LR_STORE;

    if (st->read_only)
        return LR_STORE;
    rc = store_probe_fs(st);
    if (rc)
        return store_note_write(st, LR_STORE);
    pthread_mutex_lock(&st->main_mu);
    store_write_lock_main(st);
    rc = store_db_probe(st->main);
    pthread_mutex_unlock(&st->write_mu);
    pthread_mutex_unlock(&st->main_mu);
    if (rc != LR_OK && rc != LR_NOMEM)
        rc = LR_STORE;
    return store_note_write(st, rc);
}

bool store_read_only(const struct store *st)
{
    return st->read_only;
}

/* ---- store time -------------------------------------------------------- */

/*
 * Moves store time forward to @p now_ms (never back); returns it. A time
 * more than a day past the wall clock is a caller's bug, and following it
 * would let retention delete every login, so it is ignored.
 */
static int64_t store_clock_see(struct store *st, int64_t now_ms)
{
    int64_t cur = atomic_load_explicit(&st->clock_ms, memory_order_relaxed);

    if (now_ms > cur && now_ms > lr_now_ms() + STORE_CLOCK_AHEAD_MS)
        return cur;
    while (now_ms > cur && !atomic_compare_exchange_weak_explicit(
                               &st->clock_ms, &cur, now_ms,
                               memory_order_relaxed, memory_order_relaxed))
        ;
    return now_ms > cur ? now_ms : cur;
}

static int64_t store_clock(struct store *st)
{
    return atomic_load_explicit(&st->clock_ms, memory_order_relaxed);
}

/* Drops mirror entries expired at @p clock; main_mu held. */
static void store_mirror_purge(struct store *st, int64_t clock)
{
    if (clock > 0 && store_lockmap_purge_due(st->locks, clock))
        store_lockmap_purge(st->locks, clock);
}

/* ---- commit times ------------------------------------------------------ */

static void store_commit_note(struct store_commit_counts *c, int64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;

    while (i < STORE_COMMIT_BUCKETS && s > store_commit_bounds_s[i])
        i++;
    if (i < STORE_COMMIT_BUCKETS)
        atomic_fetch_add_explicit(&c->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->sum_ns, (uint64_t)(ns > 0 ? ns : 0),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
}

static void store_commit_read(struct store_commit_counts *c,
                              struct store_commit_hist *out)
{
    uint64_t total = 0;

    for (size_t i = 0; i < STORE_COMMIT_BUCKETS; i++) {
        total += atomic_load_explicit(&c->bucket[i], memory_order_relaxed);
        out->le[i] = total;
    }
    out->count = atomic_load_explicit(&c->count, memory_order_relaxed);
    if (out->count < total) /* a commit noted between the two reads */
        out->count = total;
    out->sum_s =
        (double)atomic_load_explicit(&c->sum_ns, memory_order_relaxed) / 1e9;
}

const double *store_commit_bounds(void)
{
    return store_commit_bounds_s;
}

void store_commit_stats(struct store *st, struct store_commit_stats *out)
{
    store_commit_read(&st->commit_history, &out->history);
    store_commit_read(&st->commit_lock, &out->lock);
}

/* ---- the writer thread ------------------------------------------------- */

/* One writer transaction, begun only when something must be written. */
struct store_wtxn {
    bool open;
    int64_t t0;
    uint64_t recs; /* records and history rows written in it */
};

/* Begins the transaction if it is not open yet (takes the mutexes). */
static int store_wtxn_need(struct store *st, struct store_wtxn *w)
{
    int rc;

    if (w->open)
        return LR_OK;
    pthread_mutex_lock(&st->write_mu);
    pthread_mutex_lock(&st->writer_mu);
    w->t0 = lr_mono_ns();
    rc = store_db_begin(st->writer);
    if (rc) {
        pthread_mutex_unlock(&st->writer_mu);
        pthread_mutex_unlock(&st->write_mu);
        return rc;
    }
    w->open = true;
    return LR_OK;
}

/* Commits (or, after an error, rolls back) and releases the mutexes. */
static int store_wtxn_end(struct store *st, struct store_wtxn *w, int rc)
{
    if (!w->open)
        return rc;
    if (rc == 0)
        rc = store_db_commit(st->writer);
    else
        store_db_rollback(st->writer);
    if (rc == 0)
        store_commit_note(&st->commit_history, lr_mono_ns() - w->t0);
    pthread_mutex_unlock(&st->writer_mu);
    pthread_mutex_unlock(&st->write_mu);
    w->open = false;
    return rc;
}

/* Writes the open history batch as one row and empties it. */
static int store_writer_seal(struct store *st, struct store_wtxn *w)
{
    struct store_hist_sealed sealed;
    int rc;

    rc = store_wtxn_need(st, w);
    if (rc == 0) {
        store_hist_batch_seal(st->hist, &sealed);
        rc = store_db_batch_put(st->writer, &sealed);
    }
    w->recs += store_hist_batch_rows(st->hist);
    store_hist_batch_reset(st->hist);
    return rc;
}

/* One line per interval, not one per batch, when the disk is full. */
static void store_writer_failed(struct store *st, uint64_t lost, int rc)
{
    int64_t now = lr_mono_ns();

    st->failed_since_log += lost;
    if (now - st->last_fail_log_ns >= STORE_FAIL_LOG_NS) {
        lr_log(LR_LOG_ERROR, "store: %s: %llu queued writes dropped: %s",
               st->path, (unsigned long long)st->failed_since_log,
               lr_strerror(rc));
        st->failed_since_log = 0;
        st->last_fail_log_ns = now;
    }
}

/* Writes one record in @p w; a history row goes to the open batch. */
static int store_writer_rec(struct store *st, struct store_wtxn *w,
                            const struct store_rec *r, int64_t now)
{
    const struct store_hist_rec *h = (const struct store_hist_rec *)r;
    int rc = LR_OK;

    if (r->kind == STORE_REC_PROFILE) {
        w->recs++;
        rc = store_wtxn_need(st, w);
        if (rc == 0)
            rc = store_db_profile_put(st->writer,
                                      (const struct store_prof_rec *)r);
        return rc;
    }
    if (!store_hist_batch_fits(st->hist, h))
        rc = store_writer_seal(st, w);
    if (rc == 0)
        store_hist_batch_add(st->hist, h, now);
    else
        w->recs++;
    return rc;
}

/*
 * The queue's commit callback. Profiles are written at once; history rows
 * are copied into the open batch, which is written as one row when it is
 * full, when its first row has waited STORE_HIST_LINGER_NS, or on a flush
 * or close. A transaction is begun only when something is written. After a
 * failure the records of this call and the batches of the failed
 * transaction are lost (counted); rows still in the open batch are not.
 */
static int store_writer_commit(void *ctx, struct store_rec *const *recs,
                               size_t n, bool flush, uint64_t *lost)
{
    struct store *st = ctx;
    struct store_wtxn w = {0};
    int64_t now = lr_mono_ns();
    size_t i = 0;
    int rc = LR_OK;
    bool tried;

    /* Trim before writing, not only after a failure: a commit adds at most
     * one batch (64 KiB) and its profiles to a file kept under the history
     * cap, so the headroom above the cap stays for lock calls. */
    store_writer_trim(st);
    for (; i < n && rc == 0; i++)
        rc = store_writer_rec(st, &w, recs[i], now);
    if (rc == 0 && store_hist_batch_rows(st->hist) > 0 &&
        (flush ||
         now - store_hist_batch_opened_ns(st->hist) >= STORE_HIST_LINGER_NS))
        rc = store_writer_seal(st, &w);
    tried = w.open || rc != 0;
    rc = store_wtxn_end(st, &w, rc);
    if (tried)
        store_note_write(st, rc);
    if (rc == 0)
        return LR_OK;
    *lost = w.recs + (n - i);
    store_writer_failed(st, *lost, rc);
    store_writer_trim(st); /* the size cap may be what failed */
    return rc;
}

/* History's share of max_bytes: the rest is headroom for locks. */
static uint64_t store_history_cap(const struct store *st)
{
    return st->max_bytes / 10 * 9;
}

/*
 * One size-cap line a minute at most, whoever trimmed: how many logins went
 * since the last line, and whether the history ran out while the file was
 * still over the cap (locks, profiles and audit alone fill it; each new
 * batch is then deleted within a second).
 */
static void store_trim_log(struct store *st)
{
    int64_t now = lr_mono_ns(), last = atomic_load(&st->trim_log_ns);
    uint64_t rows, starved;

    if (now - last < STORE_TRIM_LOG_NS ||
        (atomic_load(&st->trim_rows_unlogged) == 0 &&
         atomic_load(&st->trim_starved_unlogged) == 0) ||
        !atomic_compare_exchange_strong(&st->trim_log_ns, &last, now))
        return;
    rows = atomic_exchange(&st->trim_rows_unlogged, 0);
    starved = atomic_exchange(&st->trim_starved_unlogged, 0);
    if (starved > 0)
        lr_log(LR_LOG_WARN,
               "store: %s: size cap: removed the %llu oldest logins; %llu "
               "times no history was left and locks, profiles and audit "
               "alone still use over 90%% of max_bytes (%llu): history is "
               "not kept (raise the cap)",
               st->path, (unsigned long long)rows, (unsigned long long)starved,
               (unsigned long long)st->max_bytes);
    else
        lr_log(LR_LOG_WARN,
               "store: %s: size cap: removed the %llu oldest logins", st->path,
               (unsigned long long)rows);
}

/*
 * Keeps the history under its share of max_bytes by deleting the oldest
 * batches, so a full cap costs old history, not new locks. Takes write_mu
 * for one step (16 batches) at a time, so a lock call waits for one short
 * transaction, not for the whole trim. Stops under the cap, or when no
 * history is left (counted as starved), or after STORE_TRIM_ROUNDS steps.
 * *@p deleted_out gets the rows deleted.
 */
static int store_trim(struct store *st, uint64_t *deleted_out)
{
    struct store_db_trim t = {0};
    uint64_t rows = 0, batches = 0;
    int rc = LR_OK;

    for (int round = 0; round < STORE_TRIM_ROUNDS; round++) {
        pthread_mutex_lock(&st->write_mu);
        pthread_mutex_lock(&st->writer_mu);
        rc = store_db_history_trim(st->writer, store_history_cap(st), &t);
        pthread_mutex_unlock(&st->writer_mu);
        pthread_mutex_unlock(&st->write_mu);
        if (rc || !t.over || t.batches == 0)
            break;
        /* a mutex is not fair: hand write_mu to a waiting lock call */
        for (int i = 0; i < 1000 && atomic_load(&st->main_waiting) > 0; i++)
            sched_yield();
        rows += t.rows;
        batches += t.batches;
    }
    atomic_fetch_add(&st->trim_batches, batches);
    atomic_fetch_add(&st->trim_rows, rows);
    atomic_fetch_add(&st->trim_rows_unlogged, rows);
    if (rc == 0 && t.over && t.batches == 0) {
        atomic_fetch_add(&st->trim_starved, 1);
        atomic_fetch_add(&st->trim_starved_unlogged, 1);
    }
    store_trim_log(st);
    if (rc == 0)
        *deleted_out = rows;
    return rc;
}

/* The size cap from the writer thread: every STORE_TRIM_NS, after a failure. */
static void store_writer_trim(struct store *st)
{
    uint64_t deleted = 0;

    if (st->max_bytes != 0 && !st->read_only)
        (void)store_trim(st, &deleted); /* errors logged by the adapter */
    st->last_trim_ns = lr_mono_ns();
}

void store_trim_stats(struct store *st, struct store_trim_stats *out)
{
    out->batches = atomic_load(&st->trim_batches);
    out->rows = atomic_load(&st->trim_rows);
    out->starved = atomic_load(&st->trim_starved);
}

static void store_writer_tick(void *ctx)
{
    struct store *st = ctx;
    int64_t now = lr_mono_ns();
    uint64_t deleted = 0;

    if (st->read_only)
        return;
    if (now - st->last_checkpoint_ns >= STORE_CHECKPOINT_NS) {
        pthread_mutex_lock(&st->writer_mu);
        store_db_checkpoint(st->writer);
        pthread_mutex_unlock(&st->writer_mu);
        st->last_checkpoint_ns = now;
    }
    if (now - st->last_purge_ns >= STORE_PURGE_NS && store_clock(st) > 0) {
        if (store_purge(st, store_clock(st), &deleted) == 0 && deleted > 0)
            lr_log(LR_LOG_INFO, "store: %s: retention removed %llu logins",
                   st->path, (unsigned long long)deleted);
        st->last_purge_ns = now;
    }
    if (now - st->last_trim_ns >= STORE_TRIM_NS)
        store_writer_trim(st);
}

int store_purge(struct store *st, int64_t now_ms, uint64_t *deleted_out)
{
    int64_t before = now_ms - (int64_t)st->retention_days * STORE_DAY_MS;
    uint64_t deleted = 0;
    int rc;

    store_clock_see(st, now_ms);
    pthread_mutex_lock(&st->main_mu);
    store_mirror_purge(st, store_clock(st));
    pthread_mutex_unlock(&st->main_mu);
    pthread_mutex_lock(&st->write_mu);
    pthread_mutex_lock(&st->writer_mu);
    rc = store_db_purge(st->writer, before, now_ms, &deleted);
    pthread_mutex_unlock(&st->writer_mu);
    pthread_mutex_unlock(&st->write_mu);
    if (rc == 0 && st->max_bytes != 0) {
        uint64_t trimmed = 0;

        rc = store_trim(st, &trimmed);
        deleted += trimmed;
    }
    if (rc == 0 && deleted_out != NULL)
        *deleted_out = deleted;
    return rc;
}

uint64_t store_dropped_writes(struct store *st)
{
    return store_queue_dropped(st->queue);
}

size_t store_queue_depth(struct store *st)
{
    return store_queue_len(st->queue);
}

/* ---- readers ----------------------------------------------------------- */

/* A free read connection if there is one, else waits for one; locked. */
static struct store_reader *store_reader_get(struct store *st)
{
    unsigned start = atomic_fetch_add(&st->next_reader, 1);
    struct store_reader *r;

    for (unsigned i = 0; i < STORE_READERS; i++) {
        r = &st->readers[(start + i) % STORE_READERS];
        if (pthread_mutex_trylock(&r->mu) == 0)
            return r;
    }
    r = &st->readers[start % STORE_READERS];
    pthread_mutex_lock(&r->mu);
    return r;
}

static void store_reader_put(struct store_reader *r)
{
    pthread_mutex_unlock(&r->mu);
}

/* ---- locks ------------------------------------------------------------- */

static int store_cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void store_plan_free(struct store_plan *p)
{
    free(p->ids);
    free(p->changed);
}

/* Checks every id, then sorts and de-duplicates them. */
static int store_plan_make(const char *const *ids, size_t n,
                           struct store_plan *p)
{
    size_t u = 0;

    p->ids = malloc((n ? n : 1) * sizeof(*p->ids));
    p->changed = malloc((n ? n : 1) * sizeof(*p->changed));
    if (p->ids == NULL || p->changed == NULL)
        return LR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (store_id_check(ids[i], NULL))
            return LR_INVALID;
        p->ids[i] = ids[i];
    }
    qsort(p->ids, n, sizeof(*p->ids), store_cmp_id);
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || strcmp(p->ids[u - 1], p->ids[i]) != 0)
            p->ids[u++] = p->ids[i];
    }
    p->n = u;
    return LR_OK;
}

static int store_actor_check(const struct store_actor *who)
{
    if (who == NULL)
        return LR_INVALID;
    if (store_text_check(who->actor, STORE_TEXT_MAX) ||
        store_text_check(who->reason, STORE_TEXT_MAX) ||
        store_text_check(who->ticket, STORE_TEXT_MAX) ||
        store_text_check(who->action,
                         sizeof(((struct store_audit *)0)->action)))
        return LR_INVALID;
    return LR_OK;
}

static void store_classify(struct store *st, bool lock, struct store_plan *p,
                           int64_t now, int64_t expires,
                           enum store_lock_scope scope)
{
    p->n_changed = 0;
    for (size_t i = 0; i < p->n; i++) {
        bool changes =
            lock ? store_lockmap_lock_changes(st->locks, p->ids[i], now,
                                              expires, scope)
                 : store_lockmap_unlock_changes(st->locks, p->ids[i], now);

        if (changes)
            p->changed[p->n_changed++] = p->ids[i];
    }
}

/* Commits the changes of @p p and publishes them; main_mu held. */
static int store_bulk_commit(struct store *st, bool lock,
                             const struct store_plan *p, int64_t now,
                             int64_t expires, enum store_lock_scope scope,
                             const struct store_actor *who, int64_t *audit_id)
{
    struct store_db_audit a = {
        .at_ms = now,
        .actor = who->actor,
        .action = who->action ? who->action : (lock ? "lock" : "unlock"),
        .reason = who->reason,
        .ticket = who->ticket,
        .matched = p->n,
        .changed = p->n_changed,
    };
    struct store_lock_origin o = {now, who->actor, who->reason, who->ticket};
    struct store_lock_batch *batch = NULL;
    int64_t t0;
    int rc;

    if (lock) {
        rc = store_lockmap_prepare(st->locks, p->changed, p->n_changed, expires,
                                   scope, &o, &batch);
        if (rc)
            return rc;
    }
    store_write_lock_main(st);
    t0 = lr_mono_ns();
    rc = store_db_locks_apply(st->main, lock, p->changed, p->n_changed, expires,
                              (int)scope, &a, audit_id);
    if (rc == 0)
        store_commit_note(&st->commit_lock, lr_mono_ns() - t0);
    pthread_mutex_unlock(&st->write_mu);
    store_note_write(st, rc);
    if (rc) {
        store_lockmap_batch_free(batch);
        return rc;
    }
    if (lock)
        store_lockmap_commit(st->locks, batch);
    else
        store_lockmap_remove(st->locks, p->changed, p->n_changed);
    return LR_OK;
}

static void store_bulk_result_fill(const struct store_plan *p, int64_t audit_id,
                                   struct store_bulk_result *out)
{
    out->matched = p->n;
    out->changed = p->n_changed;
    out->unchanged = p->n - p->n_changed;
    out->n_sample = 0;
    for (size_t i = 0; i < p->n_changed && i < STORE_SAMPLE_MAX; i++)
        lr_strlcpy(out->sample[out->n_sample++], p->changed[i],
                   sizeof(out->sample[0]));
    out->audit_id = audit_id;
}

static int store_bulk_check(struct store *st, const char *const *ids, size_t n,
                            uint64_t duration_s, enum store_lock_scope scope,
                            const struct store_actor *who,
                            const struct store_bulk_result *out)
{
    if (st == NULL || out == NULL || (n > 0 && ids == NULL) ||
        n > STORE_BULK_MAX || duration_s > STORE_DURATION_MAX_S)
        return LR_INVALID;
    if (scope != STORE_SCOPE_ALL && scope != STORE_SCOPE_UNFAMILIAR)
        return LR_INVALID;
    return store_actor_check(who);
}

static int store_bulk(struct store *st, bool lock, const char *const *ids,
                      size_t n, uint64_t duration_s,
                      enum store_lock_scope scope,
                      const struct store_actor *who, bool dry_run,
                      struct store_bulk_result *out)
{
    struct store_plan plan = {0};
    int64_t now, expires, audit_id = 0;
    int rc;

    rc = store_bulk_check(st, ids, n, duration_s, scope, who, out);
    if (rc == 0)
        rc = store_plan_make(ids, n, &plan);
    if (rc)
        goto out;
    now = who->now_ms ? who->now_ms : lr_now_ms();
    expires = lock && duration_s ? now + (int64_t)duration_s * 1000 : 0;
    pthread_mutex_lock(&st->main_mu);
    store_mirror_purge(st, store_clock_see(st, now));
    store_classify(st, lock, &plan, now, expires, scope);
    if (!dry_run && plan.n_changed > 0)
        rc = store_bulk_commit(st, lock, &plan, now, expires, scope, who,
                               &audit_id);
    pthread_mutex_unlock(&st->main_mu);
    if (rc == 0 && audit_id != 0)
        lr_log(LR_LOG_INFO,
               "store: %s by %s: %zu matched, %zu changed, audit %lld",
               lock ? "lock" : "unlock", who->actor ? who->actor : "", plan.n,
               plan.n_changed, (long long)audit_id);
    if (rc == 0)
        store_bulk_result_fill(&plan, audit_id, out);
out:
    store_plan_free(&plan);
    return rc;
}

int store_lock_accounts(struct store *st, const char *const *ids, size_t n,
                        uint64_t duration_s, enum store_lock_scope scope,
                        const struct store_actor *who, bool dry_run,
                        struct store_bulk_result *out)
{
    return store_bulk(st, true, ids, n, duration_s, scope, who, dry_run, out);
}

int store_unlock_accounts(struct store *st, const char *const *ids, size_t n,
                          const struct store_actor *who, bool dry_run,
                          struct store_bulk_result *out)
{
    return store_bulk(st, false, ids, n, 0, STORE_SCOPE_ALL, who, dry_run, out);
}

int store_lock_get(struct store *st, const char *account_id, int64_t now_ms,
                   struct store_lock *out)
{
    if (st == NULL || account_id == NULL || out == NULL)
        return LR_INVALID;
    store_clock_see(st, now_ms);
    return store_lockmap_get(st->locks, account_id, now_ms, out);
}

size_t store_lock_count(struct store *st)
{
    int64_t clock = store_clock(st);

    if (clock > 0 && store_lockmap_purge_due(st->locks, clock)) {
        pthread_mutex_lock(&st->main_mu);
        store_mirror_purge(st, clock);
        pthread_mutex_unlock(&st->main_mu);
    }
    return store_lockmap_size(st->locks);
}

size_t store_lock_memory(struct store *st)
{
    return store_lockmap_bytes(st->locks);
}

int store_locks_list(struct store *st, const char *after, size_t limit,
                     struct store_lock *out, size_t *n_out)
{
    struct store_reader *r;
    size_t n = 0;
    int rc;

    if (st == NULL || n_out == NULL || (limit > 0 && out == NULL) ||
        store_text_check(after, STORE_ID_MAX))
        return LR_INVALID;
    r = store_reader_get(st);
    rc = store_db_locks_list(r->conn, after, store_clock(st), limit, out, &n);
    store_reader_put(r);
    if (rc == 0)
        *n_out = n;
    return rc;
}

/* ---- profiles ---------------------------------------------------------- */

int store_profile_load(struct store *st, const char *account_id,
                       struct store_profile *out)
{
    struct store_reader *r;
    int rc;

    if (st == NULL || out == NULL || store_id_check(account_id, NULL))
        return LR_INVALID;
    r = store_reader_get(st);
    rc = store_db_profile_load(r->conn, account_id, out);
    store_reader_put(r);
    return rc;
}

int store_profile_ids(struct store *st,
                      void (*fn)(const char *account_id, void *arg), void *arg)
{
    struct store_reader *r;
    int rc;

    if (st == NULL || fn == NULL)
        return LR_INVALID;
    r = store_reader_get(st);
    rc = store_db_profile_ids(r->conn, fn, arg);
    store_reader_put(r);
    return rc;
}

int store_profile_save(struct store *st, const struct store_profile *p)
{
    struct store_prof_rec *rec = NULL;
    int rc;

    if (st == NULL || p == NULL)
        return LR_INVALID;
    rc = store_prof_pack(p, lr_now_ms(), &rec);
    if (rc)
        return rc;
    return store_queue_push(st->queue, &rec->hdr);
}

/* ---- history ----------------------------------------------------------- */

int store_history_append(struct store *st, const struct store_login *l)
{
    struct store_hist_rec *rec = NULL;
    int rc;

    if (st == NULL || l == NULL)
        return LR_INVALID;
    rc = store_hist_pack(l, &rec);
    if (rc)
        return rc;
    return store_queue_push(st->queue, &rec->hdr);
}

int store_history_recent(struct store *st, const char *account_id, size_t max,
                         void (*fn)(const struct store_login *, void *),
                         void *arg)
{
    struct store_login *rows = NULL;
    struct store_reader *r;
    size_t n = 0;
    int rc;

    if (st == NULL || fn == NULL || store_id_check(account_id, NULL))
        return LR_INVALID;
    if (max > STORE_RECENT_MAX)
        max = STORE_RECENT_MAX;
    if (max == 0)
        return LR_OK;
    /* The open batch holds up to a second of logins: an admin looking at
     * an account wants the login of a moment ago too. */
    if (store_flush(st) != 0)
        lr_log(LR_LOG_WARN,
               "store: %s: recent logins read without some queued ones"
               " (their write failed)",
               st->path);
    r = store_reader_get(st);
    rc = store_db_history_recent(r->conn, account_id, max, &rows, &n);
    store_reader_put(r);
    for (size_t i = 0; rc == 0 && i < n; i++)
        fn(&rows[i], arg);
    free(rows);
    return rc;
}

static int store_query_check(const struct store_query *q)
{
    if (q->n_cidrs > STORE_QUERY_TERMS_MAX ||
        q->n_asns > STORE_QUERY_TERMS_MAX ||
        q->n_countries > STORE_QUERY_TERMS_MAX)
        return LR_INVALID;
    if (q->n_cidrs > 0 && (!q->cidr_nets || !q->cidr_families || !q->cidr_bits))
        return LR_INVALID;
    for (size_t i = 0; i < q->n_cidrs; i++) {
        uint8_t lo[16], hi[16];

        if (store_cidr_range(q->cidr_nets[i], q->cidr_families[i],
                             q->cidr_bits[i], lo, hi))
            return LR_INVALID;
    }
    if ((q->n_asns > 0 && q->asns == NULL) ||
        (q->n_countries > 0 && q->countries == NULL))
        return LR_INVALID;
    for (size_t i = 0; i < q->n_countries; i++) {
        if (q->countries[i] == NULL || store_text_check(q->countries[i], 3))
            return LR_INVALID;
    }
    if (q->device_id != NULL && store_id_check(q->device_id, NULL))
        return LR_INVALID;
    return LR_OK;
}

int store_history_query(struct store *st, const struct store_query *q,
                        void (*fn)(const char *account_id, void *), void *arg)
{
    int rc;

    if (st == NULL || q == NULL || fn == NULL || store_query_check(q))
        return LR_INVALID;
    if (store_flush(st) != 0)
        lr_log(LR_LOG_WARN,
               "store: %s: query runs without some queued"
               " logins (their write failed)",
               st->path);
    pthread_mutex_lock(&st->query_mu);
    rc = store_db_history_query(st->query, q, fn, arg);
    pthread_mutex_unlock(&st->query_mu);
    return rc;
}

/* ---- audit ------------------------------------------------------------- */

int store_audit_add(struct store *st, const struct store_actor *who,
                    const char *action, uint64_t matched, uint64_t changed,
                    int64_t *id_out)
{
    struct store_db_audit a;
    int64_t id = 0, t0;
    int rc;

    if (st == NULL || action == NULL || action[0] == '\0' ||
        store_actor_check(who) ||
        store_text_check(action, sizeof(((struct store_audit *)0)->action)))
        return LR_INVALID;
    a = (struct store_db_audit){
        .at_ms = store_clock_see(st, who->now_ms ? who->now_ms : lr_now_ms()),
        .actor = who->actor,
        .action = action,
        .reason = who->reason,
        .ticket = who->ticket,
        .matched = matched,
        .changed = changed,
    };
    pthread_mutex_lock(&st->main_mu);
    store_write_lock_main(st);
    t0 = lr_mono_ns();
    rc = store_db_audit_add(st->main, &a, &id);
    if (rc == 0)
        store_commit_note(&st->commit_lock, lr_mono_ns() - t0);
    pthread_mutex_unlock(&st->write_mu);
    pthread_mutex_unlock(&st->main_mu);
    store_note_write(st, rc);
    if (rc == 0 && id_out != NULL)
        *id_out = id;
    return rc;
}

int store_audit_list(struct store *st, size_t max, struct store_audit *out,
                     size_t *n_out)
{
    struct store_reader *r;
    size_t n = 0;
    int rc;

    if (st == NULL || n_out == NULL || (max > 0 && out == NULL))
        return LR_INVALID;
    r = store_reader_get(st);
    rc = store_db_audit_list(r->conn, max, out, &n);
    store_reader_put(r);
    if (rc == 0)
        *n_out = n;
    return rc;
}

/*
 * store.h - durable state behind one interface: locks, account profiles,
 * login history and the admin audit log.
 *
 * The embedded backend is SQLite in WAL mode (store_sqlite.c); a shared
 * backend (Redis Cluster) will implement the same calls, so the interface is
 * per key and atomic, and no SQL leaves store/.
 *
 * Durability: lock and unlock calls commit (synchronous=FULL) before they
 * return, so an acknowledged lock survives kill -9. Profile and history
 * writes are queued to one writer thread that commits them in batches; the
 * callers never wait on disk for them. History rows are packed into batches
 * of up to 512 rows, each stored as one row; the open batch is written when
 * full, about a second after its first row, or on store_flush() and
 * store_close(), so kill -9 or power loss can lose the last second or so of
 * history (and whatever was queued), never a lock, and never corrupts the
 * file. Active locks are mirrored in memory so store_lock_get() never
 * touches the disk.
 *
 * Thread-safety: every call may be made from any thread.
 *
 * Time: calls take the time from their caller (now_ms), so an injected clock
 * works. Housekeeping - dropping expired locks, history retention, counting
 * and listing active locks - runs on "store time": the newest time callers
 * have handed the store (lock calls, store_lock_get, store_purge), seeded at
 * open from the newest audit row; never on the wall clock directly (a time
 * more than a day past the wall clock is not followed).
 */
#ifndef LR_STORE_H
#define LR_STORE_H

#include "lr/lr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_MAX 257     /* account or device id + NUL */
#define STORE_TEXT_MAX 257   /* reason, ticket, source + NUL */
#define STORE_SAMPLE_MAX 10  /* ids returned in a bulk result sample */
#define STORE_DEVICES_MAX 32 /* hard cap on devices kept per account */
#define STORE_PLACES_MAX 32  /* hard cap on countries/ASNs kept */
#define STORE_REASONS_MAX 24
#define STORE_BULK_MAX 100000     /* ids per lock/unlock call */
#define STORE_RECENT_MAX 1000     /* rows per store_history_recent() */
#define STORE_QUERY_TERMS_MAX 256 /* CIDRs, ASNs or countries per query */

struct store;

struct store_opts {
    const char *dir;         /* created if missing (mode 0700) */
    uint32_t retention_days; /* history older than this is deleted */
    uint32_t batch;          /* queued writes that trigger a commit, 512 */
    uint32_t queue_cap;      /* queued writes before dropping, 65536 */
    uint64_t max_bytes;      /* size cap of the database file, 0 = none;
                                the oldest history goes first to keep it
                                under 90% of the cap */
};

/**
 * Opens (creating if needed) <dir>/loginrisk.db, runs the schema migrations,
 * loads the active locks into memory and starts the writer thread.
 * Zero fields of @p opts take their defaults (retention_days 0 = 30).
 * LR_CORRUPT for a file that is not a loginrisk database, fails
 * "PRAGMA quick_check" or has a newer schema than this build knows; LR_IO
 * when the directory cannot be made or the database cannot be created or
 * read. An existing database that can be read but not written (read-only
 * file or directory) opens read-only: locks are enforced, every write fails
 * with LR_STORE (see store_read_only()). @p err gets a message naming the
 * file. Free with store_close().
 */
LR_WUR int store_open(const struct store_opts *opts, struct store **out,
                      char *err, size_t errcap);

/** Drains the writer queue, stops the thread, closes. NULL is a no-op. */
void store_close(struct store *st);

/**
 * Waits until every write queued before this call is committed. LR_STORE if
 * a commit failed meanwhile (disk full, read-only): those writes are dropped
 * and counted in store_dropped_writes().
 */
LR_WUR int store_flush(struct store *st);

/** Schema version of the open database (for tests and metrics). */
int store_schema_version(const struct store *st);

/** Schema version this build creates and migrates to. */
int store_schema_latest(void);

/** True when the database was opened read-only (every write fails). */
bool store_read_only(const struct store *st);

/**
 * True while the state can be written, as far as the store knows: false
 * when the database opened read-only, or when the last write transaction
 * (a lock, an unlock, an audit row, a writer batch, a probe) failed and
 * none has succeeded since. One atomic read, any thread: for health checks.
 */
bool store_writable(const struct store *st);

/**
 * Checks the file system (mounted read-only, or less than 1 MiB free)
 * and tries the smallest real write (the schema version written back
 * unchanged, one page through the WAL), and records the result for
 * store_writable(): a disk that filled up is seen before a lock fails on
 * it, and a disk that recovered is seen without waiting for traffic. Waits
 * behind a write in progress, so call it from a housekeeping thread, never
 * on a request path. LR_OK, or LR_STORE (read-only database, disk full,
 * I/O error; SQLite's words are logged).
 */
LR_WUR int store_probe(struct store *st);

/**
 * Runs the periodic maintenance now (the writer thread also runs it every
 * minute at store time): moves store time to @p now_ms if it is newer,
 * deletes history older than retention_days before @p now_ms and locks
 * expired at @p now_ms. History goes in whole batches, once the newest row
 * of a batch is past retention (a batch spans at most a minute of login
 * times). *@p deleted_out (may be NULL) gets the number of history rows
 * deleted.
 */
LR_WUR int store_purge(struct store *st, int64_t now_ms, uint64_t *deleted_out);

/* ---- locks ---------------------------------------------------------- */

enum store_lock_scope {
    STORE_SCOPE_ALL = 0,        /* every attempt is refused */
    STORE_SCOPE_UNFAMILIAR = 1, /* known devices get a 2FA challenge */
};

struct store_lock {
    char account_id[STORE_ID_MAX];
    char reason[STORE_TEXT_MAX];
    char ticket[STORE_TEXT_MAX];
    char source[STORE_TEXT_MAX]; /* admin token name, or "auto:<SIGNAL>" */
    int64_t created_ms;
    int64_t expires_ms; /* 0 = until unlocked */
    enum store_lock_scope scope;
};

/** Who did it and why, for the audit row written with a change. */
struct store_actor {
    const char *actor; /* token name or "auto:<SIGNAL>"; becomes the source */
    const char *reason;
    const char *ticket;
    int64_t now_ms;     /* 0 = the wall clock */
    const char *action; /* audit action; NULL = "lock" or "unlock" */
};

struct store_bulk_result {
    uint64_t matched; /* ids in the request (duplicates counted once) */
    uint64_t changed; /* ids whose state changed (or would, in a dry run) */
    uint64_t unchanged;
    char sample[STORE_SAMPLE_MAX][STORE_ID_MAX]; /* first changed ids */
    size_t n_sample;
    int64_t audit_id; /* 0 for a dry run or when nothing changed */
};

/**
 * Locks @p n accounts in one transaction with their audit row, durable before
 * return; @p duration_s 0 = until unlocked. Ids are 1..256 bytes of UTF-8,
 * at most STORE_BULK_MAX per call; duplicates count once.
 *
 * A lock never weakens an active one: an account is unchanged when its
 * active lock has the same or a stronger scope (ALL covers UNFAMILIAR) and
 * lasts at least as long, or is a timed lock of the same duration (a resent
 * batch), so a rerun reports changed 0. Any other account gets the new lock.
 * With @p dry_run nothing is written and the counts say what would change.
 * Nothing changed means no audit row (audit_id 0).
 *
 * LR_INVALID for a bad id or argument; LR_STORE (disk full, read-only, I/O
 * error), LR_CORRUPT or LR_NOMEM mean nothing was changed.
 */
LR_WUR int store_lock_accounts(struct store *st, const char *const *ids,
                               size_t n, uint64_t duration_s,
                               enum store_lock_scope scope,
                               const struct store_actor *who, bool dry_run,
                               struct store_bulk_result *out);

/**
 * Unlocks @p n accounts; an account is changed when it has an active lock.
 * Same contract as store_lock_accounts().
 */
LR_WUR int store_unlock_accounts(struct store *st, const char *const *ids,
                                 size_t n, const struct store_actor *who,
                                 bool dry_run, struct store_bulk_result *out);

/**
 * The active lock on @p account_id at @p now_ms, from memory.
 * LR_NOTFOUND when the account is not locked (or the lock expired).
 */
LR_WUR int store_lock_get(struct store *st, const char *account_id,
                          int64_t now_ms, struct store_lock *out);

/** Number of locks active at store time (memory mirror). */
size_t store_lock_count(struct store *st);

/** Bytes held by the lock mirror (table, entries, shared texts). */
size_t store_lock_memory(struct store *st);

/**
 * Up to @p limit active locks with account_id > @p after (NULL or "" = from
 * the start), in account_id order, into @p out (caller's array).
 * *@p n_out is how many were written. Read from disk (an admin call);
 * "active" at store time.
 */
LR_WUR int store_locks_list(struct store *st, const char *after, size_t limit,
                            struct store_lock *out, size_t *n_out);

/* ---- account profiles ------------------------------------------------ */

struct store_device {
    char id[STORE_ID_MAX];
    int64_t first_ms;
    int64_t last_ms;
};

struct store_profile {
    char account_id[STORE_ID_MAX];
    struct store_device devices[STORE_DEVICES_MAX]; /* most recent first */
    size_t n_devices;
    char countries[STORE_PLACES_MAX][3];
    size_t n_countries;
    uint32_t asns[STORE_PLACES_MAX];
    size_t n_asns;
    int64_t last_success_ms; /* 0 = never */
    bool last_has_location;
    double last_lat;
    double last_lon;
    uint32_t last_radius_km;
    char last_country[3];
    char last_city[96];
    bool flagged_spray; /* succeeded with a sprayed password source */
};

/**
 * Loads the profile of @p account_id from disk; LR_NOTFOUND if there is none,
 * LR_CORRUPT if its stored form is damaged. A save still in the writer queue
 * is not seen (the engine's cache holds it).
 */
LR_WUR int store_profile_load(struct store *st, const char *account_id,
                              struct store_profile *out);

/**
 * Calls @p fn with the account id of every profile on disk, in no set
 * order (the string lives during the call only); a save still in the
 * writer queue is not seen. For the engine's record of which accounts have
 * a profile at all, read once at start. LR_STORE on a read error (@p fn may
 * have been called for some ids).
 */
LR_WUR int store_profile_ids(struct store *st,
                             void (*fn)(const char *account_id, void *arg),
                             void *arg);

/**
 * Queues the whole profile for the writer thread (upsert). Returns at once;
 * LR_FULL if the queue is full (the write is dropped and counted);
 * LR_INVALID for counts above their caps or unterminated strings.
 */
LR_WUR int store_profile_save(struct store *st, const struct store_profile *p);

/* ---- login history --------------------------------------------------- */

struct store_login {
    char request_id[65];
    char account_id[STORE_ID_MAX];
    int64_t ts_ms;
    uint8_t ip[16]; /* IPv4 in ip[0..3] with family 4 */
    uint8_t ip_family;
    char device_id[STORE_ID_MAX];
    int credential; /* enum lr_credential */
    int action;     /* enum lr_action */
    int score;
    char country[3];
    char city[96];
    bool has_location;
    double lat;
    double lon;
    uint32_t asn;
    char reasons[STORE_REASONS_MAX][72]; /* reason codes */
    size_t n_reasons;
};

/**
 * Queues one login record; LR_FULL if the queue is full (dropped).
 * LR_INVALID for a bad family, an unterminated string or a reason code
 * containing ','.
 */
LR_WUR int store_history_append(struct store *st, const struct store_login *l);

/**
 * Calls @p fn for up to @p max (capped at STORE_RECENT_MAX) most recent
 * logins of one account, newest first (by login time; equal times newest
 * written first). Flushes the writer first, so recent logins are seen (an
 * admin call: it waits for the queue). Rows are read before the first call,
 * so @p fn may call back into the store. Reads only the batches whose Bloom
 * filter may hold the account, newest first, and at most the newest
 * 1,000,000 batches (at least 1,000,000 seconds of history at one batch a
 * second; far more under load); a damaged batch is logged and skipped.
 */
LR_WUR int store_history_recent(struct store *st, const char *account_id,
                                size_t max,
                                void (*fn)(const struct store_login *, void *),
                                void *arg);

/** Selection for lock-by-query; empty lists match everything. */
struct store_query {
    const uint8_t (*cidr_nets)[16]; /* network addresses, masked */
    const uint8_t *cidr_families;   /* 4 or 6 */
    const uint8_t *cidr_bits;
    size_t n_cidrs;
    const uint32_t *asns;
    size_t n_asns;
    const char *const *countries;
    size_t n_countries;
    const char *device_id; /* NULL = any */
    int64_t since_ms;      /* 0 = no lower bound (inclusive) */
    int64_t until_ms;      /* 0 = no upper bound (inclusive) */
    bool successful_only;  /* credential VALID, action allow or 2fa */
    uint64_t limit;        /* 0 = no limit */
};

/**
 * Calls @p fn once per distinct account whose history matches @p q, in
 * account order; the string lives during the call only. Flushes the writer
 * first so recent logins are seen. At most STORE_QUERY_TERMS_MAX entries per
 * list (LR_INVALID beyond). Decodes the batches that overlap the time range
 * and collects the distinct accounts in memory. With a limit below
 * 2,000,000 the result is the first @c limit matching accounts in account
 * order however many match, and memory stays proportional to the limit
 * (about 2 x limit ids held). Without a limit (or a larger one) every
 * distinct account is held: LR_FULL when more than 2,000,000 match (narrow
 * the query). A damaged batch is logged and skipped. @p fn may lock accounts
 * but must not call store_history_query() itself (it would wait for itself).
 */
LR_WUR int store_history_query(struct store *st, const struct store_query *q,
                               void (*fn)(const char *account_id, void *),
                               void *arg);

/* ---- audit ----------------------------------------------------------- */

struct store_audit {
    int64_t id;
    int64_t at_ms;
    char actor[STORE_TEXT_MAX];
    char action[32]; /* "lock", "unlock", "lock_by_query", "reload" */
    char reason[STORE_TEXT_MAX];
    char ticket[STORE_TEXT_MAX];
    uint64_t matched;
    uint64_t changed;
};

/** Writes one audit row now (durable), for actions that are not locks. */
LR_WUR int store_audit_add(struct store *st, const struct store_actor *who,
                           const char *action, uint64_t matched,
                           uint64_t changed, int64_t *id_out);

/** Up to @p max audit rows, newest first, into @p out. */
LR_WUR int store_audit_list(struct store *st, size_t max,
                            struct store_audit *out, size_t *n_out);

/* ---- commit times ---------------------------------------------------- */

#define STORE_COMMIT_BUCKETS 15

/** A cumulative histogram of commit times since open. */
struct store_commit_hist {
    uint64_t count;                    /* commits */
    double sum_s;                      /* their total time */
    uint64_t le[STORE_COMMIT_BUCKETS]; /* commits <= store_commit_bounds()[i] */
};

struct store_commit_stats {
    struct store_commit_hist history; /* writer transactions (history
                                         batches, profiles) */
    struct store_commit_hist lock;    /* lock, unlock and audit writes */
};

/** The STORE_COMMIT_BUCKETS upper bounds, in seconds, ascending. */
const double *store_commit_bounds(void);

/**
 * Commit times of successful write transactions since open, from BEGIN to
 * the end of COMMIT (an fsync for locks). Any thread; lock-free reads.
 */
void store_commit_stats(struct store *st, struct store_commit_stats *out);

/* ---- size cap -------------------------------------------------------- */

/** What the size cap (store_opts.max_bytes) deleted since open. */
struct store_trim_stats {
    uint64_t batches; /* history batches deleted to stay under the cap */
    uint64_t rows;    /* logins in them */
    uint64_t starved; /* trims that deleted all history and were still over
                         the cap: locks, profiles and audit alone use over
                         90% of max_bytes, so new history is deleted within
                         a second or so of being written */
};

/**
 * Counters of the size cap since open (all 0 without a cap). Any thread;
 * lock-free reads. The trim itself logs one WARN line a minute at most,
 * with the logins removed since the last line.
 */
void store_trim_stats(struct store *st, struct store_trim_stats *out);

/** Writes dropped since open: queue full, or their commit failed. */
uint64_t store_dropped_writes(struct store *st);
/** Writes waiting for the writer thread now. */
size_t store_queue_depth(struct store *st);

#endif

/*
 * store_int.h - internals shared by the files of store/.
 *
 * store.c is the public face: it checks arguments, owns the connections and
 * their mutexes, and ties the three parts together:
 *   store_sqlite.c  the only file that speaks SQL (one connection per caller,
 *                   never shared without the caller's mutex);
 *   store_locks.c   the in-memory mirror of the active locks;
 *   store_queue.c   the bounded queue and the writer thread;
 *   store_codec.c   the compact forms queued and stored (profile blob,
 *                   packed history rows, IPs as 16-byte keys).
 */
#ifndef LR_STORE_INT_H
#define LR_STORE_INT_H

#include "store/store.h"

/* ---- records queued for the writer thread (store_codec.c) ------------ */

enum store_rec_kind {
    STORE_REC_HISTORY = 1,
    STORE_REC_PROFILE = 2,
};

/* First member of every queued record, so the writer can tell them apart. */
struct store_rec {
    enum store_rec_kind kind;
};

/* A login row, packed: the strings point into the same allocation. */
struct store_hist_rec {
    struct store_rec hdr;
    int64_t ts_ms;
    double lat;
    double lon;
    uint32_t asn;
    int32_t credential;
    int32_t action;
    int32_t score;
    bool has_location;
    uint8_t ip[16]; /* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
    char country[3];
    const char *account;
    const char *device;
    const char *request;
    const char *city;
    const char *reasons; /* codes joined by ',' */
    size_t account_len, device_len, request_len, city_len, reasons_len;
};

/* A profile row, packed: account, city and blob point into the record. */
struct store_prof_rec {
    struct store_rec hdr;
    int64_t updated_ms;
    int64_t last_success_ms;
    double lat;
    double lon;
    uint32_t radius_km;
    bool has_location;
    bool flagged_spray;
    char country[3];
    const char *account;
    const char *city;
    const unsigned char *blob; /* devices, countries, ASNs */
    size_t account_len, city_len, blob_len;
};

/** LR_INVALID unless @p id is 1..STORE_ID_MAX-1 bytes of UTF-8. */
LR_WUR int store_id_check(const char *id, size_t *len_out);

/** LR_INVALID unless @p s (NULL = "") is shorter than @p cap, UTF-8. */
LR_WUR int store_text_check(const char *s, size_t cap);

/** Packs @p l into one allocation (free()); LR_INVALID for bad fields. */
LR_WUR int store_hist_pack(const struct store_login *l,
                           struct store_hist_rec **out);

/** Packs @p p into one allocation (free()); LR_INVALID for bad fields. */
LR_WUR int store_prof_pack(const struct store_profile *p, int64_t now_ms,
                           struct store_prof_rec **out);

/**
 * Decodes a profile blob into the device, country and ASN fields of @p p.
 * LR_CORRUPT for anything malformed (counts over caps, short, trailing).
 */
LR_WUR int store_prof_blob_decode(const void *blob, size_t len,
                                  struct store_profile *p);

/** Splits ','-joined reason codes into @p l (extra or long ones dropped). */
void store_reasons_split(const char *text, size_t len, struct store_login *l);

/** The 16-byte key of an address (IPv4 becomes ::ffff:a.b.c.d). */
void store_ip_key(const uint8_t ip[16], uint8_t family, uint8_t key[16]);

/** The address and family of a 16-byte key. */
void store_ip_unkey(const uint8_t key[16], uint8_t ip[16], uint8_t *family);

/** First and last keys of a CIDR; LR_INVALID for a bad family or length. */
LR_WUR int store_cidr_range(const uint8_t net[16], uint8_t family, uint8_t bits,
                            uint8_t lo[16], uint8_t hi[16]);

/* ---- history batches (store_hist.c) ------------------------------------ */

#define STORE_HIST_BATCH_ROWS 512       /* rows per batch, at most */
#define STORE_HIST_BATCH_BYTES 65536    /* packed bytes per batch, at most */
#define STORE_HIST_BLOOM_MAX 512        /* Bloom filter bytes, at most */
#define STORE_HIST_TERMS_BLOOM_MAX 4096 /* query-term filter bytes */
#define STORE_HIST_SPAN_MS 60000 /* ts_max - ts_min of a batch, at most */
#define STORE_QUERY_ACCOUNTS_MAX 2000000 /* distinct accounts per query */

/* The writer thread's open batch (one, reused; fixed size). */
struct store_hist_batch;

/* A closed batch as it is written: pointers into the batch. */
struct store_hist_sealed {
    int64_t ts_min;
    int64_t ts_max;
    uint32_t n;
    const unsigned char *bloom;
    size_t bloom_len;
    const unsigned char *terms; /* query-term filter */
    size_t terms_len;
    const unsigned char *body;
    size_t body_len;
};

/* One decoded row; the strings point into the body (not NUL-terminated). */
struct store_hist_view {
    int64_t ts_ms;
    const uint8_t *ip; /* 16-byte key */
    uint32_t asn;
    int32_t credential;
    int32_t action;
    int32_t score;
    bool has_location;
    double lat;
    double lon;
    char country[3];
    const char *account, *device, *request, *city, *reasons;
    size_t account_len, device_len, request_len, city_len, reasons_len;
};

/* A bounded reader over one batch body. */
struct store_hist_iter {
    const unsigned char *p;
    size_t left;
    uint32_t n, i;
};

/** The 64-bit hash of an account id (Bloom filters, query sets). */
uint64_t store_hist_hash(const char *s, size_t len);

/** False only when the filter proves @p h absent; odd filters say true. */
bool store_hist_bloom_may(const void *bloom, size_t len, uint64_t h);

/** An empty batch (free with store_hist_batch_free()); LR_NOMEM. */
LR_WUR int store_hist_batch_new(struct store_hist_batch **out);

/** NULL is a no-op. */
void store_hist_batch_free(struct store_hist_batch *b);

/** Empties @p b for reuse. */
void store_hist_batch_reset(struct store_hist_batch *b);

/** True when @p r may join @p b (room, rows, time span); any fits empty. */
bool store_hist_batch_fits(const struct store_hist_batch *b,
                           const struct store_hist_rec *r);

/** Appends @p r (call store_hist_batch_fits() first). */
void store_hist_batch_add(struct store_hist_batch *b,
                          const struct store_hist_rec *r, int64_t now_ns);

/** Finishes header and Bloom filter; @p out borrows from @p b. */
void store_hist_batch_seal(struct store_hist_batch *b,
                           struct store_hist_sealed *out);

/** Rows in @p b now. */
uint32_t store_hist_batch_rows(const struct store_hist_batch *b);

/** lr_mono_ns() when the first row of @p b was added. */
int64_t store_hist_batch_opened_ns(const struct store_hist_batch *b);

/** Starts reading a body; LR_CORRUPT for a bad header. */
LR_WUR int store_hist_iter_init(struct store_hist_iter *it, const void *body,
                                size_t len);

/** The next row: LR_OK, LR_NOTFOUND at the end, LR_CORRUPT when damaged. */
LR_WUR int store_hist_iter_next(struct store_hist_iter *it,
                                struct store_hist_view *v);

/** Copies a decoded row into @p l. */
void store_hist_view_login(const struct store_hist_view *v,
                           struct store_login *l);

/** True when the row belongs to @p account (@p len bytes). */
bool store_hist_view_is(const struct store_hist_view *v, const char *account,
                        size_t len);

/**
 * False only when a batch's query-term filter proves no row can match @p q
 * (its ASNs, countries, device, or CIDRs of /16 or longer for IPv4 and /48
 * or longer for IPv6); NULL (an older batch) says true.
 */
bool store_hist_terms_may(const void *bloom, size_t len,
                          const struct store_query *q,
                          const uint8_t (*ranges)[2][16]);

/** True when the row matches @p q; @p ranges are its CIDRs' key ranges. */
bool store_hist_match(const struct store_hist_view *v,
                      const struct store_query *q,
                      const uint8_t (*ranges)[2][16]);

/** A set of distinct account ids for one query. */
struct store_acctset;

/* With a limit, a set is cut back to its smallest ids at this many ids at
 * least (2 x limit when that is more). */
#define STORE_ACCTSET_FLOOR 4096

/**
 * An empty set for a query with @p limit (0 = none). With a limit below
 * STORE_QUERY_ACCOUNTS_MAX it holds fewer than max(2 x limit, limit +
 * STORE_ACCTSET_FLOOR) ids and never fails with LR_FULL; without one (or a
 * larger one) it is capped at STORE_QUERY_ACCOUNTS_MAX. LR_NOMEM.
 */
LR_WUR int store_acctset_new(uint64_t limit, struct store_acctset **out);
void store_acctset_free(struct store_acctset *s);

/**
 * Adds a copy of @p id; with a limit, an id that cannot be among the first
 * @c limit is not kept. LR_FULL past STORE_QUERY_ACCOUNTS_MAX (no limit),
 * LR_NOMEM.
 */
LR_WUR int store_acctset_add(struct store_acctset *s, const char *id,
                             size_t len);

/** Ids held now (for tests: the memory bound). */
size_t store_acctset_size(const struct store_acctset *s);

/** Calls @p fn for the first @p limit (0 = all) ids in strcmp order. */
LR_WUR int store_acctset_emit(struct store_acctset *s, uint64_t limit,
                              void (*fn)(const char *, void *), void *arg);

/* ---- the SQLite adapter (store_sqlite.c) ------------------------------ */

struct store_conn;

enum store_conn_role {
    STORE_CONN_MAIN,   /* schema, locks, audit: synchronous=FULL */
    STORE_CONN_WRITER, /* the writer thread: batches, checkpoints */
    STORE_CONN_READER, /* reads only */
};

/**
 * Opens one connection to @p path. @p immutable opens the file read-only
 * without WAL shared memory. The main connection falls back to immutable
 * by itself when the file can be read but its WAL shared memory cannot be
 * made (a read-only directory) and no WAL is pending; the others follow
 * with @p immutable. LR_IO when the file cannot be opened; @p err names it.
 */
LR_WUR int store_conn_open(const char *path, enum store_conn_role role,
                           bool immutable, uint64_t max_bytes,
                           struct store_conn **out, char *err, size_t errcap);

/** Closes; NULL is a no-op. */
void store_conn_close(struct store_conn *c);

/** True when SQLite opened the file read-only. */
bool store_conn_read_only(const struct store_conn *c);

/** True when the connection was opened immutable. */
bool store_conn_immutable(const struct store_conn *c);

/**
 * Checks identity (application_id), integrity (quick_check) and version,
 * then migrates to the latest schema. *@p version_out gets the version.
 */
LR_WUR int store_db_setup(struct store_conn *c, int *version_out, char *err,
                          size_t errcap);

/** Schema version the adapter migrates to. */
int store_db_latest_version(void);

/** One active lock row as loaded at open (strings borrowed for the call). */
struct store_db_lock_row {
    const char *account_id;
    size_t len;
    int64_t expires_ms;
    int scope;
    int64_t audit_id;
    int64_t created_ms;
    const char *actor;
    const char *reason;
    const char *ticket;
};

/** Calls @p fn for each lock row (expired ones too); stops at its error. */
LR_WUR int store_db_locks_load(struct store_conn *c,
                               int (*fn)(const struct store_db_lock_row *,
                                         void *),
                               void *arg);

/** The newest audit time (0 when there is none): store time at open. */
LR_WUR int store_db_latest_time(struct store_conn *c, int64_t *ms_out);

/** An audit row to write. */
struct store_db_audit {
    int64_t at_ms;
    const char *actor;
    const char *action;
    const char *reason;
    const char *ticket;
    uint64_t matched;
    uint64_t changed;
};

/**
 * In one transaction: the audit row @p a, then a lock (@p lock) or unlock of
 * each of @p ids. Commits before return; on any error rolls back.
 */
LR_WUR int store_db_locks_apply(struct store_conn *c, bool lock,
                                const char *const *ids, size_t n,
                                int64_t expires_ms, int scope,
                                const struct store_db_audit *a,
                                int64_t *audit_id_out);

/** Writes one audit row (its own transaction). */
LR_WUR int store_db_audit_add(struct store_conn *c,
                              const struct store_db_audit *a, int64_t *id_out);

/** Newest audit rows first. */
LR_WUR int store_db_audit_list(struct store_conn *c, size_t max,
                               struct store_audit *out, size_t *n_out);

/** Active locks after @p after in account order. */
LR_WUR int store_db_locks_list(struct store_conn *c, const char *after,
                               int64_t now_ms, size_t limit,
                               struct store_lock *out, size_t *n_out);

/** One profile; LR_NOTFOUND when absent. */
LR_WUR int store_db_profile_load(struct store_conn *c, const char *account_id,
                                 struct store_profile *out);

/** Calls @p fn with the account id of every stored profile. */
LR_WUR int store_db_profile_ids(struct store_conn *c,
                                void (*fn)(const char *account_id, void *arg),
                                void *arg);

/** BEGIN IMMEDIATE on @p c (the writer thread's transactions). */
LR_WUR int store_db_begin(struct store_conn *c);

/** COMMIT; on failure rolls back what is still open. */
LR_WUR int store_db_commit(struct store_conn *c);

/** Rolls back an open transaction (none open: a no-op). */
void store_db_rollback(struct store_conn *c);

/** Upserts one queued profile (inside the caller's transaction). */
LR_WUR int store_db_profile_put(struct store_conn *c,
                                const struct store_prof_rec *r);

/** Inserts one sealed history batch (inside the caller's transaction). */
LR_WUR int store_db_batch_put(struct store_conn *c,
                              const struct store_hist_sealed *b);

/**
 * Up to @p max newest logins of one account in a malloc'd array, newest
 * first. Reads the batches whose Bloom filter may hold the account, newest
 * batch first, until no older batch can hold a newer row, and at most
 * 1,000,000 batches (then the oldest logins are not seen). A damaged batch
 * is logged and skipped.
 */
LR_WUR int store_db_history_recent(struct store_conn *c, const char *account_id,
                                   size_t max, struct store_login **rows_out,
                                   size_t *n_out);

/** Distinct matching accounts in order, to @p fn. */
LR_WUR int store_db_history_query(struct store_conn *c,
                                  const struct store_query *q,
                                  void (*fn)(const char *, void *), void *arg);

/**
 * Deletes the history batches whose newest row is before @p before_ms (in
 * short transactions) and locks expired at @p now_ms. *@p deleted_out gets
 * the history rows deleted.
 */
LR_WUR int store_db_purge(struct store_conn *c, int64_t before_ms,
                          int64_t now_ms, uint64_t *deleted_out);

/** What one step of the size cap found and did. */
struct store_db_trim {
    bool over;      /* the pages in use held more than the cap */
    uint64_t rows;  /* history rows deleted */
    size_t batches; /* history batches deleted; 0 while over: none left */
};

/**
 * One step of the size cap, in one short transaction: when the pages in use
 * hold more than @p cap_bytes, deletes the oldest history batches (16 at
 * most). The caller loops, and may let a lock call in between steps.
 */
LR_WUR int store_db_history_trim(struct store_conn *c, uint64_t cap_bytes,
                                 struct store_db_trim *out);

/** A passive WAL checkpoint (best effort, errors logged). */
void store_db_checkpoint(struct store_conn *c);

/**
 * The smallest real write: the schema version written back unchanged in
 * its own transaction (one page through the WAL). For store_probe().
 */
LR_WUR int store_db_probe(struct store_conn *c);

/* ---- the lock mirror (store_locks.c) ---------------------------------- */

struct store_lockmap;
struct store_lock_batch;

/** The facts shared by every lock of one call. */
struct store_lock_origin {
    int64_t created_ms;
    const char *source;
    const char *reason;
    const char *ticket;
};

/** An empty mirror. */
LR_WUR int store_lockmap_new(struct store_lockmap **out);

/** Frees the mirror and every entry; NULL is a no-op. */
void store_lockmap_free(struct store_lockmap *m);

/** Adds one loaded row (open time only, single-threaded). */
LR_WUR int store_lockmap_load(struct store_lockmap *m,
                              const struct store_db_lock_row *row);

/** Ends loading: drops the load-time index of origins. */
void store_lockmap_load_done(struct store_lockmap *m);

/** The active lock on @p id at @p now_ms (takes the read lock). */
LR_WUR int store_lockmap_get(struct store_lockmap *m, const char *id,
                             int64_t now_ms, struct store_lock *out);

/** Entries held, expired ones included until purged. */
size_t store_lockmap_size(struct store_lockmap *m);

/** True when an entry has expired by @p now_ms and is not purged yet. */
bool store_lockmap_purge_due(struct store_lockmap *m, int64_t now_ms);

/*
 * Writers: the caller serializes every call below (store.c holds the main
 * connection's mutex), which is what lets the classifiers read without the
 * read lock.
 */

/** Removes entries expired by @p now_ms (takes the write lock). */
void store_lockmap_purge(struct store_lockmap *m, int64_t now_ms);

/** True when locking @p id this way would change its state. */
bool store_lockmap_lock_changes(const struct store_lockmap *m, const char *id,
                                int64_t now_ms, int64_t expires_ms,
                                enum store_lock_scope scope);

/** True when @p id has an active lock at @p now_ms. */
bool store_lockmap_unlock_changes(const struct store_lockmap *m, const char *id,
                                  int64_t now_ms);

/**
 * Allocates the entries for @p ids and reserves room for them, so that
 * store_lockmap_commit() cannot fail after the database has committed.
 */
LR_WUR int store_lockmap_prepare(struct store_lockmap *m,
                                 const char *const *ids, size_t n,
                                 int64_t expires_ms,
                                 enum store_lock_scope scope,
                                 const struct store_lock_origin *o,
                                 struct store_lock_batch **out);

/** Inserts (replacing) the prepared entries and frees @p b. */
void store_lockmap_commit(struct store_lockmap *m, struct store_lock_batch *b);

/** Frees prepared entries that were not committed; NULL is a no-op. */
void store_lockmap_batch_free(struct store_lock_batch *b);

/** Removes the entries of @p ids (takes the write lock). */
void store_lockmap_remove(struct store_lockmap *m, const char *const *ids,
                          size_t n);

/** Bytes held by the mirror (table, entries, origins) for metrics. */
size_t store_lockmap_bytes(struct store_lockmap *m);

/* ---- the writer queue (store_queue.c) --------------------------------- */

struct store_queue;

/**
 * Commits @p n records in order (@p n may be 0: a wake-up, when rows held
 * back may be due). May hold records back (copied) for a later call; with
 * @p flush writes everything, held back or not. On an error *@p lost gets
 * how many records were lost (counted as dropped).
 */
typedef int (*store_queue_commit_fn)(void *ctx, struct store_rec *const *recs,
                                     size_t n, bool flush, uint64_t *lost);
/** Called from the writer thread about every 50 ms, for maintenance. */
typedef void (*store_queue_tick_fn)(void *ctx);

/**
 * Starts the writer thread: it commits when @p trigger records wait (or the
 * linger time passed), taking up to @p txn_max (>= @p trigger) at a time.
 */
LR_WUR int store_queue_start(size_t cap, size_t trigger, size_t txn_max,
                             store_queue_commit_fn commit,
                             store_queue_tick_fn tick, void *ctx,
                             struct store_queue **out);

/**
 * Hands @p r (malloc'd) to the queue, which frees it in every case.
 * LR_FULL when the queue is full, LR_SHUTDOWN after stop.
 */
LR_WUR int store_queue_push(struct store_queue *q, struct store_rec *r);

/** Waits for everything pushed before; LR_STORE if a batch failed. */
LR_WUR int store_queue_flush(struct store_queue *q);

/** Commits what is queued, joins the thread, frees; NULL is a no-op. */
void store_queue_stop(struct store_queue *q);

/** Records dropped (queue full or failed batch). */
uint64_t store_queue_dropped(struct store_queue *q);

/** Records waiting now. */
size_t store_queue_len(struct store_queue *q);

#endif

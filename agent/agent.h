/*
 * agent.h - internals of the loginrisk-agent daemon, shared by its files.
 *
 * The daemon is layered so that only two files see gRPC types:
 *
 *   agent_grpc.c      servers, completion queues, worker threads, listeners
 *   agent_call.c      one call: its request bytes, arena, reply and status
 *
 * Everything above them speaks in this header's terms: a method table of
 * handlers (agent_risk.c, agent_health.c, agent_admin.c), each handler gets an
 * agent_call with the request bytes and finishes it exactly once, from any
 * thread, with a reply message or a status. agent_validate.c holds the pure
 * request checks (unit-tested), agent_state.c the config + geo + engine
 * snapshot that SIGHUP swaps, agent_main.c the command line and signals.
 *
 * There is no public header: nothing links against the daemon except its
 * own unit tests (through the agent_core library).
 */
#ifndef LR_AGENT_H
#define LR_AGENT_H

#include "config/config.h"
#include "geo/geo.h"
#include "lr/lr.h"
#include "risk/risk.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "loginrisk/v1/risk.pb-c.h"

/* ---- status codes ------------------------------------------------------ */

/* The gRPC status codes the agent answers with (values are gRPC's). */
enum agent_status {
    AGENT_ST_OK = 0,
    AGENT_ST_CANCELLED = 1,
    AGENT_ST_UNKNOWN = 2,
    AGENT_ST_INVALID_ARGUMENT = 3,
    AGENT_ST_DEADLINE_EXCEEDED = 4,
    AGENT_ST_NOT_FOUND = 5,
    AGENT_ST_PERMISSION_DENIED = 7,
    AGENT_ST_RESOURCE_EXHAUSTED = 8,
    AGENT_ST_FAILED_PRECONDITION = 9,
    AGENT_ST_UNIMPLEMENTED = 12,
    AGENT_ST_INTERNAL = 13,
    AGENT_ST_UNAVAILABLE = 14,
    AGENT_ST_UNAUTHENTICATED = 16,
};

/** Longest status message sent to a client (longer ones are cut). */
#define AGENT_STATUS_MSG_MAX 512

/* ---- per-call arena (agent_arena.c) ------------------------------------ */

#define AGENT_ARENA_INLINE 4096

struct agent_arena_chunk;

/**
 * A bump allocator for one call's allocations (the request copy, the
 * unpacked protobuf message, handler state). Nothing is freed one by one;
 * agent_arena_reset() releases everything at the end of the call. The total
 * handed out is capped, so a hostile message cannot grow it without bound.
 */
struct agent_arena {
    size_t used;  /* bytes used in inline_buf */
    size_t total; /* bytes handed out in all */
    size_t limit; /* cap on total */
    bool wipe;    /* wipe everything at reset (a secret passed through) */
    struct agent_arena_chunk *chunks;
    _Alignas(16) unsigned char inline_buf[AGENT_ARENA_INLINE];
};

/** Prepares @p a with a cap of @p limit bytes in all. */
void agent_arena_init(struct agent_arena *a, size_t limit);

/**
 * @p n bytes aligned to 16, valid until the next reset; NULL when the cap
 * would be passed or memory is short. Never zeroed.
 */
void *agent_arena_alloc(struct agent_arena *a, size_t n);

/** Frees the extra chunks and starts over (wiping first if a->wipe). */
void agent_arena_reset(struct agent_arena *a);

/** A protobuf-c allocator drawing from @p a (its free is a no-op). */
void agent_arena_pb_allocator(struct agent_arena *a, ProtobufCAllocator *out);

/* ---- calls (agent_call.c) ---------------------------------------------- */

struct agent_call;

/**
 * A method handler. It runs on a worker thread with the request bytes
 * available through agent_call_request(); it must finish the call exactly
 * once with agent_call_reply() or agent_call_fail(), either before it
 * returns or later from any thread. @p ctx is the server's context pointer.
 */
typedef void (*agent_handler_fn)(struct agent_call *call, void *ctx);

/** One row of a method table. */
struct agent_method {
    const char *path;         /* "/loginrisk.v1.RiskService/Evaluate" */
    unsigned service;         /* one CFG_SVC_* bit */
    agent_handler_fn handler; /* NULL answers UNIMPLEMENTED */
    unsigned posted;          /* requests kept posted per queue, 1..8 */
    bool secret;              /* request may hold a secret: wipe copies */
    bool bulk; /* AdminService: admin_max_message_bytes, not max_... */
};

/** The request message bytes (borrowed, valid for the call's life). */
void agent_call_request(struct agent_call *call, const uint8_t **data,
                        size_t *len);

/**
 * Wipes the request bytes the call still holds (its contiguous copy). The
 * arena is wiped again when the call ends.
 */
void agent_call_wipe_request(struct agent_call *call);

/** CFG_SVC_* bits served by the listener(s) the call came in on. */
unsigned agent_call_services(const struct agent_call *call);

/**
 * The client's address as gRPC names it ("ipv4:192.0.2.1:5555",
 * "unix:/path", ...) into @p buf, always NUL-terminated ("" if unknown).
 */
void agent_call_peer(const struct agent_call *call, char *buf, size_t cap);

/** True when the client's deadline has passed. Any thread. */
bool agent_call_expired(const struct agent_call *call);

/** Memory that lives until the call ends; NULL past the call's cap. */
void *agent_call_alloc(struct agent_call *call, size_t n);

/** A protobuf-c allocator on the call's arena (for __unpack). */
ProtobufCAllocator *agent_call_pb_allocator(struct agent_call *call);

/**
 * Value of request metadata @p key (lower case) into @p buf (NUL-terminated,
 * at most @p cap - 1 bytes). LR_NOTFOUND when absent, LR_FULL when it does
 * not fit (nothing written).
 */
LR_WUR int agent_call_metadata(const struct agent_call *call, const char *key,
                               char *buf, size_t cap);

/**
 * Answers OK with @p msg (packed here; the caller keeps @p msg). If the
 * packed size exceeds the send limit the call fails with INTERNAL instead.
 */
void agent_call_reply(struct agent_call *call, const ProtobufCMessage *msg);

/**
 * The status for a project error code: NOMEM/FULL/BUSY => RESOURCE_EXHAUSTED,
 * NOTFOUND => NOT_FOUND, INVALID => INVALID_ARGUMENT, DENIED =>
 * PERMISSION_DENIED, UNAUTH => UNAUTHENTICATED, TIMEOUT => DEADLINE_EXCEEDED,
 * SHUTDOWN => UNAVAILABLE, anything else => INTERNAL.
 */
enum agent_status agent_status_from_err(int err);

/** Answers @p status with a printf-style message (cut at the cap). */
void agent_call_fail(struct agent_call *call, enum agent_status status,
                     const char *fmt, ...) LR_PRINTF(3, 4);

/* ---- servers, queues, workers (agent_grpc.c) --------------------------- */

#define AGENT_LISTENERS_MAX 16
#define AGENT_WORKERS_MAX 64
#define AGENT_METHODS_MAX 16

struct agent_server;

struct agent_server_opts {
    const struct cfg_listener *listeners;
    size_t n_listeners;
    uint32_t workers;           /* 0 = number of CPUs */
    uint32_t max_message_bytes; /* request limit of the methods */
    /* request limit of the bulk methods (0 = max_message_bytes); a server
     * that serves any of them receives up to the larger of the two */
    uint32_t admin_max_message_bytes;
    uint32_t max_inflight; /* per worker; 0 = no limit */
    const struct agent_method *methods;
    size_t n_methods;
    void *ctx; /* handed to every handler */
    /*
     * Called on the worker thread as each call closes, with the method's
     * path (NULL for an unknown method), the status sent and the time from
     * arrival to close. NULL = none. For metrics; must not block.
     */
    void (*observe)(void *ctx, const char *path, int status,
                    int64_t duration_ns);
};

/**
 * Calls grpc_init(), builds one gRPC server per distinct service set of the
 * listeners (all sharing one completion queue per worker), binds every
 * listener (TLS where configured), starts the servers and the workers, and
 * logs one "listening on ADDR (...)" line per listener.
 * LR_IO when an address cannot be bound (in use, bad address), LR_CONFIG
 * for unreadable TLS files, LR_NOMEM; @p err says which listener.
 * On failure everything is torn down again (grpc_shutdown included).
 */
LR_WUR int agent_server_start(const struct agent_server_opts *opts,
                              struct agent_server **out, char *err,
                              size_t errcap);

/** Changes the per-worker in-flight cap (reload). 0 = no limit. */
void agent_server_set_max_inflight(struct agent_server *srv, uint32_t cap);

/** Number of worker threads (and completion queues). */
size_t agent_server_workers(const struct agent_server *srv);

/**
 * Stops accepting, lets calls in flight finish for up to @p timeout_ms,
 * cancels the rest and waits for them, then stops the workers and calls
 * grpc_shutdown(). Frees @p srv. Returns how many calls had to be
 * cancelled (0 = clean drain). NULL is a no-op.
 */
size_t agent_server_stop(struct agent_server *srv, uint32_t timeout_ms);

/* ---- request validation (agent_validate.c) ---------------------------- */

#define AGENT_ID_MAX 256          /* account_id, device_id */
#define AGENT_USER_AGENT_MAX 1024 /* user_agent */
#define AGENT_PASSWORD_MAX 1024   /* attempted_password */
#define AGENT_REQUEST_ID_MAX 64   /* request_id */

/** The time window a client timestamp must fall in. */
struct agent_time_limits {
    int64_t now_ms;
    uint64_t past_s;   /* timestamp_past_s */
    uint64_t future_s; /* timestamp_future_s */
};

/** What validation resolves from a LoginAttempt. */
struct agent_attempt_check {
    struct geo_ip ip;     /* parsed, IPv4-mapped folded */
    int64_t timestamp_ms; /* resolved: 0 became now */
};

/**
 * Checks every field of @p m in field order. On the first problem returns
 * LR_INVALID and writes "field: what is wrong" into @p msg; on success fills
 * @p out. Pure: no clock, no I/O.
 */
LR_WUR int agent_validate_attempt(const Loginrisk__V1__LoginAttempt *m,
                                  const struct agent_time_limits *lim,
                                  struct agent_attempt_check *out, char *msg,
                                  size_t cap);

/**
 * Checks an Outcome: request_id and account_id required, kind known and not
 * OUTCOME_UNSPECIFIED, timestamp_ms in the window. Resolves the timestamp
 * into *@p ts_out. Same error contract as agent_validate_attempt().
 */
LR_WUR int agent_validate_outcome(const Loginrisk__V1__Outcome *m,
                                  const struct agent_time_limits *lim,
                                  int64_t *ts_out, char *msg, size_t cap);

/**
 * Walks the top-level fields of the encoded message @p data of type @p desc
 * and refuses any string field whose bytes contain NUL (protobuf-c would
 * silently cut the string there): LR_INVALID with "field: contains a NUL
 * byte". LR_INVALID "request: ..." when the wire format is broken.
 */
LR_WUR int agent_validate_wire_strings(const ProtobufCMessageDescriptor *desc,
                                       const uint8_t *data, size_t len,
                                       char *msg, size_t cap);

/**
 * Formats a duration in seconds in the unit of @p limit_s ("9 days",
 * "12 minutes", "1 hour"); used by the timestamp messages.
 */
void agent_format_duration(uint64_t value_s, uint64_t limit_s, char *buf,
                           size_t cap);

/* ---- the running state (agent_state.c) -------------------------------- */

/** Command-line values that override the file. NULL / 0 = not given. */
struct agent_opts {
    const char *config_path; /* NULL = the embedded default */
    const char *listen[AGENT_LISTENERS_MAX];
    size_t n_listen;
    const char *state_dir;
    const char *geo_city;
    const char *geo_asn;
    const char *geo_anonymous;
    const char *decision_log;   /* --decision-log: logging.decision_log */
    const char *metrics_listen; /* --metrics-listen: metrics.listen */
};

/**
 * A config and the geo databases opened from it; immutable once published.
 * Handlers hold a reference while they read it, so a reload never frees it
 * under them.
 */
/** What identifies a file's contents cheaply: a rename or rewrite moves it. */
struct agent_file_sig {
    bool exists;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
};

/** The geo database slots, in geo_paths order. */
enum {
    AGENT_GEO_CITY = 0,
    AGENT_GEO_ASN,
    AGENT_GEO_ANONYMOUS,
    AGENT_GEO_SLOTS
};

/** Reads @p path's signature (exists = false when it cannot be stat'ed). */
void agent_file_sig_read(const char *path, struct agent_file_sig *out);

/** True when @p a and @p b describe the same file contents. */
bool agent_file_sig_eq(const struct agent_file_sig *a,
                       const struct agent_file_sig *b);

struct agent_cfg_ref; /* a config shared by snapshots (agent_state.c) */

struct agent_snapshot {
    struct cfg *cfg;
    struct geo_db *geo;
    atomic_uint refs;
    struct agent_cfg_ref *cfg_ref; /* owns cfg; shared by a geo reload */
    /* the geo files as they were just before they were opened */
    struct agent_file_sig geo_sig[AGENT_GEO_SLOTS];
};

struct agent_declog;
struct agent_metrics;
struct agent_metrics_server;
struct agent_geowatch;

/** What the metrics pull callback reads from (see agent_metrics_pull_state).
 */
struct agent_metrics_sources {
    struct agent_state *st;      /* engine, store, spray counters, snapshot */
    struct agent_declog *declog; /* NULL when the decision log is off */
};

struct agent_state {
    const struct agent_opts *opts; /* borrowed: lives as long as main */
    struct agent_snapshot *cur;    /* guarded by mu */
    struct cfg *boot_cfg;          /* as started (restart-only settings) */
    pthread_mutex_t mu;
    pthread_mutex_t reload_mu; /* one reload at a time */
    struct store *store;
    struct risk_engine *engine;
    struct risk_spray_pool *spray; /* NULL when spray was off at start */
    struct agent_jobs *jobs;       /* blocking work (agent_jobs.h) */
    struct agent_auth *auth;       /* admin tokens (agent_auth.h) */
    struct agent_server *server;   /* while serving; under reload_mu */
    atomic_bool draining;
    atomic_uint_fast64_t spray_skipped; /* pool full: no fingerprint */
    atomic_uint_fast64_t spray_failed;  /* pool error: no fingerprint */
    atomic_uint_fast64_t request_seq;   /* for generated request ids */
    uint64_t request_prefix;            /* random, per process */
    /* operations (agent_main.c sets them up; NULL = off) */
    struct agent_declog *declog;              /* decision log */
    struct agent_metrics *metrics;            /* counters */
    struct agent_metrics_server *metrics_srv; /* GET /metrics */
    struct agent_metrics_sources metrics_src; /* its pull argument */
    struct agent_geowatch *geowatch;          /* geo files and store probe */
};

/**
 * Loads the config named by @p opts (or the embedded default), applies the
 * overrides and validates the result. LR_CONFIG / LR_IO / LR_NOMEM with
 * every problem in @p errs ("file:line: what is wrong").
 */
LR_WUR int agent_config_load(const struct agent_opts *opts, struct cfg **out,
                             struct cfg_errors *errs);

/**
 * Everything --check-config does: load, override, validate, open the geo
 * databases and compile the policy (no store, no listeners).
 */
LR_WUR int agent_config_check(const struct agent_opts *opts,
                              struct cfg_errors *errs);

/**
 * Loads the config, opens geo, store, engine and spray pool into a new
 * state. Errors are appended to @p errs (one line each).
 */
LR_WUR int agent_state_open(const struct agent_opts *opts,
                            struct agent_state **out, struct cfg_errors *errs);

/** Closes the engine, the spray pool and the store (flushing it). */
void agent_state_free(struct agent_state *st);

/** The current snapshot with a reference; give it back with _put. */
struct agent_snapshot *agent_state_get(struct agent_state *st);

/** Drops a reference taken by agent_state_get(). */
void agent_snapshot_put(struct agent_snapshot *snap);

/**
 * Re-reads the config (same file, same overrides), reopens the geo databases
 * and swaps the policy in. On any error the old config, geo and policy stay
 * and LR_CONFIG (or LR_IO, LR_CORRUPT) is returned with @p errs filled.
 * Settings that need a restart (listeners, workers, state dir, ...) are
 * logged as such. With @p dry_run only validates.
 */
LR_WUR int agent_state_reload(struct agent_state *st, bool dry_run,
                              struct cfg_errors *errs);

/**
 * Reopens the geo databases of the running config (their files changed on
 * disk) and swaps them in under the same config, the way a reload does. On
 * failure the old databases stay, LR_CORRUPT/LR_IO/LR_CONFIG is returned
 * with @p errs filled, and loginrisk_geo_reload_failures_total counts it.
 */
LR_WUR int agent_state_reload_geo(struct agent_state *st,
                                  struct cfg_errors *errs);

/**
 * Logs a warning for each open geo database built more than
 * geo.max_age_days ago (0 = never warn). @p why says when ("at start").
 * Returns the age in seconds of the oldest database (0 = none open).
 */
int64_t agent_geo_age_check(struct agent_snapshot *snap, int64_t now_s,
                            const char *why);

/* ---- housekeeping thread (agent_watch.c) ------------------------------- */

/** How often the geo files are looked at (ms). */
#define AGENT_WATCH_INTERVAL_MS 1000
/** How often the store is probed with a write while it is writable. */
#define AGENT_STORE_PROBE_MS 5000

/**
 * Starts the thread that, every @p interval_ms, looks at the geo files of
 * the running config (device, inode, size, mtime: a geoipupdate rename or a
 * rewrite both show) and, once a change has held still for one more look,
 * reloads them with agent_state_reload_geo(); a set that failed is not
 * retried until the files change again. It also probes the store with a
 * write (store_probe()) every AGENT_STORE_PROBE_MS, and every look while the
 * store is unwritable, so health follows the disk; and repeats the geo age
 * warning once a day. LR_NOMEM, LR_INTERNAL.
 */
LR_WUR int agent_watch_start(struct agent_state *st, uint32_t interval_ms,
                             struct agent_geowatch **out);

/** Stops and joins the thread. NULL is a no-op. */
void agent_watch_stop(struct agent_geowatch *w);

/**
 * True when the agent should answer health checks SERVING: not draining,
 * and the store is writable (store_writable()).
 */
bool agent_serving(struct agent_state *st);

/** Writes a fresh 32-hex-digit request id into @p buf (>= 33 bytes). */
void agent_request_id_new(struct agent_state *st, char *buf, size_t cap);

/* ---- method tables ----------------------------------------------------- */

/** RiskService: Evaluate and ReportOutcome (agent_risk.c). */
size_t agent_risk_methods(const struct agent_method **out);
/** grpc.health.v1.Health/Check (agent_health.c). */
size_t agent_health_methods(const struct agent_method **out);
/** AdminService: locks, queries, accounts, reload (agent_admin.c). */
size_t agent_admin_methods(const struct agent_method **out);

/** A Decision message with room for all its parts, for the stack. */
struct agent_decision_pb {
    Loginrisk__V1__Decision msg;
    Loginrisk__V1__GeoInfo geo;
    Loginrisk__V1__Reason reasons[RISK_REASONS_MAX];
    Loginrisk__V1__Reason *ptrs[RISK_REASONS_MAX];
    char rule_ids[RISK_REASONS_MAX][24];
};

/** Fills @p pb from @p d (strings borrowed from @p d). */
void agent_decision_to_pb(struct risk_decision *d,
                          struct agent_decision_pb *pb);

/* ---- SHA-256 and HMAC-SHA256 (agent_hmac.c) ---------------------------- */

#define AGENT_SHA256_LEN 32

/** An incremental SHA-256 (FIPS 180-4); caller-allocated. */
struct agent_sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed */
    size_t n;       /* bytes waiting in buf */
    uint8_t buf[64];
};

/** Starts a hash in @p c. */
void agent_sha256_init(struct agent_sha256 *c);
/** Hashes @p len more bytes of @p data. */
void agent_sha256_update(struct agent_sha256 *c, const void *data, size_t len);
/** Writes the digest and wipes @p c (init it again to reuse it). */
void agent_sha256_final(struct agent_sha256 *c, uint8_t out[AGENT_SHA256_LEN]);

/** A key absorbed once, so each MAC costs only the message (RFC 2104). */
struct agent_hmac {
    struct agent_sha256 inner; /* after the K0 ^ ipad block */
    struct agent_sha256 outer; /* after the K0 ^ opad block */
};

/** Absorbs @p key (any length). Wipe @p h with lr_wipe() when done. */
void agent_hmac_init(struct agent_hmac *h, const uint8_t *key, size_t key_len);

/** HMAC-SHA256 of @p msg under the key in @p h (@p h is not changed). */
void agent_hmac_mac(const struct agent_hmac *h, const void *msg, size_t len,
                    uint8_t out[AGENT_SHA256_LEN]);

/** One-shot HMAC-SHA256 (RFC 4231 vectors in the unit test). */
void agent_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg,
                       size_t len, uint8_t out[AGENT_SHA256_LEN]);

/* ---- account pseudonyms (agent_pseudonym.c) --------------------------- */

#define AGENT_PSEUDONYM_KEY_MIN 16
#define AGENT_PSEUDONYM_KEY_MAX 1024
#define AGENT_PSEUDONYM_KEY_NEW 32 /* bytes in a key the agent creates */
#define AGENT_PSEUDONYM_MAX 35     /* "p:" + 32 hex digits + NUL */

/**
 * Reads the pseudonym key from @p key_file into @p key (@p cap >=
 * AGENT_PSEUDONYM_KEY_MAX). With @p key_file NULL the key is
 * <@p state_dir>/pseudonym.key, created (32 random bytes, mode 0600) when it
 * does not exist; a configured file is never created, since agents that
 * share one must agree on it. The file must be a regular file that other
 * users cannot read or write, of 16..1024 bytes. LR_NOTFOUND, LR_DENIED,
 * LR_CORRUPT (wrong size or type), LR_IO, LR_INVALID, with a message naming
 * the file in @p err. @p key and *@p len_out are written only on success.
 */
LR_WUR int agent_pseudonym_key_load(const char *key_file, const char *state_dir,
                                    uint8_t *key, size_t cap, size_t *len_out,
                                    char *err, size_t errcap);

/**
 * The pseudonym of @p account_id: "p:" and the first 16 bytes of
 * HMAC-SHA256(key, account_id) in lower-case hex. Stable for one key, so
 * one account's lines still group together in the log and in replay.
 */
void agent_pseudonym(const struct agent_hmac *key, const char *account_id,
                     char out[AGENT_PSEUDONYM_MAX]);

/* ---- decision log (agent_declog.c) ------------------------------------ */

#define AGENT_DECLOG_QUEUE_DEFAULT 8192 /* lines waiting before dropping */
#define AGENT_DECLOG_QUEUE_MAX 1048576

struct agent_declog;

struct agent_declog_opts {
    const char *path;   /* the JSON-lines file (copied) */
    bool pseudonymize;  /* account ids as agent_pseudonym() */
    const uint8_t *key; /* pseudonym key (absorbed, not kept) */
    size_t key_len;     /* >= AGENT_PSEUDONYM_KEY_MIN with pseudonymize */
    uint32_t queue_cap; /* 0 = AGENT_DECLOG_QUEUE_DEFAULT */
};

/**
 * Opens (O_APPEND, creating mode 0640) the log and starts its writer
 * thread. A file that cannot be opened now is not an error: the failure is
 * logged and counted, lines are counted as lost and the writer retries (at
 * most once a second, and at every agent_declog_reopen()). LR_INVALID for
 * bad options (with a message in @p err), LR_NOMEM, LR_INTERNAL when the
 * thread cannot start. Close with agent_declog_close().
 */
LR_WUR int agent_declog_open(const struct agent_declog_opts *o,
                             struct agent_declog **out, char *err,
                             size_t errcap);

/**
 * The same from a config: the path is @p path_override (--decision-log) or
 * cfg->logging.decision_log; account pseudonyms and their key follow
 * cfg->logging (the default key lives in cfg->state_dir). With no path the
 * log is off: LR_OK and *@p out = NULL. Key errors as
 * agent_pseudonym_key_load().
 */
LR_WUR int agent_declog_open_cfg(const struct cfg *cfg,
                                 const char *path_override,
                                 struct agent_declog **out, char *err,
                                 size_t errcap);

/**
 * Formats the decision as one line (risk_decision_to_json(), the account
 * pseudonymized when configured) and queues it for the writer thread. Never
 * blocks on I/O and never fails the caller: a full queue drops the line
 * (counted), a formatting failure is counted as an error. Any thread; a
 * NULL @p dl is a no-op.
 */
void agent_declog_write(struct agent_declog *dl, const struct risk_attempt *a,
                        const struct risk_decision *d);

/**
 * Asks the writer to close and reopen the file (SIGHUP, after logrotate
 * moved it; a removed file is created again). Returns at once; NULL is a
 * no-op.
 */
void agent_declog_reopen(struct agent_declog *dl);

/**
 * Waits until every line queued and every reopen asked for before this
 * call has been handled (written or counted as lost). LR_TIMEOUT after
 * @p timeout_ms.
 */
LR_WUR int agent_declog_flush(struct agent_declog *dl, uint32_t timeout_ms);

/** Writes what is queued, stops the writer, closes. NULL is a no-op. */
void agent_declog_close(struct agent_declog *dl);

/** Counters since open; every field read atomically. */
struct agent_declog_stats {
    uint64_t written; /* lines written whole */
    uint64_t dropped; /* lines refused because the queue was full */
    uint64_t errors;  /* lines lost to open/write/format failures */
    uint64_t reopens; /* reopen requests handled */
    size_t queued;    /* lines waiting now */
};

/** Fills @p out; a NULL @p dl gives zeros. */
void agent_declog_stats(struct agent_declog *dl,
                        struct agent_declog_stats *out);

/* ---- metrics (agent_metrics.c, agent_metrics_http.c) ------------------ */

/*
 * Counters live in lock-free atomics: the agent's threads bump them, the
 * metrics HTTP thread reads them when Prometheus scrapes. Values the other
 * modules already count (engine tables, store queue, decision log) are not
 * copied: a pull callback reads them at scrape time.
 */

/** The RPC methods metrics know by name; anything else is "other". */
enum agent_rpc_method {
    AGENT_RPC_EVALUATE = 0,
    AGENT_RPC_REPORT_OUTCOME,
    AGENT_RPC_HEALTH_CHECK,
    AGENT_RPC_LOCK_ACCOUNTS,
    AGENT_RPC_UNLOCK_ACCOUNTS,
    AGENT_RPC_LOCK_BY_QUERY,
    AGENT_RPC_GET_ACCOUNT,
    AGENT_RPC_LIST_LOCKS,
    AGENT_RPC_RELOAD_CONFIG,
    AGENT_RPC_LIST_AUDIT,
    AGENT_RPC_OTHER,
    AGENT_RPC_COUNT
};

/** State-changing admin actions, for loginrisk_admin_actions_total. */
enum agent_admin_kind {
    AGENT_ADMIN_LOCK = 0,
    AGENT_ADMIN_UNLOCK,
    AGENT_ADMIN_LOCK_BY_QUERY,
    AGENT_ADMIN_RELOAD,
    AGENT_ADMIN_KIND_COUNT
};

/** Distinct RULE:<name> reason codes counted by name; the rest as one. */
#define AGENT_METRICS_RULES_MAX 64
/** Largest /metrics page; a bigger one is cut and flagged. */
#define AGENT_METRICS_TEXT_MAX (1024 * 1024)

/** What the metrics read from elsewhere at scrape time. */
struct agent_metrics_pull {
    bool has_engine;
    struct risk_stats engine; /* table sizes, evictions, caches */
    uint64_t spray_skipped;   /* fingerprints skipped: pool full */
    uint64_t spray_failed;    /* fingerprints that failed */
    bool has_store;
    size_t store_queue_depth;
    uint64_t store_dropped_writes;
    uint64_t store_trimmed_batches; /* history batches the size cap deleted */
    bool has_declog;
    struct agent_declog_stats declog;
    int64_t geo_build_epoch_s; /* oldest open database; 0 = none */
    uint32_t geo_max_age_days; /* geo.max_age_days; 0 = no limit */
    bool store_writable;       /* store_writable() */
    bool draining;             /* SIGTERM received */
    char policy_version[RISK_VERSION_MAX];
    struct store_commit_stats store_commits; /* when has_store */
};

/**
 * Fills @p out (zeroed by the caller). Runs on the metrics HTTP thread while
 * the agent serves, so it must only read what is safe to read concurrently.
 */
typedef void (*agent_metrics_pull_fn)(void *arg,
                                      struct agent_metrics_pull *out);

/**
 * The agent's pull callback (agent_metrics_state.c): @p arg is a struct
 * agent_metrics_sources. Reads the engine's stats, the store's queue, the
 * spray counters, the decision log's counters, the draining flag and, from
 * the current snapshot, the policy version and the geo build time.
 */
void agent_metrics_pull_state(void *arg, struct agent_metrics_pull *out);

struct agent_metrics;

/**
 * A metrics registry. @p version is the build's version (copied) for
 * loginrisk_info; @p pull (may be NULL) is called with @p pull_arg at every
 * render. LR_NOMEM. Free with agent_metrics_free().
 */
LR_WUR int agent_metrics_new(const char *version, agent_metrics_pull_fn pull,
                             void *pull_arg, struct agent_metrics **out);

/** Frees @p m; stop its server first. NULL is a no-op. */
void agent_metrics_free(struct agent_metrics *m);

/** The method of a gRPC path ("/loginrisk.v1.RiskService/Evaluate"). */
enum agent_rpc_method agent_metrics_method(const char *path);

/**
 * Counts one finished RPC: its gRPC status code (0..16; others count as
 * UNKNOWN) and its duration from arrival to the status being sent. Any
 * thread; a NULL @p m is a no-op (as for every counter below).
 */
void agent_metrics_rpc(struct agent_metrics *m, enum agent_rpc_method method,
                       int status, int64_t duration_ns);

/** Counts one decision: its action and each of its reasons by code. */
void agent_metrics_decision(struct agent_metrics *m,
                            const struct risk_decision *d);

/** Counts an admin action that was carried out (not a dry run). */
void agent_metrics_admin(struct agent_metrics *m, enum agent_admin_kind kind,
                         uint64_t accounts_changed);

/** Counts a config reload (SIGHUP or ReloadConfig) and its result. */
void agent_metrics_config_reload(struct agent_metrics *m, bool ok);

/** Counts a geo database reload that failed (the old one was kept). */
void agent_metrics_geo_reload_failed(struct agent_metrics *m);

/**
 * The Prometheus text exposition (format 0.0.4) of every metric, in a new
 * buffer *@p out of *@p len_out bytes (free() it). Calls the pull callback.
 * LR_NOMEM.
 */
LR_WUR int agent_metrics_render(struct agent_metrics *m, char **out,
                                size_t *len_out);

struct agent_metrics_server;

/**
 * Serves GET /metrics over HTTP on @p addr ("127.0.0.1:9464",
 * "[::1]:9464", "localhost:0" for a free port) from a libmicrohttpd thread.
 * LR_INVALID for a bad address, LR_IO when it cannot be bound (in use,
 * not local), LR_INTERNAL when libmicrohttpd refuses, with a message in
 * @p err. @p m is borrowed until agent_metrics_server_stop().
 */
LR_WUR int agent_metrics_serve(struct agent_metrics *m, const char *addr,
                               struct agent_metrics_server **out, char *err,
                               size_t errcap);

/** The TCP port the server listens on (the chosen one for port 0). */
uint16_t agent_metrics_server_port(const struct agent_metrics_server *s);

/** Stops serving and frees @p s. NULL is a no-op. */
void agent_metrics_server_stop(struct agent_metrics_server *s);

#endif

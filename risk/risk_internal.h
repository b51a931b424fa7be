/*
 * risk_internal.h - internal to risk/: the engine struct, the compiled
 * policy, and the per-evaluation context the signal files share.
 *
 * One evaluation runs as a pipeline over a struct risk_ctx that lives on the
 * caller's stack: keys and geo first, then the profile view and the velocity
 * counts, then each signal family fires reasons straight into the decision,
 * then the rules, then risk_decide() turns the points into one action.
 * Nothing in the pipeline allocates in steady state.
 *
 * Locking: each hot table has its own mutex and every critical section is a
 * few lookups long; the only disk access (a profile load on a cache miss) is
 * made with no lock held. The policy is immutable and reference counted: an
 * evaluation holds one reference from start to end, and a swap waits until
 * the old policy has no readers left before it is freed.
 */
#ifndef LR_RISK_INTERNAL_H
#define LR_RISK_INTERNAL_H

#include "risk/risk.h"
#include "risk/risk_velocity.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- index ------------------------------------------------------------ */

/* Open-addressing index from a keyed 64-bit hash to an element
 * (risk_index.c): the profile cache and the recent-decision table. */
struct risk_islot {
    uint64_t h;
    void *p; /* NULL = empty */
};

struct risk_index {
    struct risk_islot *slots;
    size_t mask;
    size_t n;
};

/** Sizes the index for @p cap elements (load <= 1/2). LR_NOMEM. */
LR_WUR int risk_index_init(struct risk_index *ix, size_t cap);
void risk_index_free(struct risk_index *ix);
/** How many elements fit. */
size_t risk_index_room(const struct risk_index *ix);
/** Starts loading the first slot of @p h (a hint; needs no lock). */
void risk_index_prefetch(const struct risk_index *ix, uint64_t h);
/** The element with hash @p h for which @p eq(elem, key) holds, or NULL. */
void *risk_index_find(const struct risk_index *ix, uint64_t h,
                      bool (*eq)(const void *elem, const void *key),
                      const void *key);
/** Adds @p p under @p h; LR_FULL beyond risk_index_room(). */
LR_WUR int risk_index_put(struct risk_index *ix, uint64_t h, void *p);
/** Removes element @p p, indexed under @p h (no-op if absent). */
void risk_index_del(struct risk_index *ix, uint64_t h, const void *p);
/** Rebuilds the index for at least @p cap elements. LR_NOMEM. */
LR_WUR int risk_index_grow(struct risk_index *ix, size_t cap);

/* ---- policy ------------------------------------------------------------ */

/*
 * How a reason's points may escalate the action (anti-DoS, R-DOS-1/2):
 * PLAIN points map through every threshold; VOLUME points (driven by
 * failed-password counts) lift an attempt to 2FA at most; ACCOUNT points
 * (account-keyed failure counts seen on a known device) to captcha at most.
 */
enum risk_class {
    RISK_CLASS_PLAIN = 0,
    RISK_CLASS_VOLUME = 1,
    RISK_CLASS_ACCOUNT = 2,
    RISK_CLASS_COUNT = 3,
};

struct risk_rule {
    const struct cfg_rule *cfg;
    struct geo_cidr *cidrs;
    size_t n_cidrs;
    uint64_t signals;   /* mask of enum lr_signal the rule matches on */
    bool volume;        /* lists a failure-driven signal (R-DOS-1) */
    bool account_keyed; /* lists an account-keyed failure signal */
    char code[RISK_CODE_MAX];
};

struct risk_policy {
    const struct cfg *cfg; /* borrowed until the policy is freed */
    const struct geo_db *geo;
    unsigned refs; /* readers; guarded by the engine's pol_mu */
    struct geo_cidr *allow_cidrs;
    size_t n_allow_cidrs;
    const char **allow_accounts; /* sorted, borrowed from cfg */
    size_t n_allow_accounts;
    uint8_t high_risk[(26 * 26 + 7) / 8]; /* bit per "AA".."ZZ" */
    uint32_t *hosting_asns;               /* sorted */
    size_t n_hosting_asns;
    uint32_t *anonymous_asns; /* sorted */
    size_t n_anonymous_asns;
    struct risk_rule *rules;
    size_t n_rules;
};

/** Compiles @p cfg; bad CIDRs or names go to @p errs (may be NULL). */
LR_WUR int risk_policy_compile(const struct cfg *cfg, const struct geo_db *geo,
                               struct risk_policy **out,
                               struct cfg_errors *errs);
void risk_policy_free(struct risk_policy *p);

bool risk_policy_high_risk(const struct risk_policy *p, const char *country);
bool risk_policy_hosting_asn(const struct risk_policy *p, uint32_t asn);
bool risk_policy_anonymous_asn(const struct risk_policy *p, uint32_t asn);
/** Which allowlist entry covers the attempt, as text; NULL when none. */
const char *risk_policy_allowed(const struct risk_policy *p,
                                const struct geo_ip *ip, const char *account,
                                char *buf, size_t cap);

/* ---- keys -------------------------------------------------------------- */

/*
 * The table keys of one attempt, computed once: each key's bytes (the
 * address with its family; 'N', family, prefix length and the prefix; an
 * account or device id, under a tweaked seed) are digested once under the
 * engine's seed, and every table is asked by digest. The first digest word of
 * the IP, subnet, account and device doubles as their member and mark hash.
 */
struct risk_keys {
    struct risk_vid ip;
    struct risk_vid net;   /* /24 for IPv4, /64 for IPv6 */
    struct risk_vid net48; /* IPv6 only */
    struct risk_vid acct;
    struct risk_vid dev;
    bool has_net48;
    bool has_dev;         /* a device_id was sent */
    struct geo_ip net_ip; /* the /24 or /64, for messages */
    unsigned net_bits;
    uint64_t ip_h; /* members and mark keys */
    uint64_t net_h;
    uint64_t acct_h;
    uint64_t dev_h; /* 0 without a device */
};

void risk_keys_make(uint64_t seed, const struct geo_ip *ip, const char *account,
                    const char *device, struct risk_keys *out);

/* ---- places and profiles ---------------------------------------------- */

/** The part of a geo answer the engine remembers. */
struct risk_place {
    char country[GEO_COUNTRY_MAX];
    char city[GEO_CITY_MAX];
    bool has_location;
    double lat;
    double lon;
    uint32_t radius_km;
    uint32_t asn;
};

void risk_place_from_geo(const struct geo_info *g, struct risk_place *out);

/** What one evaluation needs to know about its account, copied out. */
struct risk_pview {
    bool has_history; /* at least one successful login learned */
    bool device_known;
    bool country_seen;
    bool asn_seen;
    bool flagged_spray;
    size_t n_devices;
    size_t n_countries;
    size_t n_asns;
    int64_t last_success_ms;
    bool last_has_location;
    double last_lat;
    double last_lon;
    uint32_t last_radius_km;
    char last_country[GEO_COUNTRY_MAX];
    char last_city[GEO_CITY_MAX];
};

struct risk_profiles;

LR_WUR int risk_profiles_new(uint32_t cap, uint64_t seed,
                             struct risk_profiles **out);
void risk_profiles_free(struct risk_profiles *pc);
size_t risk_profiles_size(struct risk_profiles *pc);

/*
 * An account and device as the profile cache sees them: the ids and their
 * keyed hashes, made once per evaluation (risk_pkey_make) and used by the
 * lookup, the learning and the device search alike.
 */
struct risk_pkey {
    const char *account;
    uint64_t h;         /* of the account: the index key */
    const char *device; /* "" = none */
    uint64_t dev_h;     /* of the device; 0 without one */
};

void risk_pkey_make(const struct risk_profiles *pc, const char *account,
                    const char *device, struct risk_pkey *out);

/** Starts loading the index slot of @p k's account (a hint, no lock). */
void risk_profile_prefetch(struct risk_profiles *pc, const struct risk_pkey *k);

/**
 * Fills @p out for @p k's account as seen from its device and @p pl,
 * loading the profile from the store on a cache miss (no lock held while
 * reading).
 */
LR_WUR int risk_profile_view(struct risk_engine *e, const struct risk_policy *p,
                             const struct risk_pkey *k,
                             const struct risk_place *pl,
                             struct risk_pview *out);

/** Learns a successful login (R-LEARN-1): device, place, time; saves. */
LR_WUR int risk_profile_learn(struct risk_engine *e,
                              const struct risk_policy *p,
                              const struct risk_pkey *k,
                              const struct risk_place *pl, int64_t ts_ms);

/** Sets flagged_spray on the account's profile and saves it. */
LR_WUR int risk_profile_flag_spray(struct risk_engine *e,
                                   const struct risk_policy *p,
                                   const char *account);

/** Forgets @p device as a known device of @p account (confirmed fraud). */
LR_WUR int risk_profile_forget_device(struct risk_engine *e,
                                      const struct risk_policy *p,
                                      const char *account, const char *device);

/* ---- which accounts have a stored profile (risk_pfilter.c) ------------- */

struct risk_pfilter;

/**
 * Reads the ids of every profile in @p st and builds a Bloom filter of
 * their hashes (risk_hash64 under @p seed), sized for @p extra more.
 * LR_NOMEM, LR_STORE.
 */
LR_WUR int risk_pfilter_new(struct store *st, uint64_t seed, size_t extra,
                            struct risk_pfilter **out);
void risk_pfilter_free(struct risk_pfilter *f);
/** Records that the account of hash @p h has (or will have) a profile. */
void risk_pfilter_add(struct risk_pfilter *f, uint64_t h);
/** False only when the account of hash @p h certainly has no profile. */
bool risk_pfilter_maybe(const struct risk_pfilter *f, uint64_t h);
/** Bytes the filter holds. */
size_t risk_pfilter_bytes(const struct risk_pfilter *f);

/**
 * Starts consulting a filter of the accounts with a stored profile (read
 * from @p st now): a cache miss for any other account reads nothing.
 */
LR_WUR int risk_profiles_use_filter(struct risk_profiles *pc, struct store *st,
                                    size_t extra);

/* ---- recent decisions (ReportOutcome joins) ---------------------------- */

struct risk_recent;

/** A copy of one recent decision, handed to the outcome code. */
struct risk_recent_rec {
    char account_id[STORE_ID_MAX];
    char device_id[STORE_ID_MAX];
    struct geo_ip ip;
    struct risk_place place;
    int64_t ts_ms;
    enum lr_credential credential;
    enum lr_action action;
    bool device_known;
};

LR_WUR int risk_recent_new(uint32_t cap, uint64_t seed,
                           struct risk_recent **out);
void risk_recent_free(struct risk_recent *r);
size_t risk_recent_size(struct risk_recent *r);

/** The table's hash of @p request_id; starts loading its index slot (a
 * hint, no lock). */
uint64_t risk_recent_prefetch(struct risk_recent *r, const char *request_id);

/** Remembers one decision (its request id hashed to @p h by
 * risk_recent_prefetch), replacing the oldest at the cap. LR_NOMEM. */
LR_WUR int risk_recent_put(struct risk_recent *r, const struct risk_attempt *a,
                           uint64_t h, const struct risk_place *pl,
                           enum lr_action action, bool device_known);

/**
 * Finds @p request_id, checks @p account_id, and claims outcome @p kind for
 * it: *@p first is false when that kind was already applied (idempotent
 * resend). LR_NOTFOUND, LR_INVALID (account mismatch).
 */
LR_WUR int risk_recent_claim(struct risk_recent *r, const char *request_id,
                             const char *account_id, enum lr_outcome kind,
                             struct risk_recent_rec *out, bool *first);

/** Gives a claim back after the outcome failed to apply, so a retry works. */
void risk_recent_unclaim(struct risk_recent *r, const char *request_id,
                         enum lr_outcome kind);

/* ---- engine ------------------------------------------------------------ */

#define RISK_SPAN_MAX 24 /* risk_fmt_span() text */

enum risk_vt {
    RISK_VT_IP = 0,
    RISK_VT_NET, /* /24, /64 and /48 */
    RISK_VT_ASN,
    RISK_VT_ACCOUNT,
    RISK_VT_DEVICE,
    RISK_VT_GLOBAL,    /* one key: the attack-wave window */
    RISK_VT_SPRAY,     /* fingerprint -> distinct accounts */
    RISK_VT_SPRAY_SRC, /* sources that used a sprayed password */
    RISK_VT_FRAUD,     /* IPs and devices of confirmed fraud */
    RISK_VT_COUNT,
};

/* Velocity tables are keyed per kind; only the first five count logins. */
#define RISK_VT_VELOCITY_COUNT (RISK_VT_DEVICE + 1)

struct risk_vel {
    pthread_mutex_t mu;
    struct risk_vtable *t;
};

/* Moving baseline of the global failure count (R-VEL-7). */
struct risk_wave {
    bool started;
    int64_t epoch;   /* current short window number */
    uint32_t cur;    /* failures in it */
    double baseline; /* EWMA of failures per short window */
    uint32_t seen;   /* windows folded into the baseline */
};

/* Direct-mapped memory of the last sources per fingerprint (R-SPRAY-1). */
#define RISK_SPRAY_SOURCES 16
struct risk_spray_slot {
    uint8_t fp[RISK_FP_LEN];
    uint64_t src[RISK_SPRAY_SOURCES][3]; /* ip, net, device mark keys */
    uint8_t n;
    uint8_t next;
    bool used;
    bool marked; /* remembered sources already marked */
};

struct risk_engine {
    pthread_mutex_t pol_mu;
    pthread_cond_t pol_cv;
    struct risk_policy *pol;
    struct store *store;
    uint64_t seed;
    struct risk_vtable_opts vopts; /* velocity windows, as created */
    uint32_t spray_window_s;
    /* "1 min", "1 h", "1 d": the windows as reason details show them */
    char span_text[CFG_WINDOWS_MAX][RISK_SPAN_MAX];
    char spray_span_text[RISK_SPAN_MAX];
    struct risk_vel vt[RISK_VT_COUNT];
    struct risk_vid glob_id;             /* the global table's one key */
    struct risk_wave wave;               /* under vt[RISK_VT_GLOBAL].mu */
    struct risk_spray_slot *spray_slots; /* under vt[RISK_VT_SPRAY].mu */
    size_t n_spray_slots;                /* power of two */
    struct risk_profiles *profiles;
    struct risk_recent *recent;
    /* statistics */
    _Atomic uint64_t evaluations;
    _Atomic uint64_t by_action[LR_ACTION_MAX + 1];
    _Atomic uint64_t by_signal[LR_SIG_COUNT];
    _Atomic uint64_t rule_hits;
    _Atomic uint64_t fingerprints;
    _Atomic uint64_t history_dropped;
    _Atomic uint64_t profile_dropped;
    _Atomic uint64_t auto_locks;
};

struct risk_policy *risk_policy_acquire(struct risk_engine *e);
void risk_policy_release(struct risk_engine *e, struct risk_policy *p);

/**
 * Records one event for key @p id in table @p vt under its lock; fills the
 * counts in @p want (RISK_VC_*).
 */
LR_WUR int risk_vt_hit(struct risk_engine *e, enum risk_vt vt,
                       const struct risk_vid *id, int64_t now_ms, bool failure,
                       uint64_t member, unsigned want,
                       struct risk_vcounts *out);
void risk_vt_peek(struct risk_engine *e, enum risk_vt vt,
                  const struct risk_vid *id, int64_t now_ms, unsigned want,
                  struct risk_vcounts *out);
/** The key of a mark (a member hash already under the engine's seed). */
void risk_vid_of_mark(uint64_t h, struct risk_vid *out);

/** Window index of the shortest, middle and longest velocity window. */
int risk_win_short(const struct risk_engine *e);
int risk_win_mid(const struct risk_engine *e);
int risk_win_long(const struct risk_engine *e);

/**
 * Places an automatic lock (R-STATE-1) with locks.auto_scope and
 * locks.auto_duration_s; @p actor is "auto:<WHY>" and becomes the source.
 */
LR_WUR int risk_auto_lock(struct risk_engine *e, const struct risk_policy *p,
                          const char *account, const char *actor,
                          const char *reason, const char *ticket,
                          int64_t now_ms);

/* ---- one evaluation ---------------------------------------------------- */

struct risk_spray_view {
    bool fp_sprayed;
    uint32_t fp_accounts;
    bool ip_marked;
    bool net_marked;
    bool dev_marked;
};

struct risk_ctx {
    struct risk_engine *e;
    const struct risk_policy *p;
    const struct risk_attempt *a;
    struct risk_decision *out;
    struct risk_keys k;
    struct risk_pkey pk;    /* the account and device for the profile */
    uint64_t recent_h;      /* the request id for the recent table */
    struct risk_vid asn_id; /* valid when place.asn != 0 */
    struct risk_place place;
    struct risk_pview pv;
    bool failure;   /* INVALID or UNKNOWN_ACCOUNT */
    bool anonymous; /* R-GEO-4 fires */
    bool hosting;   /* R-GEO-5 fires */
    bool masked;    /* any anonymous, hosting or Tor source (R-TRAVEL-2) */
    struct risk_vcounts ip, net, net48, asn, acct, dev, glob;
    bool wave;
    double wave_baseline;
    struct risk_spray_view spray;
    bool locked;
    struct store_lock lock;
    enum lr_action lock_action; /* UNSPECIFIED when not locked */
    bool allowlisted;
    uint64_t fired;
    int pts[RISK_CLASS_COUNT];
    enum lr_action min_act[RISK_CLASS_COUNT];
    size_t n_unlisted; /* reasons counted but beyond RISK_REASONS_MAX */
};

/** The class a signal's points fall in for this attempt. */
enum risk_class risk_signal_class(const struct risk_ctx *c, enum lr_signal s);
bool risk_signal_volume(enum lr_signal s);
bool risk_signal_account_keyed(enum lr_signal s);

/**
 * Fires @p s with @p points and @p min_action (already resolved by the
 * caller), unless the signal is disabled. The reason is listed when it has
 * points or a minimum action, or is one of the state reasons.
 */
void risk_fire(struct risk_ctx *c, enum lr_signal s, int points,
               enum lr_action min_action, const char *fmt, ...) LR_PRINTF(5, 6);
/** risk_fire() with the configured points and minimum action. */
void risk_fire_std(struct risk_ctx *c, enum lr_signal s, const char *fmt, ...)
    LR_PRINTF(3, 4);
/**
 * risk_fire() without the text: counts the signal and, when its reason is
 * listed, returns the reason for the caller to write the detail into
 * (r->detail, RISK_DETAIL_MAX bytes; "" until written); NULL otherwise.
 */
struct risk_reason *risk_fire_begin(struct risk_ctx *c, enum lr_signal s,
                                    int points, enum lr_action min_action);
/** Lists one rule reason with its class. */
void risk_fire_rule(struct risk_ctx *c, const struct risk_rule *r,
                    enum risk_class cls, int points, enum lr_action min_action);

/** Starts the hash-head loads of the attempt's velocity keys (no locks). */
void risk_count_prefetch(struct risk_ctx *c);
/** Starts the entry loads of the same keys, once their heads are in. */
void risk_count_prefetch_entries(struct risk_ctx *c);
LR_WUR int risk_count(struct risk_ctx *c);
LR_WUR int risk_sig_spray_step(struct risk_ctx *c);
LR_WUR int risk_sig_state(struct risk_ctx *c);
void risk_sig_geo(struct risk_ctx *c);
void risk_sig_device(struct risk_ctx *c);
void risk_sig_travel(struct risk_ctx *c);
void risk_sig_velocity(struct risk_ctx *c);
void risk_sig_spray(struct risk_ctx *c);
void risk_rules_apply(struct risk_ctx *c);
void risk_decide(struct risk_ctx *c);

/** LR_OK when @p a keeps struct risk_attempt's contract, else LR_INVALID. */
LR_WUR int risk_attempt_check(const struct risk_attempt *a);

/** Spray detection (R-SPRAY-1): counts @p fp, marks and checks sources. */
LR_WUR int risk_spray_observe(struct risk_engine *e,
                              const struct risk_policy *p,
                              const struct risk_keys *k, const uint8_t *fp,
                              int64_t now_ms, struct risk_spray_view *out);
LR_WUR int risk_spray_slots_new(struct risk_engine *e, uint32_t entries);

/* ---- text -------------------------------------------------------------- */

/** "8,072" */
void risk_fmt_count(char *buf, size_t cap, uint64_t v);

/*
 * A detail built piece by piece where snprintf would cost more than the
 * rest of an evaluation: like snprintf it keeps the first cap - 1 bytes
 * and always ends in NUL, so the text is the same, cut or not.
 */
struct risk_text {
    char *buf;
    size_t cap; /* >= 1 */
    size_t len;
};

void risk_text_init(struct risk_text *t, char *buf, size_t cap);
/** Appends @p s. */
void risk_text_add(struct risk_text *t, const char *s);
/** Appends @p v in decimal ("%llu"). */
void risk_text_uint(struct risk_text *t, uint64_t v);
/** Appends @p v in decimal with thousands separators ("8,072"). */
void risk_text_count(struct risk_text *t, uint64_t v);
/** "30 min", "20 h", "3 d", "45 s" for a span in seconds. */
void risk_fmt_span(char *buf, size_t cap, int64_t seconds);
/** snprintf for human text, where cutting a long detail short is fine. */
void risk_textf(char *buf, size_t cap, const char *fmt, ...) LR_PRINTF(3, 4);
/** Appends a message to @p errs (NULL is fine). LR_NOMEM. */
LR_WUR int risk_errs_add(struct cfg_errors *errs, const char *fmt, ...)
    LR_PRINTF(2, 3);

#endif

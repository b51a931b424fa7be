/*
 * risk_engine.c - the engine's life cycle and the evaluate pipeline.
 *
 * risk_evaluate() reads as the pipeline it is: resolve geo and keys, look
 * the account's profile up, count the attempt in every velocity table, then
 * let each signal family fire its reasons, apply the rules, and turn the
 * points into one action (risk_decide). Afterwards a successful, allowed
 * login is learned, the decision is remembered for ReportOutcome, and the
 * login is queued to the store's history.
 *
 * The policy is swapped by reference: each evaluation pins the policy it
 * started with, and risk_engine_set_policy() waits for the last pin on the
 * old one before freeing it, so the caller may free the old cfg and geo as
 * soon as the swap returns. Hot state (tables, profiles, recent decisions)
 * survives the swap; table windows and caps are fixed when the engine is
 * made (docs/signals.md, "Tuning").
 */
#include "risk/risk_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RISK_MARK_BUCKETS 24
#define RISK_ID_TWEAK 0x7269642d6b657973ULL /* "rid-keys" */
#define RISK_FRAUD_MARK_S (30u * 86400u)    /* R-STATE-3/4 */

static uint64_t random_u64(void)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint64_t)lr_mono_ns() ^ ((uint64_t)lr_now_ms() << 20);
    return v;
}

/* ---- keys -------------------------------------------------------------- */

/* An account or device id, of any length: its bytes under a key of their
 * own (the seed with a tweak), so no id can meet an address or a prefix. */
static void id_key(const char *id, uint64_t seed, struct risk_vid *out)
{
    risk_vid_of(id, strlen(id), seed ^ RISK_ID_TWEAK, out);
}

static void net_key(const struct geo_ip *ip, unsigned bits, uint64_t seed,
                    struct geo_ip *net, struct risk_vid *out)
{
    size_t n = ip->family == 6 ? 16 : 4;
    uint8_t key[3 + 16];

    geo_ip_prefix(ip, bits, net);
    key[0] = 'N';
    key[1] = ip->family;
    key[2] = (uint8_t)bits;
    memcpy(key + 3, net->addr, n);
    risk_vid_of(key, 3 + n, seed, out);
}

void risk_keys_make(uint64_t seed, const struct geo_ip *ip, const char *account,
                    const char *device, struct risk_keys *k)
{
    size_t n = ip->family == 6 ? 16 : 4;
    uint8_t key[1 + 16];
    struct geo_ip tmp;

    key[0] = ip->family;
    memcpy(key + 1, ip->addr, n);
    risk_vid_of(key, 1 + n, seed, &k->ip);
    k->net_bits = ip->family == 6 ? 64 : 24;
    net_key(ip, k->net_bits, seed, &k->net_ip, &k->net);
    k->has_net48 = ip->family == 6;
    if (k->has_net48)
        net_key(ip, 48, seed, &tmp, &k->net48);
    id_key(account, seed, &k->acct);
    k->has_dev = device && device[0];
    if (k->has_dev)
        id_key(device, seed, &k->dev);
    k->ip_h = k->ip.w[0];
    k->net_h = k->net.w[0];
    k->acct_h = k->acct.w[0];
    k->dev_h = k->has_dev ? k->dev.w[0] : 0;
}

void risk_vid_of_mark(uint64_t h, struct risk_vid *out)
{
    /* h is already a secret-keyed hash: the second word only spreads it */
    out->w[0] = h;
    out->w[1] = h * 0x9e3779b97f4a7c15ULL ^ (h >> 29);
}

void risk_place_from_geo(const struct geo_info *g, struct risk_place *out)
{
    memcpy(out->country, g->country, sizeof(out->country));
    lr_strlcpy(out->city, g->city, sizeof(out->city));
    out->has_location = g->has_location;
    out->lat = g->latitude;
    out->lon = g->longitude;
    out->radius_km = g->accuracy_radius_km;
    out->asn = g->asn;
}

/* ---- policy references ------------------------------------------------- */

struct risk_policy *risk_policy_acquire(struct risk_engine *e)
{
    struct risk_policy *p;

    pthread_mutex_lock(&e->pol_mu);
    p = e->pol;
    p->refs++;
    pthread_mutex_unlock(&e->pol_mu);
    return p;
}

void risk_policy_release(struct risk_engine *e, struct risk_policy *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&e->pol_mu);
    p->refs--;
    if (p->refs == 0 && p != e->pol)
        pthread_cond_broadcast(&e->pol_cv);
    pthread_mutex_unlock(&e->pol_mu);
}

/* ---- tables ------------------------------------------------------------ */

int risk_vt_hit(struct risk_engine *e, enum risk_vt vt,
                const struct risk_vid *id, int64_t now_ms, bool failure,
                uint64_t member, unsigned want, struct risk_vcounts *out)
{
    struct risk_vel *v = &e->vt[vt];
    int rc;

    pthread_mutex_lock(&v->mu);
    rc = risk_vtable_hit_id(v->t, id, now_ms, failure, member, want, out);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

void risk_vt_peek(struct risk_engine *e, enum risk_vt vt,
                  const struct risk_vid *id, int64_t now_ms, unsigned want,
                  struct risk_vcounts *out)
{
    struct risk_vel *v = &e->vt[vt];

    pthread_mutex_lock(&v->mu);
    risk_vtable_peek_id(v->t, id, now_ms, want, out);
    pthread_mutex_unlock(&v->mu);
}

int risk_win_short(const struct risk_engine *e)
{
    (void)e;
    return 0;
}

int risk_win_mid(const struct risk_engine *e)
{
    return e->vopts.n_windows > 1 ? 1 : 0;
}

int risk_win_long(const struct risk_engine *e)
{
    return e->vopts.n_windows > 0 ? e->vopts.n_windows - 1 : 0;
}

static void single_window(struct risk_vtable_opts *o, uint32_t window_s,
                          uint32_t cap, bool distinct, uint32_t exact)
{
    memset(o, 0, sizeof(*o));
    o->windows_s[0] = window_s;
    o->n_windows = 1;
    o->buckets = RISK_MARK_BUCKETS;
    o->cap = cap;
    o->track_distinct = distinct;
    o->distinct_exact = exact;
}

static void table_opts(const struct risk_engine *e, const struct cfg *cfg,
                       enum risk_vt vt, struct risk_vtable_opts *o)
{
    const struct cfg_limits *l = &cfg->limits;
    static const size_t caps[RISK_VT_VELOCITY_COUNT] = {
        [RISK_VT_IP] = offsetof(struct cfg_limits, ip_entries),
        [RISK_VT_NET] = offsetof(struct cfg_limits, subnet_entries),
        [RISK_VT_ASN] = offsetof(struct cfg_limits, asn_entries),
        [RISK_VT_ACCOUNT] = offsetof(struct cfg_limits, account_entries),
        [RISK_VT_DEVICE] = offsetof(struct cfg_limits, device_entries),
    };

    if (vt < RISK_VT_VELOCITY_COUNT) {
        *o = e->vopts;
        memcpy(&o->cap, (const char *)l + caps[vt], sizeof(o->cap));
        return;
    }
    switch (vt) {
    case RISK_VT_GLOBAL:
        *o = e->vopts;
        o->cap = 1;
        o->track_distinct = false;
        break;
    case RISK_VT_SPRAY:
        single_window(o, e->spray_window_s, l->spray_entries, true,
                      l->distinct_exact);
        break;
    case RISK_VT_SPRAY_SRC:
        single_window(o, e->spray_window_s, l->spray_entries, false, 0);
        break;
    default:
        single_window(o, RISK_FRAUD_MARK_S, l->ip_entries, false, 0);
        break;
    }
}

static int tables_new(struct risk_engine *e, const struct cfg *cfg,
                      struct cfg_errors *errs)
{
    const struct cfg_velocity *v = &cfg->velocity;
    struct risk_vtable_opts o;
    int rc = LR_OK;

    memset(&e->vopts, 0, sizeof(e->vopts));
    memcpy(e->vopts.windows_s, v->windows_s, sizeof(v->windows_s));
    e->vopts.n_windows = v->n_windows;
    e->vopts.buckets = v->buckets;
    e->vopts.track_distinct = true;
    e->vopts.distinct_exact = cfg->limits.distinct_exact;
    e->spray_window_s = cfg->spray.window_s;
    for (int w = 0; w < CFG_WINDOWS_MAX; w++)
        risk_fmt_span(e->span_text[w], sizeof(e->span_text[w]),
                      v->windows_s[w]);
    risk_fmt_span(e->spray_span_text, sizeof(e->spray_span_text),
                  e->spray_window_s);
    for (int i = 0; i < RISK_VT_COUNT && rc == LR_OK; i++) {
        table_opts(e, cfg, (enum risk_vt)i, &o);
        rc = risk_vtable_new(&o, &e->vt[i].t);
    }
    if (rc == LR_INVALID) {
        rc = risk_errs_add(errs,
                           "%s: velocity windows, buckets or limits "
                           "cannot make a table",
                           cfg->path ? cfg->path : "<config>");
        if (rc == LR_OK)
            rc = LR_CONFIG;
    }
    return rc;
}

/* ---- life cycle -------------------------------------------------------- */

static int engine_parts_new(struct risk_engine *e, const struct cfg *cfg,
                            struct cfg_errors *errs)
{
    int rc;

    rc = tables_new(e, cfg, errs);
    if (rc)
        return rc;
    rc = risk_spray_slots_new(e, cfg->limits.spray_entries);
    if (rc)
        return rc;
    rc = risk_profiles_new(cfg->limits.profile_cache, e->seed, &e->profiles);
    if (rc == LR_OK && e->store)
        rc = risk_profiles_use_filter(e->profiles, e->store,
                                      cfg->limits.profile_cache);
    if (rc)
        return rc;
    return risk_recent_new(cfg->limits.recent_decisions, e->seed, &e->recent);
}

int risk_engine_new(const struct cfg *cfg, const struct geo_db *geo,
                    struct store *store, struct risk_engine **out,
                    struct cfg_errors *errs)
{
    struct risk_engine *e = NULL;
    int rc;

    if (!cfg || !out)
        return LR_INVALID;
    e = calloc(1, sizeof(*e));
    if (!e)
        return LR_NOMEM;
    pthread_mutex_init(&e->pol_mu, NULL);
    pthread_cond_init(&e->pol_cv, NULL);
    for (int i = 0; i < RISK_VT_COUNT; i++)
        pthread_mutex_init(&e->vt[i].mu, NULL);
    e->store = store;
    e->seed = random_u64();
    risk_vid_of("g", 1, e->seed, &e->glob_id);
    rc = risk_policy_compile(cfg, geo, &e->pol, errs);
    if (rc)
        goto out;
    rc = engine_parts_new(e, cfg, errs);
    if (rc)
        goto out;
    *out = e;
    e = NULL;
out:
    risk_engine_free(e);
    return rc;
}

void risk_engine_free(struct risk_engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < RISK_VT_COUNT; i++) {
        risk_vtable_free(e->vt[i].t);
        pthread_mutex_destroy(&e->vt[i].mu);
    }
    free(e->spray_slots);
    risk_profiles_free(e->profiles);
    risk_recent_free(e->recent);
    risk_policy_free(e->pol);
    pthread_cond_destroy(&e->pol_cv);
    pthread_mutex_destroy(&e->pol_mu);
    free(e);
}

static void warn_fixed_tables(const struct risk_engine *e,
                              const struct cfg *cfg)
{
    const struct cfg_velocity *v = &cfg->velocity;

    if (v->n_windows != e->vopts.n_windows || v->buckets != e->vopts.buckets ||
        memcmp(v->windows_s, e->vopts.windows_s, sizeof(v->windows_s)) ||
        cfg->spray.window_s != e->spray_window_s)
        lr_log(LR_LOG_WARN, "risk: velocity and spray windows changed; "
                            "they apply after a restart");
}

int risk_engine_set_policy(struct risk_engine *e, const struct cfg *cfg,
                           const struct geo_db *geo, struct cfg_errors *errs)
{
    struct risk_policy *np = NULL;
    struct risk_policy *old;
    int rc;

    if (!e || !cfg)
        return LR_INVALID;
    rc = risk_policy_compile(cfg, geo, &np, errs);
    if (rc)
        return rc;
    warn_fixed_tables(e, cfg);
    pthread_mutex_lock(&e->pol_mu);
    old = e->pol;
    e->pol = np;
    while (old->refs > 0)
        pthread_cond_wait(&e->pol_cv, &e->pol_mu);
    pthread_mutex_unlock(&e->pol_mu);
    risk_policy_free(old);
    return LR_OK;
}

/* ---- locks ------------------------------------------------------------- */

int risk_auto_lock(struct risk_engine *e, const struct risk_policy *p,
                   const char *account, const char *actor, const char *reason,
                   const char *ticket, int64_t now_ms)
{
    const struct cfg_locks *l = &p->cfg->locks;
    struct store_actor who = {
        .actor = actor, .reason = reason, .ticket = ticket, .now_ms = now_ms};
    struct store_bulk_result res;
    enum store_lock_scope scope = l->auto_scope == CFG_LOCK_SCOPE_UNFAMILIAR
                                      ? STORE_SCOPE_UNFAMILIAR
                                      : STORE_SCOPE_ALL;
    int rc;

    if (!e->store)
        return LR_OK;
    rc = store_lock_accounts(e->store, &account, 1, l->auto_duration_s, scope,
                             &who, false, &res);
    if (rc == LR_OK && res.changed)
        atomic_fetch_add_explicit(&e->auto_locks, 1, memory_order_relaxed);
    return rc;
}

/* ---- evaluate ---------------------------------------------------------- */

int risk_attempt_check(const struct risk_attempt *a)
{
    size_t n;

    if (!a->request_id || !a->account_id || !a->account_id[0])
        return LR_INVALID;
    n = strlen(a->request_id);
    if (n == 0 || n >= RISK_REQUEST_ID_MAX)
        return LR_INVALID;
    if (strlen(a->account_id) >= STORE_ID_MAX ||
        (a->device_id && strlen(a->device_id) >= STORE_ID_MAX))
        return LR_INVALID;
    if (a->timestamp_ms <= 0 ||
        (unsigned)a->credential > LR_CRED_UNKNOWN_ACCOUNT)
        return LR_INVALID;
    if (a->ip.family != 4 && a->ip.family != 6)
        return LR_INVALID;
    return LR_OK;
}

static const char *device_of(const struct risk_attempt *a)
{
    return a->device_id ? a->device_id : "";
}

/* The attempt's geo answer, its place, and what kind of source it is. */
static int ctx_geo(struct risk_ctx *c)
{
    const struct risk_policy *p = c->p;
    const struct geo_info *g = &c->out->geo;
    uint8_t asn_key[5] = {'A'};
    int rc = LR_OK;

    if (p->geo)
        rc = geo_lookup(p->geo, &c->a->ip, &c->out->geo);
    else
        memset(&c->out->geo, 0, sizeof(c->out->geo));
    if (rc)
        return rc;
    risk_place_from_geo(g, &c->place);
    if (c->place.asn) {
        memcpy(asn_key + 1, &c->place.asn, 4);
        risk_vid_of(asn_key, sizeof(asn_key), c->e->seed, &c->asn_id);
        risk_vtable_prefetch_head(c->e->vt[RISK_VT_ASN].t, &c->asn_id);
    }
    /* R-GEO-4/5/6: each kind of anonymity scores once, by its most
     * specific signal; is_anonymous is MaxMind's umbrella flag, also set
     * for hosting and Tor. */
    c->hosting = g->is_hosting || risk_policy_hosting_asn(p, g->asn);
    c->anonymous = g->is_vpn || g->is_proxy ||
                   risk_policy_anonymous_asn(p, g->asn) ||
                   (g->is_anonymous && !c->hosting && !g->is_tor);
    c->masked = c->anonymous || c->hosting || g->is_tor || g->is_anonymous;
    return LR_OK;
}

static int ctx_init(struct risk_ctx *c, struct risk_engine *e,
                    const struct risk_policy *p, const struct risk_attempt *a,
                    struct risk_decision *out)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->e = e;
    c->p = p;
    c->a = a;
    c->out = out;
    lr_strlcpy(out->request_id, a->request_id, sizeof(out->request_id));
    lr_strlcpy(out->policy_version,
               p->cfg->policy_version ? p->cfg->policy_version : "",
               sizeof(out->policy_version));
    out->action = LR_ACTION_UNSPECIFIED;
    out->score = 0;
    out->n_reasons = 0;
    c->failure = a->credential == LR_CRED_INVALID ||
                 a->credential == LR_CRED_UNKNOWN_ACCOUNT;
    /* Keys first, and every large table's first line asked for at once:
     * the velocity heads, the profile slot, the recent-decision slot. The
     * geo lookup runs while they load; then the velocity entries are asked
     * for, and load while the profile is read. */
    risk_keys_make(e->seed, &a->ip, a->account_id, device_of(a), &c->k);
    risk_count_prefetch(c);
    risk_pkey_make(e->profiles, a->account_id, device_of(a), &c->pk);
    risk_profile_prefetch(e->profiles, &c->pk);
    c->recent_h = risk_recent_prefetch(e->recent, a->request_id);
    rc = ctx_geo(c);
    if (rc)
        return rc;
    risk_count_prefetch_entries(c);
    /* An unknown account has no profile: skip the cache, so a flood of
     * made-up names neither reads the disk nor evicts real profiles. */
    if (a->credential == LR_CRED_UNKNOWN_ACCOUNT)
        return LR_OK;
    return risk_profile_view(e, p, &c->pk, &c->place, &c->pv);
}

static int run_signals(struct risk_ctx *c)
{
    int rc;

    rc = risk_count(c);
    if (rc)
        return rc;
    rc = risk_sig_spray_step(c);
    if (rc)
        return rc;
    rc = risk_sig_state(c);
    if (rc)
        return rc;
    risk_sig_geo(c);
    risk_sig_device(c);
    risk_sig_travel(c);
    risk_sig_velocity(c);
    risk_sig_spray(c);
    risk_rules_apply(c);
    return LR_OK;
}

/*
 * Queues the login to the store's history. The record is 2.5 KiB, mostly
 * room for reasons, so it is filled field by field rather than cleared
 * first: the store reads the strings up to their NUL and the first
 * n_reasons reasons only.
 */
static void history_append(struct risk_ctx *c)
{
    const struct risk_decision *d = c->out;
    const struct risk_attempt *a = c->a;
    struct store_login l;

    l.n_reasons = 0;
    lr_strlcpy(l.request_id, a->request_id, sizeof(l.request_id));
    lr_strlcpy(l.account_id, a->account_id, sizeof(l.account_id));
    l.ts_ms = a->timestamp_ms;
    memcpy(l.ip, a->ip.addr, sizeof(l.ip));
    l.ip_family = a->ip.family;
    lr_strlcpy(l.device_id, device_of(a), sizeof(l.device_id));
    l.credential = (int)a->credential;
    l.action = (int)d->action;
    l.score = d->score;
    memcpy(l.country, c->place.country, sizeof(l.country));
    lr_strlcpy(l.city, c->place.city, sizeof(l.city));
    l.has_location = c->place.has_location;
    l.lat = c->place.lat;
    l.lon = c->place.lon;
    l.asn = c->place.asn;
    for (size_t i = 0; i < d->n_reasons && i < STORE_REASONS_MAX; i++)
        lr_strlcpy(l.reasons[l.n_reasons++], d->reasons[i].code,
                   sizeof(l.reasons[0]));
    /* History is best effort: a full queue drops the row, counted. */
    if (store_history_append(c->e->store, &l) != LR_OK)
        atomic_fetch_add_explicit(&c->e->history_dropped, 1,
                                  memory_order_relaxed);
}

static void count_stats(struct risk_ctx *c)
{
    struct risk_engine *e = c->e;
    uint64_t f = c->fired;

    atomic_fetch_add_explicit(&e->evaluations, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->by_action[c->out->action], 1,
                              memory_order_relaxed);
    while (f) {
        int s = __builtin_ctzll(f);

        atomic_fetch_add_explicit(&e->by_signal[s], 1, memory_order_relaxed);
        f &= f - 1;
    }
}

static int finish(struct risk_ctx *c)
{
    const struct risk_attempt *a = c->a;
    int rc;

    /* R-LEARN-1: only a valid password that was let straight in teaches
     * the profile; a challenged one waits for its ReportOutcome. */
    if (a->credential == LR_CRED_VALID && c->out->action == LR_ACTION_ALLOW) {
        rc = risk_profile_learn(c->e, c->p, &c->pk, &c->place, a->timestamp_ms);
        if (rc)
            return rc;
    }
    rc = risk_recent_put(c->e->recent, a, c->recent_h, &c->place,
                         c->out->action, c->pv.device_known);
    if (rc)
        return rc;
    if (c->e->store)
        history_append(c);
    count_stats(c);
    return LR_OK;
}

int risk_evaluate(struct risk_engine *e, const struct risk_attempt *a,
                  struct risk_decision *out)
{
    struct risk_policy *p = NULL;
    struct risk_ctx c;
    int rc;

    if (!e || !a || !out)
        return LR_INVALID;
    rc = risk_attempt_check(a);
    if (rc)
        return rc;
    p = risk_policy_acquire(e);
    rc = ctx_init(&c, e, p, a, out);
    if (rc)
        goto out;
    rc = run_signals(&c);
    if (rc)
        goto out;
    risk_decide(&c);
    rc = finish(&c);
out:
    if (rc) {
        out->action = LR_ACTION_UNSPECIFIED;
        out->n_reasons = 0;
    }
    risk_policy_release(e, p);
    return rc;
}

/* ---- statistics -------------------------------------------------------- */

void risk_engine_stats(struct risk_engine *e, struct risk_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!e)
        return;
    out->evaluations =
        atomic_load_explicit(&e->evaluations, memory_order_relaxed);
    for (int i = 0; i <= LR_ACTION_MAX; i++)
        out->by_action[i] =
            atomic_load_explicit(&e->by_action[i], memory_order_relaxed);
    for (int i = 0; i < LR_SIG_COUNT; i++)
        out->by_signal[i] =
            atomic_load_explicit(&e->by_signal[i], memory_order_relaxed);
    out->rule_hits = atomic_load_explicit(&e->rule_hits, memory_order_relaxed);
    out->spray_done =
        atomic_load_explicit(&e->fingerprints, memory_order_relaxed);
    out->history_dropped =
        atomic_load_explicit(&e->history_dropped, memory_order_relaxed);
    out->profile_dropped =
        atomic_load_explicit(&e->profile_dropped, memory_order_relaxed);
    out->profile_entries = risk_profiles_size(e->profiles);
    out->recent_entries = risk_recent_size(e->recent);
    out->auto_locks =
        atomic_load_explicit(&e->auto_locks, memory_order_relaxed);
    for (int i = 0; i < RISK_VT_COUNT; i++) {
        pthread_mutex_lock(&e->vt[i].mu);
        out->evictions += risk_vtable_evictions(e->vt[i].t);
        out->table_entries += risk_vtable_size(e->vt[i].t);
        pthread_mutex_unlock(&e->vt[i].mu);
    }
}

static void put_counter(struct risk_counter *out, size_t cap, size_t *n,
                        const char *what, uint32_t window_s, uint64_t v)
{
    if (*n >= cap)
        return;
    risk_textf(out[*n].name, sizeof(out[*n].name), "account.%s.%us", what,
               (unsigned)window_s);
    out[*n].value = v;
    (*n)++;
}

void risk_account_counters(struct risk_engine *e, const char *account_id,
                           int64_t now_ms, struct risk_counter *out, size_t cap,
                           size_t *n_out)
{
    struct risk_vcounts vc;
    struct risk_keys k;
    struct geo_ip none = {.family = 4};
    size_t n = 0;

    if (!e || !account_id || !n_out)
        return;
    risk_keys_make(e->seed, &none, account_id, "", &k);
    risk_vt_peek(e, RISK_VT_ACCOUNT, &k.acct, now_ms, RISK_VC_ALL, &vc);
    for (int w = 0; w < e->vopts.n_windows; w++) {
        uint32_t ws = e->vopts.windows_s[w];

        put_counter(out, cap, &n, "attempts", ws, vc.attempts[w]);
        put_counter(out, cap, &n, "failures", ws, vc.failures[w]);
        put_counter(out, cap, &n, "distinct_ips", ws, vc.distinct[w]);
    }
    *n_out = n;
}

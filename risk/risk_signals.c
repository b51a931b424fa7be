/*
 * risk_signals.c - the signal families: state (locks, allowlists, fraud
 * marks), geo, device and velocity, and the counting that feeds them.
 *
 * Each family reads the evaluation context and fires reasons through
 * risk_fire(), which applies the configured points and minimum action,
 * files the points under their anti-DoS class and writes the reason with a
 * human detail straight into the decision. Rule IDs (R-GEO-1 ...) are those
 * of lr/lr.h and docs/signals.md. Travel has its own file (risk_travel.c),
 * and so does password-spray detection (risk_sprayed.c).
 */
#include "risk/risk_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RISK_WAVE_ALPHA 0.2 /* weight of the newest window in the EWMA */
#define RISK_WAVE_WARMUP 5  /* windows seen before R-VEL-7 may fire */

/* ---- classes (R-DOS-1, R-DOS-2) ---------------------------------------- */

bool risk_signal_volume(enum lr_signal s)
{
    switch (s) {
    case LR_SIG_IP_VELOCITY:
    case LR_SIG_IP_DISTINCT_ACCOUNTS:
    case LR_SIG_SUBNET_VELOCITY:
    case LR_SIG_ASN_VELOCITY:
    case LR_SIG_ACCOUNT_FAILURES:
    case LR_SIG_ACCOUNT_DISTINCT_IPS:
    case LR_SIG_ATTACK_WAVE:
    case LR_SIG_DEVICE_DISTINCT_ACCOUNTS:
    case LR_SIG_PASSWORD_SPRAY:
        return true;
    default:
        return false;
    }
}

bool risk_signal_account_keyed(enum lr_signal s)
{
    return s == LR_SIG_ACCOUNT_FAILURES || s == LR_SIG_ACCOUNT_DISTINCT_IPS;
}

enum risk_class risk_signal_class(const struct risk_ctx *c, enum lr_signal s)
{
    if (risk_signal_account_keyed(s) && c->pv.device_known)
        return RISK_CLASS_ACCOUNT;
    return risk_signal_volume(s) ? RISK_CLASS_VOLUME : RISK_CLASS_PLAIN;
}

/* ---- firing ------------------------------------------------------------ */

static void add_points(struct risk_ctx *c, enum risk_class cls, int points,
                       enum lr_action min_action)
{
    c->pts[cls] += points;
    if (min_action > c->min_act[cls])
        c->min_act[cls] = min_action;
}

static struct risk_reason *next_reason(struct risk_ctx *c)
{
    if (c->out->n_reasons >= RISK_REASONS_MAX) {
        c->n_unlisted++;
        return NULL;
    }
    return &c->out->reasons[c->out->n_reasons++];
}

struct risk_reason *risk_fire_begin(struct risk_ctx *c, enum lr_signal s,
                                    int points, enum lr_action min_action)
{
    bool state = s == LR_SIG_ACCOUNT_LOCKED || s == LR_SIG_ALLOWLISTED;
    struct risk_reason *r;

    /* Locks and allowlists are operator state, not tunable signals: they
     * apply even when their signal is disabled (which only zeroes points). */
    if (!c->p->cfg->signals[s].enabled) {
        if (!state)
            return NULL;
        points = 0;
    }
    c->fired |= UINT64_C(1) << s;
    add_points(c, risk_signal_class(c, s), points, min_action);
    if (points == 0 && min_action <= LR_ACTION_ALLOW && !state)
        return NULL;
    r = next_reason(c);
    if (!r)
        return NULL;
    lr_strlcpy(r->code, lr_signal_code(s), sizeof(r->code));
    r->rule_id = lr_signal_rule_id(s);
    r->points = points;
    r->detail[0] = '\0';
    return r;
}

/* A va_list printf (format argument 5, no variadic arguments to check). */
static void fire_v(struct risk_ctx *c, enum lr_signal s, int points,
                   enum lr_action min_action, const char *fmt, va_list ap)
    LR_PRINTF(5, 0);

static void fire_v(struct risk_ctx *c, enum lr_signal s, int points,
                   enum lr_action min_action, const char *fmt, va_list ap)
{
    struct risk_reason *r = risk_fire_begin(c, s, points, min_action);

    if (r)
        vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
}

void risk_fire(struct risk_ctx *c, enum lr_signal s, int points,
               enum lr_action min_action, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fire_v(c, s, points, min_action, fmt, ap);
    va_end(ap);
}

void risk_fire_std(struct risk_ctx *c, enum lr_signal s, const char *fmt, ...)
{
    const struct cfg_signal *cs = &c->p->cfg->signals[s];
    va_list ap;

    va_start(ap, fmt);
    fire_v(c, s, cs->points, cs->min_action, fmt, ap);
    va_end(ap);
}

void risk_fire_rule(struct risk_ctx *c, const struct risk_rule *r,
                    enum risk_class cls, int points, enum lr_action min_action)
{
    const struct cfg_rule *cr = r->cfg;
    struct risk_reason *rs;
    char what[64] = "";

    add_points(c, cls, points, min_action);
    rs = next_reason(c);
    if (!rs)
        return;
    lr_strlcpy(rs->code, r->code, sizeof(rs->code));
    rs->rule_id = "R-RULE";
    rs->points = points;
    if (cr->effects & CFG_RULE_MIN_ACTION)
        risk_textf(what, sizeof(what), ", at least %s",
                   lr_action_name(min_action));
    risk_textf(rs->detail, sizeof(rs->detail), "rule '%s' (line %d): %+d%s%s",
               cr->name, cr->line, points, what,
               cr->effects & CFG_RULE_ALLOWLIST ? ", allowlist" : "");
}

/* ---- counting ---------------------------------------------------------- */

/*
 * R-VEL-7: folds finished short windows into the moving baseline. A window
 * far above the baseline is folded in at factor x baseline, so a long attack
 * raises the baseline slowly instead of becoming "normal" in a few minutes.
 */
static void wave_fold(struct risk_wave *w, int64_t now_ms, uint32_t win_s,
                      double factor)
{
    int64_t width = (int64_t)win_s * 1000;
    int64_t epoch, skipped;
    double v;

    /* Most attempts fall in the current window: no division for them
     * (times are positive, so the epoch is now_ms / width rounded down). */
    if (w->started && now_ms < (w->epoch + 1) * width)
        return;
    epoch = now_ms / width;
    if (!w->started) {
        w->started = true;
        w->epoch = epoch;
        return;
    }
    if (epoch <= w->epoch)
        return;
    v = w->cur;
    if (w->seen >= RISK_WAVE_WARMUP && factor > 1.0 &&
        v > factor * (w->baseline > 1.0 ? w->baseline : 1.0))
        v = factor * (w->baseline > 1.0 ? w->baseline : 1.0);
    w->baseline =
        w->seen ? (1.0 - RISK_WAVE_ALPHA) * w->baseline + RISK_WAVE_ALPHA * v
                : v;
    skipped = epoch - w->epoch - 1;
    for (int64_t i = 0; i < skipped && i < 64; i++)
        w->baseline *= 1.0 - RISK_WAVE_ALPHA;
    w->seen += (uint32_t)(1 + (skipped < 1000 ? skipped : 1000));
    w->cur = 0;
    w->epoch = epoch;
}

static int count_global(struct risk_ctx *c)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    struct risk_vel *g = &c->e->vt[RISK_VT_GLOBAL];
    struct risk_wave *w = &c->e->wave;
    uint32_t min =
        v->attack_wave_min_failures ? v->attack_wave_min_failures : 1;
    uint32_t f;
    double base;
    int rc;

    pthread_mutex_lock(&g->mu);
    rc = risk_vtable_hit_id(g->t, &c->e->glob_id, c->a->timestamp_ms,
                            c->failure, 0, RISK_VC_FAIL(0), &c->glob);
    if (rc == LR_OK) {
        wave_fold(w, c->a->timestamp_ms, c->e->vopts.windows_s[0],
                  v->attack_wave_factor);
        if (c->failure)
            w->cur++;
        f = c->glob.failures[0];
        base = w->baseline > 1.0 ? w->baseline : 1.0;
        c->wave_baseline = w->baseline;
        c->wave = w->seen >= RISK_WAVE_WARMUP && v->attack_wave_factor > 0 &&
                  f >= min && f >= v->attack_wave_factor * base;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* The velocity keys of the attempt, in table order. */
static size_t count_keys(const struct risk_ctx *c, enum risk_vt vt[6],
                         const struct risk_vid *id[6])
{
    const struct risk_keys *k = &c->k;
    size_t n = 0;

    vt[n] = RISK_VT_IP;
    id[n++] = &k->ip;
    vt[n] = RISK_VT_NET;
    id[n++] = &k->net;
    if (k->has_net48) {
        vt[n] = RISK_VT_NET;
        id[n++] = &k->net48;
    }
    if (c->place.asn) {
        vt[n] = RISK_VT_ASN;
        id[n++] = &c->asn_id;
    }
    vt[n] = RISK_VT_ACCOUNT;
    id[n++] = &k->acct;
    if (k->has_dev) {
        vt[n] = RISK_VT_DEVICE;
        id[n++] = &k->dev;
    }
    return n;
}

void risk_count_prefetch(struct risk_ctx *c)
{
    enum risk_vt vt[6];
    const struct risk_vid *id[6];
    size_t n = count_keys(c, vt, id);

    for (size_t i = 0; i < n; i++)
        risk_vtable_prefetch_head(c->e->vt[vt[i]].t, id[i]);
}

void risk_count_prefetch_entries(struct risk_ctx *c)
{
    enum risk_vt vt[6];
    const struct risk_vid *id[6];
    size_t n = count_keys(c, vt, id);

    for (size_t i = 0; i < n; i++)
        risk_vtable_prefetch_entry(c->e->vt[vt[i]].t, id[i]);
}

/*
 * Counts the attempt in every velocity table. Each table is asked only for
 * the counts its signals read (R-VEL-*, R-DEVICE-2): summing a window's
 * buckets is most of the cost of a hit. The entries were asked into the
 * cache before the profile lookup, all at once (risk_count_prefetch_*).
 */
int risk_count(struct risk_ctx *c)
{
    struct risk_engine *e = c->e;
    const struct risk_keys *k = &c->k;
    int64_t now = c->a->timestamp_ms;
    bool f = c->failure;
    int ws = risk_win_short(e), wm = risk_win_mid(e), wl = risk_win_long(e);
    unsigned net_want = RISK_VC_DIST(wm) | RISK_VC_FAIL(wm);
    int rc;

    rc = risk_vt_hit(e, RISK_VT_IP, &k->ip, now, f, k->acct_h,
                     RISK_VC_ATT(ws) | RISK_VC_FAIL(wm) | RISK_VC_DIST(wm),
                     &c->ip);
    if (rc == LR_OK)
        rc = risk_vt_hit(e, RISK_VT_NET, &k->net, now, f, k->acct_h, net_want,
                         &c->net);
    if (rc == LR_OK && k->has_net48)
        rc = risk_vt_hit(e, RISK_VT_NET, &k->net48, now, f, k->acct_h, net_want,
                         &c->net48);
    if (rc == LR_OK && c->place.asn)
        rc = risk_vt_hit(e, RISK_VT_ASN, &c->asn_id, now, f, k->acct_h,
                         RISK_VC_FAIL(wm), &c->asn);
    if (rc == LR_OK)
        rc = risk_vt_hit(e, RISK_VT_ACCOUNT, &k->acct, now, f, k->ip_h,
                         RISK_VC_FAIL(wm) | RISK_VC_DIST(wl), &c->acct);
    if (rc == LR_OK && k->has_dev)
        rc = risk_vt_hit(e, RISK_VT_DEVICE, &k->dev, now, f, k->acct_h,
                         RISK_VC_DIST(wl), &c->dev);
    if (rc == LR_OK)
        rc = count_global(c);
    return rc;
}

/* ---- state: R-STATE-1..4 ----------------------------------------------- */

static int state_lock(struct risk_ctx *c)
{
    const struct store_lock *l = &c->lock;
    const char *scope;
    int rc;

    if (!c->e->store)
        return LR_OK;
    rc = store_lock_get(c->e->store, c->a->account_id, c->a->timestamp_ms,
                        &c->lock);
    if (rc == LR_NOTFOUND)
        return LR_OK;
    if (rc)
        return rc;
    c->locked = true;
    scope = l->scope == STORE_SCOPE_UNFAMILIAR ? " (unfamiliar contexts)" : "";
    /* R-STATE-1: a lock scoped to unfamiliar contexts lets a known device
     * through to a 2FA challenge; it adds no points, so it cannot reach
     * the lock threshold by itself. */
    if (l->scope == STORE_SCOPE_UNFAMILIAR && c->pv.device_known) {
        c->lock_action = LR_ACTION_CHALLENGE_2FA;
        risk_fire(c, LR_SIG_ACCOUNT_LOCKED, 0, LR_ACTION_CHALLENGE_2FA,
                  "locked by %s%s: %s; known device gets 2FA", l->source, scope,
                  l->reason);
        return LR_OK;
    }
    c->lock_action = LR_ACTION_LOCK;
    risk_fire(c, LR_SIG_ACCOUNT_LOCKED,
              c->p->cfg->signals[LR_SIG_ACCOUNT_LOCKED].points, LR_ACTION_LOCK,
              "locked by %s%s: %s", l->source, scope, l->reason);
    return LR_OK;
}

static void state_allow(struct risk_ctx *c)
{
    char buf[RISK_DETAIL_MAX];
    const char *why;

    why = risk_policy_allowed(c->p, &c->a->ip, c->a->account_id, buf,
                              sizeof(buf));
    if (!why)
        return;
    c->allowlisted = true;
    risk_fire_std(c, LR_SIG_ALLOWLISTED, "%s%s", why,
                  c->locked ? "; the lock still applies" : "");
}

static bool marked(struct risk_ctx *c, enum risk_vt vt, uint64_t key)
{
    struct risk_vel *v = &c->e->vt[vt];
    struct risk_vcounts vc = {0};
    struct risk_vid id;

    /* Marks are rare: an empty table needs no lookup. */
    pthread_mutex_lock(&v->mu);
    if (risk_vtable_size(v->t)) {
        risk_vid_of_mark(key, &id);
        risk_vtable_peek_id(v->t, &id, c->a->timestamp_ms, RISK_VC_ATT(0), &vc);
    }
    pthread_mutex_unlock(&v->mu);
    return vc.attempts[0] > 0;
}

static void state_fraud(struct risk_ctx *c)
{
    char ip[GEO_IP_TEXT_MAX];

    if (marked(c, RISK_VT_FRAUD, c->k.ip_h)) {
        geo_ip_format(&c->a->ip, ip, sizeof(ip));
        risk_fire_std(c, LR_SIG_FRAUD_IP,
                      "IP %s was used in confirmed fraud (last 30 d)", ip);
    }
    if (c->k.has_dev && marked(c, RISK_VT_FRAUD, c->k.dev_h))
        risk_fire_std(c, LR_SIG_FRAUD_DEVICE,
                      "device was used in confirmed fraud (last 30 d)");
}

int risk_sig_state(struct risk_ctx *c)
{
    int rc;

    rc = state_lock(c);
    if (rc)
        return rc;
    state_allow(c);
    state_fraud(c);
    return LR_OK;
}

/* ---- geo: R-GEO-1..7 --------------------------------------------------- */

static const char *anonymous_kind(const struct risk_ctx *c)
{
    const struct geo_info *g = &c->out->geo;

    if (g->is_vpn)
        return "anonymous VPN";
    if (g->is_proxy)
        return "proxy";
    if (risk_policy_anonymous_asn(c->p, g->asn))
        return "ASN on anonymous_asns";
    return "anonymous network";
}

/*
 * Fires @p s with its configured points and minimum action and, when its
 * reason is listed, readies @p t to write the detail (the appenders of
 * risk_format.c, for the reasons that fire on many attempts).
 */
static bool fire_text(struct risk_ctx *c, enum lr_signal s, struct risk_text *t)
{
    const struct cfg_signal *cs = &c->p->cfg->signals[s];
    struct risk_reason *r = risk_fire_begin(c, s, cs->points, cs->min_action);

    if (!r)
        return false;
    risk_text_init(t, r->detail, sizeof(r->detail));
    return true;
}

/* R-GEO-1/2: only against a history; a first login is not "new". */
static void sig_new_place(struct risk_ctx *c)
{
    const struct risk_place *pl = &c->place;
    const struct risk_pview *pv = &c->pv;
    struct risk_text t;

    if (pv->has_history && pl->country[0] && !pv->country_seen &&
        fire_text(c, LR_SIG_NEW_COUNTRY, &t)) {
        /* "first login from %s (%zu countries seen before)" */
        risk_text_add(&t, "first login from ");
        risk_text_add(&t, pl->country);
        risk_text_add(&t, " (");
        risk_text_uint(&t, pv->n_countries);
        risk_text_add(&t, " countries seen before)");
    }
    if (pv->has_history && pl->asn && !pv->asn_seen &&
        fire_text(c, LR_SIG_NEW_ASN, &t)) {
        /* "first login from AS%u %s (%zu networks seen before)" */
        risk_text_add(&t, "first login from AS");
        risk_text_uint(&t, pl->asn);
        risk_text_add(&t, " ");
        risk_text_add(&t, c->out->geo.as_org);
        risk_text_add(&t, " (");
        risk_text_uint(&t, pv->n_asns);
        risk_text_add(&t, " networks seen before)");
    }
}

void risk_sig_geo(struct risk_ctx *c)
{
    const struct risk_place *pl = &c->place;
    const struct geo_info *g = &c->out->geo;

    if (!pl->country[0])
        risk_fire_std(c, LR_SIG_GEO_UNKNOWN, "no country known for this IP");
    sig_new_place(c);
    if (risk_policy_high_risk(c->p, pl->country))
        risk_fire_std(c, LR_SIG_HIGH_RISK_COUNTRY,
                      "%s is on the high-risk country list", pl->country);
    if (c->anonymous)
        risk_fire_std(c, LR_SIG_ANONYMOUS_IP, "%s (AS%u %s)", anonymous_kind(c),
                      pl->asn, g->as_org);
    if (c->hosting)
        risk_fire_std(c, LR_SIG_HOSTING_IP, "hosting provider (AS%u %s)",
                      pl->asn, g->as_org);
    if (g->is_tor)
        risk_fire_std(c, LR_SIG_TOR_EXIT, "Tor exit node");
}

/* ---- device: R-DEVICE-1/2 ---------------------------------------------- */

/* "<count> <what><from> in <window> (limit <limit>)" */
static void fire_limit(struct risk_ctx *c, enum lr_signal s, uint32_t count,
                       const char *what, const char *from, int w,
                       uint32_t limit)
{
    const struct cfg_signal *cs = &c->p->cfg->signals[s];
    struct risk_reason *r = risk_fire_begin(c, s, cs->points, cs->min_action);
    struct risk_text t;

    if (!r)
        return;
    risk_text_init(&t, r->detail, sizeof(r->detail));
    risk_text_count(&t, count);
    risk_text_add(&t, " ");
    risk_text_add(&t, what);
    risk_text_add(&t, from);
    risk_text_add(&t, " in ");
    risk_text_add(&t, c->e->span_text[w]);
    risk_text_add(&t, " (limit ");
    risk_text_uint(&t, limit);
    risk_text_add(&t, ")");
}

void risk_sig_device(struct risk_ctx *c)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    const struct risk_pview *pv = &c->pv;
    int w = risk_win_long(c->e);
    struct risk_text t;

    if (pv->has_history && !pv->device_known &&
        fire_text(c, LR_SIG_NEW_DEVICE, &t)) {
        risk_text_add(&t, c->k.has_dev ? "device not among the account's "
                                       : "no device_id sent (account has ");
        risk_text_uint(&t, pv->n_devices);
        risk_text_add(&t, c->k.has_dev ? " known devices" : " known devices)");
    }
    if (c->k.has_dev && v->device_distinct_accounts &&
        c->dev.distinct[w] >= v->device_distinct_accounts)
        fire_limit(c, LR_SIG_DEVICE_DISTINCT_ACCOUNTS, c->dev.distinct[w],
                   "distinct accounts", " from this device", w,
                   v->device_distinct_accounts);
}

/* ---- velocity: R-VEL-1..7 ---------------------------------------------- */

/* " from 192.0.2.10", or with @p bits " from 192.0.2.0/24"; text is only
 * made for a signal that fires. */
static void from_ip(const struct risk_ctx *c, unsigned bits, char *buf,
                    size_t cap)
{
    char text[GEO_IP_TEXT_MAX];
    struct geo_ip pfx;
    struct risk_text t;

    risk_text_init(&t, buf, cap);
    risk_text_add(&t, " from ");
    if (!bits) {
        geo_ip_format(&c->a->ip, text, sizeof(text));
        risk_text_add(&t, text);
        return;
    }
    geo_ip_prefix(&c->a->ip, bits, &pfx);
    geo_ip_format(&pfx, text, sizeof(text));
    risk_text_add(&t, text);
    risk_text_add(&t, "/");
    risk_text_uint(&t, bits);
}

static void sig_ip(struct risk_ctx *c)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    int ws = risk_win_short(c->e), wm = risk_win_mid(c->e);
    bool att = v->ip_attempts && c->ip.attempts[ws] >= v->ip_attempts;
    bool fail = v->ip_failures && c->ip.failures[wm] >= v->ip_failures;
    bool dist = v->ip_distinct_accounts &&
                c->ip.distinct[wm] >= v->ip_distinct_accounts;
    char from[GEO_IP_TEXT_MAX + 16];

    if (!att && !fail && !dist)
        return;
    from_ip(c, 0, from, sizeof(from));
    if (att)
        fire_limit(c, LR_SIG_IP_VELOCITY, c->ip.attempts[ws], "attempts", from,
                   ws, v->ip_attempts);
    else if (fail)
        fire_limit(c, LR_SIG_IP_VELOCITY, c->ip.failures[wm], "failed logins",
                   from, wm, v->ip_failures);
    if (dist)
        fire_limit(c, LR_SIG_IP_DISTINCT_ACCOUNTS, c->ip.distinct[wm],
                   "distinct accounts", from, wm, v->ip_distinct_accounts);
}

/* R-VEL-3: the /24 (IPv4) or /64 and /48 (IPv6) around the address. */
static bool sig_net_one(struct risk_ctx *c, const struct risk_vcounts *vc,
                        unsigned bits)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    int wm = risk_win_mid(c->e);
    bool dist = v->subnet_distinct_accounts &&
                vc->distinct[wm] >= v->subnet_distinct_accounts;
    bool fail = v->subnet_failures && vc->failures[wm] >= v->subnet_failures;
    char from[GEO_IP_TEXT_MAX + 16];

    if (!dist && !fail)
        return false;
    from_ip(c, bits, from, sizeof(from));
    if (dist)
        fire_limit(c, LR_SIG_SUBNET_VELOCITY, vc->distinct[wm],
                   "distinct accounts", from, wm, v->subnet_distinct_accounts);
    else
        fire_limit(c, LR_SIG_SUBNET_VELOCITY, vc->failures[wm], "failed logins",
                   from, wm, v->subnet_failures);
    return true;
}

static void sig_account(struct risk_ctx *c)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    int wm = risk_win_mid(c->e), wl = risk_win_long(c->e);
    const char *known = c->pv.device_known ? " for this account (known "
                                             "device: captcha at most)"
                                           : " for this account";

    if (v->account_failures && c->acct.failures[wm] >= v->account_failures)
        fire_limit(c, LR_SIG_ACCOUNT_FAILURES, c->acct.failures[wm],
                   "failed logins", known, wm, v->account_failures);
    if (v->account_distinct_ips &&
        c->acct.distinct[wl] >= v->account_distinct_ips)
        fire_limit(c, LR_SIG_ACCOUNT_DISTINCT_IPS, c->acct.distinct[wl],
                   "distinct IPs", known, wl, v->account_distinct_ips);
}

static void sig_wave(struct risk_ctx *c)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    char n[32];

    if (!c->wave)
        return;
    risk_fmt_count(n, sizeof(n), c->glob.failures[0]);
    risk_fire_std(c, LR_SIG_ATTACK_WAVE,
                  "%s failed logins in %s, baseline %.1f (factor %.1f)", n,
                  c->e->span_text[0], c->wave_baseline, v->attack_wave_factor);
}

void risk_sig_velocity(struct risk_ctx *c)
{
    const struct cfg_velocity *v = &c->p->cfg->velocity;
    int wm = risk_win_mid(c->e);
    struct risk_text t;
    char from[32];

    sig_ip(c);
    if (!sig_net_one(c, &c->net, c->k.net_bits) && c->k.has_net48)
        sig_net_one(c, &c->net48, 48);
    if (c->place.asn && v->asn_failures &&
        c->asn.failures[wm] >= v->asn_failures) {
        risk_text_init(&t, from, sizeof(from));
        risk_text_add(&t, " from AS");
        risk_text_uint(&t, c->place.asn);
        fire_limit(c, LR_SIG_ASN_VELOCITY, c->asn.failures[wm], "failed logins",
                   from, wm, v->asn_failures);
    }
    sig_account(c);
    sig_wave(c);
}

/* ---- spray: R-SPRAY-1 -------------------------------------------------- */

void risk_sig_spray(struct risk_ctx *c)
{
    const struct risk_spray_view *s = &c->spray;
    const char *span = c->e->spray_span_text;
    char n[32], ip[GEO_IP_TEXT_MAX];

    if (s->fp_sprayed) {
        risk_fmt_count(n, sizeof(n), s->fp_accounts);
        risk_fire_std(c, LR_SIG_PASSWORD_SPRAY,
                      "this password was tried on %s accounts in %s "
                      "(limit %u)",
                      n, span, c->p->cfg->spray.distinct_accounts);
    } else if (s->ip_marked) {
        geo_ip_format(&c->a->ip, ip, sizeof(ip));
        risk_fire_std(c, LR_SIG_PASSWORD_SPRAY,
                      "IP %s used a sprayed password in the last %s", ip, span);
    } else if (s->net_marked) {
        geo_ip_format(&c->k.net_ip, ip, sizeof(ip));
        risk_fire_std(c, LR_SIG_PASSWORD_SPRAY,
                      "network %s/%u used a sprayed password in the last %s",
                      ip, c->k.net_bits, span);
    } else if (s->dev_marked) {
        risk_fire_std(c, LR_SIG_PASSWORD_SPRAY,
                      "device used a sprayed password in the last %s", span);
    }
}

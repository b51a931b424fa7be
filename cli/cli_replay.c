/*
 * cli_replay.c - `riskctl replay`: recorded login events through a draft
 * policy and a baseline, in-process, to see what a change would do before
 * it ships.
 *
 * The events file (one JSON object per line: the LoginAttempt fields, or
 * the agent's decision log as it is) is read whole, each line parsed with
 * risk_event_parse() and indexed by (timestamp, line); the index is sorted
 * so the engines see the events in time order, the way the agent would
 * have, and equal timestamps keep their order in the file. Each engine
 * starts empty (fresh velocity tables, no profiles) with no store, so a
 * replay touches nothing on disk and two runs give the same answer.
 *
 * Without --baseline the baseline is the decision each line recorded (the
 * "action" of a decision-log line); with one, both policies score every
 * event side by side. The tallies - action counts, the flow matrix, the
 * reasons behind the changed decisions and a fixed-seed reservoir sample of
 * them - are the pure part, unit-tested in tests/test_cli_admin.c.
 */
#include "cli/cli_admin.h"

#include "geo/geo.h"
#include "risk/risk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_REPLAY_SEED 0x9e3779b97f4a7c15ull

/* ---- tallies --------------------------------------------------------------
 */

const char *cli_action_short(enum lr_action a)
{
    switch (a) {
    case LR_ACTION_ALLOW:
        return "ALLOW";
    case LR_ACTION_CAPTCHA:
        return "CAPTCHA";
    case LR_ACTION_CHALLENGE_2FA:
        return "2FA";
    case LR_ACTION_LOCK:
        return "LOCK";
    default:
        return "NONE";
    }
}

static unsigned cli_action_index(enum lr_action a)
{
    return (unsigned)a <= LR_ACTION_MAX ? (unsigned)a : 0;
}

void cli_flow_add(struct cli_flow *f, enum lr_action base, enum lr_action draft)
{
    unsigned b = cli_action_index(base), d = cli_action_index(draft);

    f->flow[b][d]++;
    f->baseline[b]++;
    f->draft[d]++;
    f->events++;
    if (b != d)
        f->changed++;
}

static struct cli_reason_tally *cli_reason_find(struct cli_reasons *r,
                                                const char *code)
{
    struct cli_reason_tally *t;

    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->t[i].code, code) == 0)
            return &r->t[i];
    }
    if (r->n == CLI_REASONS_MAX)
        return NULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        t = realloc(r->t, cap * sizeof(*t));
        if (t == NULL)
            return NULL;
        r->t = t;
        r->cap = cap;
    }
    t = &r->t[r->n++];
    memset(t, 0, sizeof(*t));
    lr_strlcpy(t->code, code, sizeof(t->code));
    return t;
}

static bool cli_has_code(const char *const *codes, size_t n, const char *c)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(codes[i], c) == 0)
            return true;
    }
    return false;
}

/* Tallies @p code once for this decision. */
static int cli_reason_tally(struct cli_reasons *r, const char *code,
                            bool in_base, bool in_draft, bool escalated)
{
    struct cli_reason_tally *t = cli_reason_find(r, code);

    if (t == NULL) {
        if (r->n < CLI_REASONS_MAX)
            return LR_NOMEM;
        r->dropped++;
        return LR_OK;
    }
    t->in_changed++;
    if (in_draft && !in_base)
        t->added++;
    if (in_base && !in_draft)
        t->removed++;
    if (escalated)
        t->escalated++;
    return LR_OK;
}

int cli_reasons_add(struct cli_reasons *r, const char *const *base_codes,
                    size_t n_base, const char *const *draft_codes,
                    size_t n_draft, bool escalated)
{
    int rc = LR_OK;

    for (size_t i = 0; rc == LR_OK && i < n_draft; i++) {
        if (cli_has_code(draft_codes, i, draft_codes[i]))
            continue; /* listed twice: count once */
        rc = cli_reason_tally(r, draft_codes[i],
                              cli_has_code(base_codes, n_base, draft_codes[i]),
                              true, escalated);
    }
    for (size_t i = 0; rc == LR_OK && i < n_base; i++) {
        if (cli_has_code(base_codes, i, base_codes[i]) ||
            cli_has_code(draft_codes, n_draft, base_codes[i]))
            continue;
        rc = cli_reason_tally(r, base_codes[i], true, false, escalated);
    }
    return rc;
}

static int cli_reason_cmp(const void *a, const void *b)
{
    const struct cli_reason_tally *x = a, *y = b;

    if (x->in_changed != y->in_changed)
        return x->in_changed > y->in_changed ? -1 : 1;
    return strcmp(x->code, y->code);
}

void cli_reasons_sort(struct cli_reasons *r)
{
    if (r->n > 1)
        qsort(r->t, r->n, sizeof(*r->t), cli_reason_cmp);
}

void cli_reasons_free(struct cli_reasons *r)
{
    free(r->t);
    memset(r, 0, sizeof(*r));
}

/* ---- policies -------------------------------------------------------------
 */

/* A config, its geo databases and an engine on them, with no store. */
struct cli_policy {
    struct cfg *cfg;
    struct geo_db *geo;
    struct risk_engine *engine;
};

static void cli_policy_free(struct cli_policy *p)
{
    risk_engine_free(p->engine);
    geo_db_free(p->geo);
    cfg_free(p->cfg);
    memset(p, 0, sizeof(*p));
}

static void cli_errs_add(struct cfg_errors *errs, const char *msg)
{
    char **m = realloc(errs->msgs, (errs->n + 1) * sizeof(*m));

    if (m == NULL)
        return;
    errs->msgs = m;
    m[errs->n] = strdup(msg);
    if (m[errs->n] != NULL)
        errs->n++;
}

static int cli_policy_open(const char *path, struct cli_policy *p,
                           struct cfg_errors *errs)
{
    struct geo_paths paths;
    char err[512] = "";
    int rc;

    memset(p, 0, sizeof(*p));
    rc = cfg_load_file(path, &p->cfg, errs);
    if (rc)
        return rc;
    paths.city = p->cfg->geo_city;
    paths.asn = p->cfg->geo_asn;
    paths.anonymous = p->cfg->geo_anonymous;
    rc = geo_db_open(&paths, &p->geo, err, sizeof(err));
    if (rc) {
        char msg[700];
        snprintf(msg, sizeof(msg), "%s: geo: %s", path,
                 err[0] ? err : lr_strerror(rc));
        cli_errs_add(errs, msg);
        return LR_CONFIG;
    }
    return risk_engine_new(p->cfg, p->geo, NULL, &p->engine, errs);
}

/* ---- reading events ---------------------------------------------------------
 */

/* One parsed line, in the order the engines will see it. */
struct cli_event_ref {
    int64_t ts;
    unsigned long line;
    size_t off;
    size_t len;
};

static int cli_read_all(const char *path, char **buf, size_t *len, char *err,
                        size_t errcap)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 1 << 20, n = 0, got;
    char *b = NULL, *nb;
    int rc = LR_OK;

    if (f == NULL) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return LR_IO;
    }
    do {
        if (n == cap || b == NULL) {
            cap = b == NULL ? cap : cap * 2;
            nb = cap > CLI_REPLAY_BYTES_MAX ? NULL : realloc(b, cap);
            if (nb == NULL) {
                snprintf(err, errcap,
                         "%s: larger than %llu bytes or out of "
                         "memory",
                         path, (unsigned long long)CLI_REPLAY_BYTES_MAX);
                rc = LR_FULL;
                break;
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (rc == LR_OK && ferror(f)) {
        snprintf(err, errcap, "%s: read error", path);
        rc = LR_IO;
    }
    if (f != stdin)
        fclose(f);
    if (rc) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return LR_OK;
}

static void cli_replay_bad(struct cli_replay *r, unsigned long line,
                           const char *msg)
{
    r->malformed++;
    if (r->n_bad >= CLI_REPLAY_BAD_KEPT)
        return;
    r->bad[r->n_bad].line = line;
    lr_strlcpy(r->bad[r->n_bad].msg, msg, sizeof(r->bad[0].msg));
    r->n_bad++;
}

static int cli_ref_cmp(const void *a, const void *b)
{
    const struct cli_event_ref *x = a, *y = b;

    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Parses every line once to find the good ones and their times. */
static int cli_index(const char *buf, size_t len, struct cli_replay *r,
                     struct risk_event *ev, struct cli_event_ref **out,
                     size_t *n_out)
{
    struct cli_event_ref *refs = NULL, *nr;
    size_t n = 0, cap = 0, pos = 0;
    unsigned long line = 0;
    char err[200];

    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, l = end - pos;
        line++;
        if (l > 0 && strspn(buf + pos, " \t\r") < l) {
            r->lines++;
            if (risk_event_parse(buf + pos, l, ev, err, sizeof(err))) {
                cli_replay_bad(r, line, err);
            } else if (n == CLI_REPLAY_EVENTS_MAX) {
                cli_replay_bad(r, line, "too many events in one replay");
            } else {
                if (n == cap) {
                    cap = cap ? cap * 2 : 4096;
                    nr = realloc(refs, cap * sizeof(*refs));
                    if (nr == NULL) {
                        free(refs);
                        return LR_NOMEM;
                    }
                    refs = nr;
                }
                refs[n++] =
                    (struct cli_event_ref){ev->timestamp_ms, line, pos, l};
            }
        }
        pos = end + 1;
    }
    if (n > 1)
        qsort(refs, n, sizeof(*refs), cli_ref_cmp);
    *out = refs;
    *n_out = n;
    return LR_OK;
}

/* ---- comparing ------------------------------------------------------------
 */

static void cli_side_fill(struct cli_replay_side *s,
                          const struct risk_decision *d)
{
    size_t used = 0;

    s->action = d->action;
    s->score = d->score;
    s->reasons[0] = '\0';
    for (size_t i = 0; i < d->n_reasons && used < sizeof(s->reasons); i++) {
        int k =
            snprintf(s->reasons + used, sizeof(s->reasons) - used, "%s%s(%d)",
                     i ? "," : "", d->reasons[i].code, d->reasons[i].points);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static uint64_t cli_rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* Reservoir sampling: every changed decision is equally likely to be kept. */
static void cli_sample(struct cli_replay *r, const struct risk_event *ev,
                       unsigned long line, const struct risk_decision *base,
                       const struct risk_decision *draft)
{
    struct cli_replay_sample *s;
    uint64_t seen = r->flow.changed; /* this one included */

    if (r->cap_samples == 0)
        return;
    if (r->n_samples < r->cap_samples) {
        s = &r->samples[r->n_samples++];
    } else {
        uint64_t j = cli_rng_next(&r->rng) % seen;
        if (j >= r->cap_samples)
            return;
        s = &r->samples[j];
    }
    s->line = line;
    s->timestamp_ms = ev->timestamp_ms;
    lr_strlcpy(s->account_id, ev->account_id, sizeof(s->account_id));
    geo_ip_format(&ev->ip, s->ip, sizeof(s->ip));
    cli_side_fill(&s->base, base);
    cli_side_fill(&s->draft, draft);
}

/* Samples in time order (then file order), as the events were run. */
static int cli_sample_cmp(const void *a, const void *b)
{
    const struct cli_replay_sample *x = a, *y = b;

    if (x->timestamp_ms != y->timestamp_ms)
        return x->timestamp_ms < y->timestamp_ms ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static size_t cli_codes(const struct risk_decision *d, const char **codes)
{
    size_t n =
        d->n_reasons < RISK_REASONS_MAX ? d->n_reasons : RISK_REASONS_MAX;

    for (size_t i = 0; i < n; i++)
        codes[i] = d->reasons[i].code;
    return n;
}

static int cli_compare(struct cli_replay *r, const struct risk_event *ev,
                       unsigned long line, const struct risk_decision *base,
                       const struct risk_decision *draft)
{
    const char *bc[RISK_REASONS_MAX], *dc[RISK_REASONS_MAX];
    size_t nb = cli_codes(base, bc), nd = cli_codes(draft, dc);

    cli_flow_add(&r->flow, base->action, draft->action);
    if (r->first_ms == 0 || ev->timestamp_ms < r->first_ms)
        r->first_ms = ev->timestamp_ms;
    if (ev->timestamp_ms > r->last_ms)
        r->last_ms = ev->timestamp_ms;
    if (cli_action_index(base->action) == cli_action_index(draft->action))
        return LR_OK;
    cli_sample(r, ev, line, base, draft);
    return cli_reasons_add(&r->reasons, bc, nb, dc, nd,
                           draft->action > base->action);
}

/* ---- the run --------------------------------------------------------------
 */

struct cli_replay_ctx {
    struct cli_policy base, draft;
    bool have_base;
    char *buf;
    size_t len;
    struct cli_event_ref *refs;
    size_t n;
    struct risk_event ev;
};

static int cli_replay_one(struct cli_replay_ctx *c, struct cli_replay *r,
                          const struct cli_event_ref *ref)
{
    struct risk_decision base, draft;
    struct risk_attempt a;
    char id[RISK_REQUEST_ID_MAX], err[200];
    int rc;

    if (risk_event_parse(c->buf + ref->off, ref->len, &c->ev, err, sizeof(err)))
        return LR_INVALID; /* parsed once already: cannot happen */
    risk_event_to_attempt(&c->ev, &a);
    if (c->ev.request_id[0] == '\0') {
        snprintf(id, sizeof(id), "replay-%lu", ref->line);
        a.request_id = id;
    }
    rc = risk_evaluate(c->draft.engine, &a, &draft);
    if (rc == LR_OK && c->have_base)
        rc = risk_evaluate(c->base.engine, &a, &base);
    if (rc) {
        r->failed++;
        return LR_OK;
    }
    if (!c->have_base) {
        memset(&base, 0, sizeof(base));
        base.action = c->ev.action;
        base.score = c->ev.score;
    }
    return cli_compare(r, &c->ev, ref->line, &base, &draft);
}

static int cli_replay_setup(const struct cli_replay_opts *o,
                            struct cli_replay_ctx *c, struct cli_replay *r,
                            struct cfg_errors *errs)
{
    int rc;

    r->bad = calloc(CLI_REPLAY_BAD_KEPT, sizeof(*r->bad));
    r->cap_samples = o->sample;
    r->samples = calloc(o->sample ? o->sample : 1, sizeof(*r->samples));
    r->rng = CLI_REPLAY_SEED;
    if (r->bad == NULL || r->samples == NULL)
        return LR_NOMEM;
    rc = cli_policy_open(o->draft_path, &c->draft, errs);
    if (rc == LR_OK && o->baseline_path != NULL) {
        c->have_base = true;
        rc = cli_policy_open(o->baseline_path, &c->base, errs);
    }
    if (rc)
        return rc;
    r->baseline_recorded = !c->have_base;
    lr_strlcpy(r->draft_version,
               c->draft.cfg->policy_version ? c->draft.cfg->policy_version : "",
               sizeof(r->draft_version));
    lr_strlcpy(r->base_version,
               c->have_base && c->base.cfg->policy_version
                   ? c->base.cfg->policy_version
                   : "recorded",
               sizeof(r->base_version));
    return LR_OK;
}

int cli_replay_run(const struct cli_replay_opts *o, struct cli_replay *r,
                   struct cfg_errors *errs, char *err, size_t errcap)
{
    struct cli_replay_ctx *c = calloc(1, sizeof(*c));
    int64_t start = lr_mono_ns();
    int rc;

    memset(r, 0, sizeof(*r));
    if (errcap > 0)
        err[0] = '\0';
    if (c == NULL)
        return LR_NOMEM;
    rc = cli_replay_setup(o, c, r, errs);
    if (rc == LR_OK)
        rc = cli_read_all(o->events_path, &c->buf, &c->len, err, errcap);
    if (rc == LR_OK)
        rc = cli_index(c->buf, c->len, r, &c->ev, &c->refs, &c->n);
    for (size_t i = 0; rc == LR_OK && i < c->n; i++)
        rc = cli_replay_one(c, r, &c->refs[i]);
    if (rc == LR_OK) {
        cli_reasons_sort(&r->reasons);
        if (r->n_samples > 1)
            qsort(r->samples, r->n_samples, sizeof(*r->samples),
                  cli_sample_cmp);
    }
    if (rc == LR_NOMEM && err[0] == '\0')
        snprintf(err, errcap, "out of memory");
    r->secs = (double)(lr_mono_ns() - start) / 1e9;
    cli_policy_free(&c->draft);
    cli_policy_free(&c->base);
    free(c->refs);
    free(c->buf);
    free(c);
    return rc;
}

void cli_replay_free(struct cli_replay *r)
{
    cli_reasons_free(&r->reasons);
    free(r->bad);
    free(r->samples);
    memset(r, 0, sizeof(*r));
}

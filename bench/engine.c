/*
 * engine.c - loginrisk-bench-engine: the risk engine in-process on one
 * thread, over the same traffic model as the load generator.
 *
 *   loginrisk-bench-engine [--evaluations N] [--warmup N] [--accounts N]
 *       [--keys N] [--profiles N] [--flood N] [--event-rate R]
 *       [--config FILE] [--seed N] [--json]
 *
 * Four measurements, each on a fresh engine with the fixture GeoIP
 * databases and no store (as replay uses it):
 *
 *   throughput  the mix, after a warm-up: evaluations per second, latency
 *               per evaluation, heap allocations per evaluation;
 *   vtable      bytes per velocity-table key: a table made with the
 *               engine's windows, filled to its cap with distinct keys;
 *   profile     bytes per account profile: N accounts each logging in from
 *               home on 4 devices, with every velocity table and the
 *               recent-decision table held at a small full cap, so only the
 *               profiles grow;
 *   flood       (with --flood N) N distinct random IPv6 addresses under the
 *               default caps: live heap before, at its peak and after.
 *
 * Bytes are the usable sizes the allocator handed out (bench_alloc.c),
 * plus RSS as a cross-check. Attempts are generated in batches outside the
 * timed section, so the figures are the engine's alone.
 *
 * Event time is the wall clock by default, so a million evaluations a few
 * seconds apart fill the velocity windows far beyond any real site, and
 * most velocity signals fire. --event-rate R instead spaces attempts 1/R s
 * apart in event time (simulated, running ahead of the clock), so the
 * windows see a site with R logins a second.
 */
#include "bench/bench_alloc.h"
#include "bench/bench_hist.h"
#include "bench/bench_model.h"
#include "bench/bench_opts.h"
#include "config/config.h"
#include "geo/geo.h"
#include "risk/risk.h"
#include "risk/risk_velocity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BE_BATCH 4096
#define BE_RID_MAX 24
#define BE_MAX_COUNT 1000000000ull
#define BE_SMALL_CAP 1024u /* the held-full caps of the profile phase */
#define BE_SLOW_NS 1000000 /* an evaluation over 1 ms is counted by kind */

struct be_opts {
    uint64_t evaluations;
    uint64_t warmup;
    uint32_t keys;
    uint32_t profiles;
    uint64_t flood;
    struct bench_model_opts model; /* seed, accounts; passwords always on */
    double event_rate; /* > 0: event time advances 1/rate s per attempt */
    const char *config;
    bool json;
};

/* One batch of attempts; risk_attempt points into the bench_attempt. */
struct be_batch {
    struct bench_attempt a[BE_BATCH];
    struct risk_attempt ra[BE_BATCH];
    char rid[BE_BATCH][BE_RID_MAX];
    size_t n;
};

struct be_tally {
    uint64_t n;
    int64_t ns;
    uint64_t allocs;
    uint64_t reallocs;
    uint64_t frees;
    uint64_t actions[BENCH_KIND_COUNT][LR_ACTION_MAX + 1];
    uint64_t slow[BENCH_KIND_COUNT]; /* evaluations over BE_SLOW_NS */
    struct bench_hist hist;
};

struct be_ctx {
    struct be_opts o;
    struct cfg *cfg;
    struct geo_db *geo;
    struct bench_model model;
    struct be_batch batch;
    uint64_t seq;
    int64_t event_origin_ms; /* --event-rate: event time of attempt 0 */
    double event_step_ms;    /* --event-rate: 1000 / rate */
    double event_ms;         /* --event-rate: offset of the next attempt */
};

/* ---- setup ------------------------------------------------------------- */

static void be_print_cfg_errors(struct cfg_errors *errs)
{
    size_t i;

    for (i = 0; i < errs->n; i++) {
        fprintf(stderr, "loginrisk-bench-engine: %s\n", errs->msgs[i]);
    }
    cfg_errors_clear(errs);
}

static int be_load_cfg(const char *path, struct cfg **out)
{
    struct cfg_errors errs = {0};
    const char *text;
    int rc;

    if (path) {
        rc = cfg_load_file(path, out, &errs);
    } else {
        text = cfg_default_yaml();
        rc = cfg_load_string("<embedded default>", text, strlen(text), out,
                             &errs);
    }
    be_print_cfg_errors(&errs);
    return rc;
}

static int be_open(struct be_ctx *c)
{
    struct geo_paths paths;
    char err[256] = "";
    int rc;

    rc = be_load_cfg(c->o.config, &c->cfg);
    if (rc) {
        return rc;
    }
    paths.city = c->cfg->geo_city;
    paths.asn = c->cfg->geo_asn;
    paths.anonymous = c->cfg->geo_anonymous;
    rc = geo_db_open(&paths, &c->geo, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "loginrisk-bench-engine: %s\n", err);
    }
    return rc;
}

static int be_engine_new(struct be_ctx *c, const struct cfg *cfg,
                         struct risk_engine **out)
{
    struct cfg_errors errs = {0};
    int rc = risk_engine_new(cfg, c->geo, NULL, out, &errs);

    be_print_cfg_errors(&errs);
    if (rc) {
        fprintf(stderr, "loginrisk-bench-engine: risk_engine_new: %s\n",
                lr_strerror(rc));
    }
    return rc;
}

static long be_rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}

/* ---- batches ----------------------------------------------------------- */

static int be_resolve(struct be_ctx *c, size_t i, int64_t now)
{
    struct bench_attempt *a = &c->batch.a[i];
    struct risk_attempt *ra = &c->batch.ra[i];

    memset(ra, 0, sizeof(*ra));
    if (geo_ip_parse(a->ip, strlen(a->ip), &ra->ip)) {
        fprintf(stderr, "loginrisk-bench-engine: model made bad IP %s\n",
                a->ip);
        return LR_INTERNAL;
    }
    snprintf(c->batch.rid[i], BE_RID_MAX, "b%llu",
             (unsigned long long)c->seq++);
    ra->request_id = c->batch.rid[i];
    ra->account_id = a->account_id;
    ra->device_id = a->device_id;
    ra->user_agent = a->user_agent;
    ra->timestamp_ms = now;
    ra->credential = a->credential;
    ra->fingerprint = a->password_len ? a->fp : NULL;
    return LR_OK;
}

/* Event time of the next attempt: the wall clock, or simulated time. */
static int64_t be_event_ms(struct be_ctx *c)
{
    int64_t t;

    if (c->o.event_rate <= 0.0) {
        return lr_now_ms();
    }
    t = c->event_origin_ms + (int64_t)c->event_ms;
    c->event_ms += c->event_step_ms;
    return t;
}

/* Fills the batch with @p n attempts of the mix (@p kind < 0) or a kind. */
static int be_fill(struct be_ctx *c, size_t n, int kind)
{
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        if (kind < 0) {
            bench_model_next(&c->model, &c->batch.a[i]);
        } else {
            bench_model_make(&c->model, (enum bench_kind)kind, &c->batch.a[i]);
        }
        rc = be_resolve(c, i, be_event_ms(c));
        if (rc) {
            return rc;
        }
    }
    c->batch.n = n;
    return LR_OK;
}

/* Evaluates the batch, timing each call and counting allocations. */
static int be_run(struct be_ctx *c, struct risk_engine *e, struct be_tally *t)
{
    struct bench_alloc_counts a0;
    struct bench_alloc_counts a1;
    struct risk_decision d;
    int64_t t0;
    int64_t t1;
    int64_t start;
    size_t i;
    int rc = LR_OK;

    bench_alloc_get(&a0);
    start = lr_mono_ns();
    for (i = 0; i < c->batch.n && rc == LR_OK; i++) {
        t0 = lr_mono_ns();
        rc = risk_evaluate(e, &c->batch.ra[i], &d);
        t1 = lr_mono_ns();
        bench_hist_record(&t->hist, (uint64_t)(t1 - t0));
        if (t1 - t0 > BE_SLOW_NS) {
            t->slow[c->batch.a[i].kind]++;
        }
        if (rc == LR_OK && (unsigned)d.action <= LR_ACTION_MAX) {
            t->actions[c->batch.a[i].kind][d.action]++;
        }
    }
    t->ns += lr_mono_ns() - start;
    bench_alloc_get(&a1);
    t->n += i;
    t->allocs += a1.allocs - a0.allocs;
    t->reallocs += a1.reallocs - a0.reallocs;
    t->frees += a1.frees - a0.frees;
    if (rc) {
        fprintf(stderr, "loginrisk-bench-engine: risk_evaluate: %s\n",
                lr_strerror(rc));
    }
    return rc;
}

/* Runs @p n attempts of the mix (or one kind) through @p e. */
static int be_drive(struct be_ctx *c, struct risk_engine *e, uint64_t n,
                    int kind, struct be_tally *t)
{
    size_t chunk;
    int rc = LR_OK;

    while (n > 0 && rc == LR_OK) {
        chunk = n < BE_BATCH ? (size_t)n : BE_BATCH;
        rc = be_fill(c, chunk, kind);
        if (rc == LR_OK) {
            rc = be_run(c, e, t);
        }
        n -= chunk;
    }
    return rc;
}

static void be_tally_reset(struct be_tally *t)
{
    memset(t, 0, sizeof(*t));
    bench_hist_reset(&t->hist);
}

/* ---- throughput -------------------------------------------------------- */

static void be_report_actions(const struct be_tally *t)
{
    unsigned k;

    for (k = 0; k < BENCH_KIND_COUNT; k++) {
        const uint64_t *a = t->actions[k];
        if (a[1] + a[2] + a[3] + a[4] == 0) {
            continue;
        }
        printf("  %-8s allow %llu captcha %llu 2fa %llu lock %llu; over 1 "
               "ms %llu\n",
               bench_kind_name((enum bench_kind)k), (unsigned long long)a[1],
               (unsigned long long)a[2], (unsigned long long)a[3],
               (unsigned long long)a[4], (unsigned long long)t->slow[k]);
    }
}

/* Signals fired in the measured window (text report only). */
static void be_report_signals(const struct risk_stats *s0,
                              const struct risk_stats *s1, uint64_t n)
{
    unsigned i;
    int col = 0;

    printf("  signals per 100 evaluations:");
    for (i = 0; i < LR_SIG_COUNT; i++) {
        uint64_t d = s1->by_signal[i] - s0->by_signal[i];
        if (d == 0 || n == 0) {
            continue;
        }
        if (col++ % 4 == 0) {
            printf("\n   ");
        }
        printf(" %s %.1f", lr_signal_code((enum lr_signal)i),
               100.0 * (double)d / (double)n);
    }
    printf("\n");
}

static void be_report_throughput(const struct be_ctx *c,
                                 const struct be_tally *t)
{
    double s = (double)t->ns / 1e9;
    double rate = s > 0.0 ? (double)t->n / s : 0.0;
    double per = t->n ? (double)(t->allocs + t->reallocs) / (double)t->n : 0;

    if (c->o.json) {
        printf("{\"bench\":\"throughput\",\"evaluations\":%llu,"
               "\"seconds\":%.3f,\"evals_per_s\":%.0f,\"p50_us\":%.2f,"
               "\"p99_us\":%.2f,\"p999_us\":%.2f,\"allocs_per_eval\":%.4f,"
               "\"alloc_hooks\":%s,\"accounts\":%u,\"warmup\":%llu}\n",
               (unsigned long long)t->n, s, rate,
               (double)bench_hist_quantile(&t->hist, 0.5) / 1e3,
               (double)bench_hist_quantile(&t->hist, 0.99) / 1e3,
               (double)bench_hist_quantile(&t->hist, 0.999) / 1e3, per,
               bench_alloc_enabled() ? "true" : "false", c->o.model.accounts,
               (unsigned long long)c->o.warmup);
        return;
    }
    printf("throughput: %llu evaluations in %.3f s = %.0f evaluations/s "
           "(one thread)\n",
           (unsigned long long)t->n, s, rate);
    printf("  latency us p50 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
           (double)bench_hist_quantile(&t->hist, 0.5) / 1e3,
           (double)bench_hist_quantile(&t->hist, 0.99) / 1e3,
           (double)bench_hist_quantile(&t->hist, 0.999) / 1e3,
           (double)t->hist.max / 1e3);
    if (bench_alloc_enabled()) {
        printf("  heap allocations per evaluation %.4f (%llu malloc, %llu "
               "realloc, %llu free)\n",
               per, (unsigned long long)t->allocs,
               (unsigned long long)t->reallocs, (unsigned long long)t->frees);
    }
    be_report_actions(t);
}

static int be_throughput(struct be_ctx *c)
{
    struct risk_stats s0;
    struct risk_stats s1;
    struct risk_engine *e = NULL;
    struct be_tally *t = calloc(1, sizeof(*t));
    int rc = LR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    rc = be_engine_new(c, c->cfg, &e);
    if (rc) {
        goto out;
    }
    be_tally_reset(t);
    rc = be_drive(c, e, c->o.warmup, -1, t);
    if (rc) {
        goto out;
    }
    be_tally_reset(t);
    risk_engine_stats(e, &s0);
    rc = be_drive(c, e, c->o.evaluations, -1, t);
    if (rc == LR_OK) {
        risk_engine_stats(e, &s1);
        be_report_throughput(c, t);
        if (!c->o.json) {
            be_report_signals(&s0, &s1, t->n);
        }
    }
out:
    risk_engine_free(e);
    free(t);
    return rc;
}

/* ---- bytes per velocity-table key -------------------------------------- */

static void be_vt_opts(const struct cfg *cfg, uint32_t cap, bool distinct,
                       struct risk_vtable_opts *o)
{
    memset(o, 0, sizeof(*o));
    memcpy(o->windows_s, cfg->velocity.windows_s, sizeof(o->windows_s));
    o->n_windows = cfg->velocity.n_windows;
    o->buckets = cfg->velocity.buckets;
    o->cap = cap;
    o->track_distinct = distinct;
    o->distinct_exact = cfg->limits.distinct_exact;
}

/* Fills a table to its cap with distinct 17-byte keys (as IPv6 keys). */
static int be_vt_fill(struct risk_vtable *vt, uint32_t n)
{
    struct risk_vcounts counts;
    uint8_t key[17] = {6, 0x20, 0x01, 0x0d, 0xb8};
    int64_t now = lr_now_ms();
    uint64_t k;
    uint32_t i;
    int rc = LR_OK;

    for (i = 0; i < n && rc == LR_OK; i++) {
        k = bench_mix64(i);
        memcpy(key + 5, &k, sizeof(k));
        rc = risk_vtable_hit(vt, key, sizeof(key), now, true, bench_mix64(k),
                             &counts);
    }
    return rc;
}

static int be_vtable_one(struct be_ctx *c, bool distinct)
{
    struct risk_vtable_opts o;
    struct risk_vtable *vt = NULL;
    struct bench_alloc_counts a0;
    struct bench_alloc_counts a1;
    uint32_t n = c->o.keys;
    double measured;
    int rc;

    be_vt_opts(c->cfg, n, distinct, &o);
    bench_alloc_get(&a0);
    rc = risk_vtable_new(&o, &vt);
    if (rc == LR_OK) {
        rc = be_vt_fill(vt, n);
    }
    if (rc) {
        fprintf(stderr, "loginrisk-bench-engine: vtable: %s\n",
                lr_strerror(rc));
        goto out;
    }
    bench_alloc_get(&a1);
    measured = (double)(a1.live_bytes - a0.live_bytes) / (double)n;
    if (c->o.json) {
        printf("{\"bench\":\"vtable\",\"track_distinct\":%s,\"keys\":%u,"
               "\"entries\":%zu,\"entry_bytes\":%zu,\"mem_bytes_per_key\":%.1f,"
               "\"heap_bytes_per_key\":%.1f}\n",
               distinct ? "true" : "false", n, risk_vtable_size(vt),
               risk_vtable_entry_bytes(vt),
               (double)risk_vtable_mem_bytes(vt) / (double)n, measured);
    } else {
        printf("vtable (%s, %d windows x %u buckets, cap %u): %zu keys; "
               "entry_bytes %zu, table mem %.1f B/key, heap %.1f B/key\n",
               distinct ? "with distinct members" : "counts only", o.n_windows,
               o.buckets, n, risk_vtable_size(vt), risk_vtable_entry_bytes(vt),
               (double)risk_vtable_mem_bytes(vt) / (double)n, measured);
    }
out:
    risk_vtable_free(vt);
    return rc;
}

static int be_vtable(struct be_ctx *c)
{
    int rc = be_vtable_one(c, false);

    if (rc == LR_OK) {
        rc = be_vtable_one(c, true);
    }
    return rc;
}

/* ---- bytes per account profile ----------------------------------------- */

/* A copy of the config whose tables, other than profiles, stay small. */
static void be_small_caps(struct cfg *cfg, uint32_t profiles)
{
    struct cfg_limits *l = &cfg->limits;

    l->ip_entries = BE_SMALL_CAP;
    l->subnet_entries = BE_SMALL_CAP;
    l->asn_entries = BE_SMALL_CAP;
    l->account_entries = BE_SMALL_CAP;
    l->device_entries = BE_SMALL_CAP;
    l->spray_entries = BE_SMALL_CAP;
    l->recent_decisions = BE_SMALL_CAP;
    l->profile_cache = profiles + 8 * BE_SMALL_CAP;
}

/* Account @p first + i logs in from home on devices 0..3. */
static int be_home_logins(struct be_ctx *c, struct risk_engine *e,
                          uint32_t first, uint32_t n, struct be_tally *t)
{
    uint32_t i = 0;
    size_t k;
    int rc = LR_OK;

    while (i < n && rc == LR_OK) {
        int64_t now = lr_now_ms();
        for (k = 0; k + 4 <= BE_BATCH && i < n && rc == LR_OK; i++) {
            for (uint32_t d = 0; d < 4 && rc == LR_OK; d++, k++) {
                bench_model_home_login(&c->model, first + i, d, &c->batch.a[k]);
                rc = be_resolve(c, k, now);
            }
        }
        c->batch.n = k;
        if (rc == LR_OK) {
            rc = be_run(c, e, t);
        }
    }
    return rc;
}

static void be_report_profile(const struct be_ctx *c, int64_t bytes,
                              long rss_kib, const struct risk_stats *s0,
                              const struct risk_stats *s1)
{
    uint64_t made = s1->profile_entries - s0->profile_entries;
    double per = made ? (double)bytes / (double)made : 0.0;
    double rss = made ? (double)rss_kib * 1024.0 / (double)made : 0.0;

    if (c->o.json) {
        printf("{\"bench\":\"profile\",\"accounts\":%u,\"devices\":4,"
               "\"profiles\":%llu,\"heap_bytes_per_profile\":%.1f,"
               "\"rss_bytes_per_profile\":%.1f,\"table_entries_delta\":%lld}"
               "\n",
               c->o.profiles, (unsigned long long)made, per, rss,
               (long long)(s1->table_entries - s0->table_entries));
        return;
    }
    printf("profile: %u accounts x 4 devices, %llu profiles made: heap %.1f "
           "B/profile, RSS %.1f B/profile (velocity tables held full: "
           "%+lld entries)\n",
           c->o.profiles, (unsigned long long)made, per, rss,
           (long long)(s1->table_entries - s0->table_entries));
}

static int be_profile(struct be_ctx *c, struct cfg *small)
{
    struct risk_engine *e = NULL;
    struct be_tally *t = calloc(1, sizeof(*t));
    struct bench_alloc_counts a0;
    struct bench_alloc_counts a1;
    struct risk_stats s0;
    struct risk_stats s1;
    long rss0;
    int rc = LR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    be_tally_reset(t);
    be_small_caps(small, c->o.profiles);
    rc = be_engine_new(c, small, &e);
    if (rc) {
        goto out;
    }
    /* fill every small table to its cap with other accounts first */
    rc = be_home_logins(c, e, c->o.profiles, 4 * BE_SMALL_CAP, t);
    if (rc) {
        goto out;
    }
    risk_engine_stats(e, &s0);
    bench_alloc_get(&a0);
    rss0 = be_rss_kib();
    rc = be_home_logins(c, e, 0, c->o.profiles, t);
    if (rc) {
        goto out;
    }
    bench_alloc_get(&a1);
    risk_engine_stats(e, &s1);
    be_report_profile(c, a1.live_bytes - a0.live_bytes, be_rss_kib() - rss0,
                      &s0, &s1);
out:
    risk_engine_free(e);
    free(t);
    return rc;
}

/* ---- flood ------------------------------------------------------------- */

/*
 * @p base is the heap before the engine was made, @p fresh what making it
 * took; peak and end are absolute.
 */
static void be_report_flood(const struct be_ctx *c, int64_t base, int64_t fresh,
                            int64_t peak, int64_t end, long rss0, long rss1,
                            const struct risk_stats *s)
{
    if (c->o.json) {
        printf("{\"bench\":\"flood\",\"addresses\":%llu,"
               "\"engine_fresh_bytes\":%lld,\"engine_peak_bytes\":%lld,"
               "\"engine_end_bytes\":%lld,\"rss_kib_before\":%ld,"
               "\"rss_kib_after\":%ld,\"table_entries\":%llu,"
               "\"evictions\":%llu,\"profile_entries\":%llu,"
               "\"recent_entries\":%llu}\n",
               (unsigned long long)c->o.flood, (long long)fresh,
               (long long)(peak - base), (long long)(end - base), rss0, rss1,
               (unsigned long long)s->table_entries,
               (unsigned long long)s->evictions,
               (unsigned long long)s->profile_entries,
               (unsigned long long)s->recent_entries);
        return;
    }
    printf("flood: %llu distinct IPv6 addresses under the configured caps: "
           "engine heap %.1f MiB fresh, %.1f MiB at peak, %.1f MiB after; "
           "process RSS %ld -> %ld KiB\n",
           (unsigned long long)c->o.flood, (double)fresh / 1048576.0,
           (double)(peak - base) / 1048576.0, (double)(end - base) / 1048576.0,
           rss0, rss1);
    printf("  table entries %llu, evictions %llu, profiles %llu, recent "
           "decisions %llu\n",
           (unsigned long long)s->table_entries,
           (unsigned long long)s->evictions,
           (unsigned long long)s->profile_entries,
           (unsigned long long)s->recent_entries);
}

static int be_flood(struct be_ctx *c)
{
    struct risk_engine *e = NULL;
    struct be_tally *t = calloc(1, sizeof(*t));
    struct bench_alloc_counts a0;
    struct bench_alloc_counts a1;
    struct risk_stats s;
    int64_t fresh;
    long rss0;
    int rc = LR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    be_tally_reset(t);
    bench_alloc_get(&a0);
    rc = be_engine_new(c, c->cfg, &e);
    if (rc) {
        goto out;
    }
    bench_alloc_get(&a1);
    fresh = a1.live_bytes - a0.live_bytes;
    bench_alloc_reset_peak();
    rss0 = be_rss_kib();
    rc = be_drive(c, e, c->o.flood, BENCH_KIND_FLOOD, t);
    if (rc) {
        goto out;
    }
    bench_alloc_get(&a1);
    risk_engine_stats(e, &s);
    be_report_flood(c, a0.live_bytes, fresh, a1.peak_bytes, a1.live_bytes, rss0,
                    be_rss_kib(), &s);
out:
    risk_engine_free(e);
    free(t);
    return rc;
}

/* ---- command line ------------------------------------------------------ */

static void be_usage(FILE *f)
{
    fprintf(f, "usage: loginrisk-bench-engine [--evaluations N] [--warmup N] "
               "[--accounts N]\n"
               "         [--keys N] [--profiles N] [--flood N] "
               "[--event-rate R] [--config FILE]\n"
               "         [--seed N] [--json]\n"
               "defaults: --evaluations 2000000 --warmup 1000000 --accounts "
               "100000 --keys 100000\n"
               "          --profiles 100000 --flood 0 (off), --event-rate 0 "
               "(event time = wall clock),\n"
               "          the embedded default config\n");
}

static const struct option be_longopts[] = {
    {"evaluations", required_argument, NULL, 'n'},
    {"warmup", required_argument, NULL, 'w'},
    {"accounts", required_argument, NULL, BENCH_OPT_ACCOUNTS},
    {"keys", required_argument, NULL, 'k'},
    {"profiles", required_argument, NULL, 'p'},
    {"flood", required_argument, NULL, 'f'},
    {"config", required_argument, NULL, 'c'},
    {"seed", required_argument, NULL, BENCH_OPT_SEED},
    {"event-rate", required_argument, NULL, 'e'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int be_parse_one(void *ctx, int opt, const char *arg)
{
    struct be_opts *o = ctx;
    int rc = bench_model_opt(&o->model, opt, arg);

    if (rc != LR_NOTFOUND) {
        return rc;
    }
    switch (opt) {
    case 'n':
        return bench_opt_u64(arg, BE_MAX_COUNT, &o->evaluations);
    case 'w':
        return bench_opt_u64(arg, BE_MAX_COUNT, &o->warmup);
    case 'k':
        return bench_opt_u32(arg, 1u << 26, &o->keys);
    case 'p':
        return bench_opt_u32(arg, 10000000, &o->profiles);
    case 'f':
        return bench_opt_u64(arg, BE_MAX_COUNT, &o->flood);
    case 'c':
        o->config = arg;
        return LR_OK;
    case 'e':
        return bench_opt_number(arg, 1e9, &o->event_rate);
    case 'j':
        o->json = true;
        return LR_OK;
    default:
        return LR_INVALID;
    }
}

/* 0 to run, 1 after --help, 2 on a usage error. */
static int be_parse(int argc, char **argv, struct be_opts *o)
{
    const struct bench_cmdline cl = {"loginrisk-bench-engine", be_longopts,
                                     be_usage, be_parse_one, o};
    int rc;

    memset(o, 0, sizeof(*o));
    o->evaluations = 2000000;
    o->warmup = 1000000;
    o->keys = 100000;
    o->profiles = 100000;
    bench_model_opts_default(&o->model);
    rc = bench_opts_parse(&cl, argc, argv);
    if (rc) {
        return rc;
    }
    if (o->model.accounts == 0 || o->keys == 0 || o->profiles == 0) {
        be_usage(stderr);
        return 2;
    }
    return 0;
}

static int be_all(struct be_ctx *c)
{
    struct cfg *small = NULL;
    int rc;

    c->event_origin_ms = lr_now_ms();
    c->event_step_ms = c->o.event_rate > 0.0 ? 1000.0 / c->o.event_rate : 0;
    /* profiles first: RSS still grows then, before freed engines leave
     * resident free memory behind */
    rc = bench_model_init(&c->model, &c->o.model, 1);
    if (rc == LR_OK) {
        rc = be_load_cfg(c->o.config, &small);
    }
    if (rc == LR_OK) {
        rc = be_profile(c, small);
    }
    if (rc == LR_OK) {
        rc = be_vtable(c);
    }
    if (rc == LR_OK) {
        rc = be_throughput(c);
    }
    if (rc == LR_OK && c->o.flood > 0) {
        rc = be_flood(c);
    }
    cfg_free(small);
    return rc;
}

int main(int argc, char **argv)
{
    struct be_ctx *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL) {
        return 1;
    }
    rc = be_parse(argc, argv, &c->o);
    if (rc) {
        free(c);
        return rc == 1 ? 0 : 2;
    }
    lr_log_set_level(LR_LOG_WARN);
    if (!bench_alloc_enabled() && !c->o.json) {
        printf("# sanitizer build: allocation counters are off, heap "
               "figures read 0\n");
    }
    rc = be_open(c);
    if (rc == LR_OK) {
        rc = be_all(c);
    }
    if (rc) {
        fprintf(stderr, "loginrisk-bench-engine: %s\n", lr_strerror(rc));
    }
    geo_db_free(c->geo);
    cfg_free(c->cfg);
    free(c);
    return rc ? 1 : 0;
}

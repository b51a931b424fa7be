/*
 * agent_metrics.c - the agent's Prometheus metrics: counters in atomics,
 * rendered as the text exposition format (0.0.4) on demand.
 *
 * Writers are the gRPC worker threads, one relaxed atomic add per counter,
 * never a lock on the request path. The one exception is the first time a
 * new RULE:<name> reason code is seen: its slot is claimed under a mutex and
 * published with a release store, so readers scan the published slots with
 * no lock. Rule names come from the config, so the table is bounded; codes
 * past it are counted together as RULE:_other.
 *
 * Values other modules count already (engine tables, store queue, decision
 * log) are not mirrored: the pull callback reads them at scrape time, so a
 * scrape always shows their current value.
 *
 * Histogram buckets are stored per bucket (not cumulative) and summed when
 * rendered; _count is the sum of the buckets, so it always equals the
 * le="+Inf" bucket even while writers race the scrape.
 */
#include "agent/agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_STATUS_COUNT LR_GRPC_STATUS_COUNT
#define METRICS_STATUS_UNKNOWN 2

/* RPC latency buckets, in seconds; +Inf is implicit. */
static const double metrics_buckets_s[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0,
};
#define METRICS_BUCKETS LR_ARRAY_LEN(metrics_buckets_s)

static const char *const metrics_method_names[AGENT_RPC_COUNT] = {
    [AGENT_RPC_EVALUATE] = "loginrisk.v1.RiskService/Evaluate",
    [AGENT_RPC_REPORT_OUTCOME] = "loginrisk.v1.RiskService/ReportOutcome",
    [AGENT_RPC_HEALTH_CHECK] = "grpc.health.v1.Health/Check",
    [AGENT_RPC_LOCK_ACCOUNTS] = "loginrisk.v1.AdminService/LockAccounts",
    [AGENT_RPC_UNLOCK_ACCOUNTS] = "loginrisk.v1.AdminService/UnlockAccounts",
    [AGENT_RPC_LOCK_BY_QUERY] = "loginrisk.v1.AdminService/LockByQuery",
    [AGENT_RPC_GET_ACCOUNT] = "loginrisk.v1.AdminService/GetAccount",
    [AGENT_RPC_LIST_LOCKS] = "loginrisk.v1.AdminService/ListLocks",
    [AGENT_RPC_RELOAD_CONFIG] = "loginrisk.v1.AdminService/ReloadConfig",
    [AGENT_RPC_LIST_AUDIT] = "loginrisk.v1.AdminService/ListAudit",
    [AGENT_RPC_OTHER] = "other",
};

static const char *const metrics_admin_names[AGENT_ADMIN_KIND_COUNT] = {
    [AGENT_ADMIN_LOCK] = "lock",
    [AGENT_ADMIN_UNLOCK] = "unlock",
    [AGENT_ADMIN_LOCK_BY_QUERY] = "lock_by_query",
    [AGENT_ADMIN_RELOAD] = "reload_config",
};

typedef atomic_uint_fast64_t metrics_counter;

struct metrics_histogram {
    metrics_counter buckets[METRICS_BUCKETS + 1]; /* last: above all */
    metrics_counter sum_ns;
};

struct metrics_rule {
    char code[RISK_CODE_MAX];
    metrics_counter count;
};

struct agent_metrics {
    char version[64];
    agent_metrics_pull_fn pull;
    void *pull_arg;
    int64_t start_s;
    uint64_t bucket_ns[METRICS_BUCKETS];

    metrics_counter rpc[AGENT_RPC_COUNT][METRICS_STATUS_COUNT];
    struct metrics_histogram latency[AGENT_RPC_COUNT];
    metrics_counter actions[LR_ACTION_MAX + 1];
    metrics_counter signals[LR_SIG_COUNT];
    metrics_counter reasons_other; /* a code in no table: RULE:_other */
    struct metrics_rule rules[AGENT_METRICS_RULES_MAX];
    atomic_size_t n_rules; /* published slots */
    pthread_mutex_t rules_mu;
    metrics_counter admin[AGENT_ADMIN_KIND_COUNT];
    metrics_counter admin_accounts[AGENT_ADMIN_KIND_COUNT];
    metrics_counter reloads_ok;
    metrics_counter reloads_failed;
    metrics_counter geo_reload_failures;
};

static void metrics_add(metrics_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t metrics_get(metrics_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- life ---------------------------------------------------------------- */

int agent_metrics_new(const char *version, agent_metrics_pull_fn pull,
                      void *pull_arg, struct agent_metrics **out)
{
    struct agent_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return LR_NOMEM;
    lr_strlcpy(m->version, version != NULL ? version : "", sizeof(m->version));
    m->pull = pull;
    m->pull_arg = pull_arg;
    m->start_s = lr_now_ms() / 1000;
    for (size_t i = 0; i < METRICS_BUCKETS; i++)
        m->bucket_ns[i] = (uint64_t)(metrics_buckets_s[i] * 1e9 + 0.5);
    pthread_mutex_init(&m->rules_mu, NULL);
    *out = m;
    return LR_OK;
}

void agent_metrics_free(struct agent_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->rules_mu);
    free(m);
}

/* ---- counting ------------------------------------------------------------ */

enum agent_rpc_method agent_metrics_method(const char *path)
{
    if (path == NULL)
        return AGENT_RPC_OTHER;
    if (path[0] == '/')
        path++;
    for (int i = 0; i < AGENT_RPC_OTHER; i++) {
        if (strcmp(path, metrics_method_names[i]) == 0)
            return (enum agent_rpc_method)i;
    }
    return AGENT_RPC_OTHER;
}

void agent_metrics_rpc(struct agent_metrics *m, enum agent_rpc_method method,
                       int status, int64_t duration_ns)
{
    struct metrics_histogram *h;
    uint64_t ns = duration_ns > 0 ? (uint64_t)duration_ns : 0;
    size_t b = 0;

    if (m == NULL)
        return;
    if ((unsigned)method >= AGENT_RPC_COUNT)
        method = AGENT_RPC_OTHER;
    if (status < 0 || status >= METRICS_STATUS_COUNT)
        status = METRICS_STATUS_UNKNOWN;
    metrics_add(&m->rpc[method][status], 1);
    while (b < METRICS_BUCKETS && ns > m->bucket_ns[b])
        b++;
    h = &m->latency[method];
    metrics_add(&h->buckets[b], 1);
    metrics_add(&h->sum_ns, ns);
}

/* The slot counting @p code (a RULE:<name>), claimed on first sight. */
static metrics_counter *metrics_rule_slot(struct agent_metrics *m,
                                          const char *code)
{
    size_t n = atomic_load_explicit(&m->n_rules, memory_order_acquire);
    metrics_counter *c = &m->reasons_other;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(m->rules[i].code, code) == 0)
            return &m->rules[i].count;
    }
    pthread_mutex_lock(&m->rules_mu);
    n = atomic_load_explicit(&m->n_rules, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m->rules[i].code, code) == 0) {
            c = &m->rules[i].count;
            goto out;
        }
    }
    if (n < AGENT_METRICS_RULES_MAX) {
        lr_strlcpy(m->rules[n].code, code, sizeof(m->rules[n].code));
        c = &m->rules[n].count;
        atomic_store_explicit(&m->n_rules, n + 1, memory_order_release);
    }
out:
    pthread_mutex_unlock(&m->rules_mu);
    return c;
}

void agent_metrics_decision(struct agent_metrics *m,
                            const struct risk_decision *d)
{
    size_t n;

    if (m == NULL || d == NULL)
        return;
    if ((unsigned)d->action <= LR_ACTION_MAX)
        metrics_add(&m->actions[d->action], 1);
    n = d->n_reasons < RISK_REASONS_MAX ? d->n_reasons : RISK_REASONS_MAX;
    for (size_t i = 0; i < n; i++) {
        char code[RISK_CODE_MAX];
        enum lr_signal sig;

        lr_strlcpy(code, d->reasons[i].code, sizeof(code));
        if (lr_signal_parse(code, &sig) == LR_OK)
            metrics_add(&m->signals[sig], 1);
        else
            metrics_add(metrics_rule_slot(m, code), 1);
    }
}

void agent_metrics_admin(struct agent_metrics *m, enum agent_admin_kind kind,
                         uint64_t accounts_changed)
{
    if (m == NULL || (unsigned)kind >= AGENT_ADMIN_KIND_COUNT)
        return;
    metrics_add(&m->admin[kind], 1);
    metrics_add(&m->admin_accounts[kind], accounts_changed);
}

void agent_metrics_config_reload(struct agent_metrics *m, bool ok)
{
    if (m != NULL)
        metrics_add(ok ? &m->reloads_ok : &m->reloads_failed, 1);
}

void agent_metrics_geo_reload_failed(struct agent_metrics *m)
{
    if (m != NULL)
        metrics_add(&m->geo_reload_failures, 1);
}

/* ---- the text format ----------------------------------------------------- */

/* A growing page with a hard cap; once cut, every append is ignored. */
struct metrics_text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void mt_printf(struct metrics_text *t, const char *fmt, ...)
    LR_PRINTF(2, 3);

static void mt_printf(struct metrics_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        if (t->failed)
            return;
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t want = t->cap * 2;
        char *np = want <= AGENT_METRICS_TEXT_MAX ? realloc(t->p, want) : NULL;
        if (np == NULL) {
            t->failed = true;
            return;
        }
        t->p = np;
        t->cap = want;
    }
}

/* A label value with \\, \" and \n escaped, as the format requires. */
static void mt_label_value(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    for (; *s != '\0' && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void mt_head(struct metrics_text *t, const char *name, const char *type,
                    const char *help)
{
    mt_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void mt_value(struct metrics_text *t, const char *name, uint64_t v)
{
    mt_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

static void mt_labeled(struct metrics_text *t, const char *name,
                       const char *label, const char *value, uint64_t v)
{
    char esc[2 * RISK_CODE_MAX + 8];

    mt_label_value(value, esc, sizeof(esc));
    mt_printf(t, "%s{%s=\"%s\"} %llu\n", name, label, esc,
              (unsigned long long)v);
}

/* ---- the families -------------------------------------------------------- */

static void render_decisions(struct agent_metrics *m, struct metrics_text *t)
{
    size_t n = atomic_load_explicit(&m->n_rules, memory_order_acquire);

    mt_head(t, "loginrisk_evaluations_total", "counter",
            "Evaluate decisions by action.");
    for (int a = LR_ACTION_ALLOW; a <= LR_ACTION_MAX; a++)
        mt_labeled(t, "loginrisk_evaluations_total", "action",
                   lr_action_name((enum lr_action)a),
                   metrics_get(&m->actions[a]));
    mt_head(t, "loginrisk_reasons_total", "counter",
            "Reasons in decisions by code (RULE:_other: rules past the "
            "table).");
    for (int s = 0; s < LR_SIG_COUNT; s++)
        mt_labeled(t, "loginrisk_reasons_total", "code",
                   lr_signal_code((enum lr_signal)s),
                   metrics_get(&m->signals[s]));
    for (size_t i = 0; i < n; i++)
        mt_labeled(t, "loginrisk_reasons_total", "code", m->rules[i].code,
                   metrics_get(&m->rules[i].count));
    if (metrics_get(&m->reasons_other) > 0)
        mt_labeled(t, "loginrisk_reasons_total", "code", "RULE:_other",
                   metrics_get(&m->reasons_other));
}

static void render_rpc_totals(struct agent_metrics *m, struct metrics_text *t)
{
    mt_head(t, "loginrisk_rpc_total", "counter",
            "Finished RPCs by method and gRPC status code.");
    for (int i = 0; i < AGENT_RPC_COUNT; i++) {
        for (int c = 0; c < METRICS_STATUS_COUNT; c++) {
            uint64_t v = metrics_get(&m->rpc[i][c]);
            if (v > 0)
                mt_printf(t,
                          "loginrisk_rpc_total{method=\"%s\",code=\"%s\"} "
                          "%llu\n",
                          metrics_method_names[i], lr_grpc_status_name(c),
                          (unsigned long long)v);
        }
    }
}

static void render_histogram(struct metrics_text *t, const char *method,
                             struct metrics_histogram *h)
{
    const char *name = "loginrisk_rpc_duration_seconds";
    uint64_t cum = 0;

    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        cum += metrics_get(&h->buckets[b]);
        mt_printf(t, "%s_bucket{method=\"%s\",le=\"%g\"} %llu\n", name, method,
                  metrics_buckets_s[b], (unsigned long long)cum);
    }
    cum += metrics_get(&h->buckets[METRICS_BUCKETS]);
    mt_printf(t, "%s_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", name, method,
              (unsigned long long)cum);
    mt_printf(t, "%s_sum{method=\"%s\"} %.9f\n", name, method,
              (double)metrics_get(&h->sum_ns) / 1e9);
    mt_printf(t, "%s_count{method=\"%s\"} %llu\n", name, method,
              (unsigned long long)cum);
}

static void render_rpc(struct agent_metrics *m, struct metrics_text *t)
{
    render_rpc_totals(m, t);
    mt_head(t, "loginrisk_rpc_duration_seconds", "histogram",
            "RPC latency from arrival to status, by method.");
    for (int i = 0; i < AGENT_RPC_COUNT; i++) {
        uint64_t seen = 0;
        for (size_t b = 0; b <= METRICS_BUCKETS; b++)
            seen += metrics_get(&m->latency[i].buckets[b]);
        /* the served methods always; others once they were called */
        if (seen > 0 || i <= AGENT_RPC_HEALTH_CHECK)
            render_histogram(t, metrics_method_names[i], &m->latency[i]);
    }
}

static void render_admin(struct agent_metrics *m, struct metrics_text *t)
{
    mt_head(t, "loginrisk_admin_actions_total", "counter",
            "Admin actions carried out (dry runs excluded), by kind.");
    for (int k = 0; k < AGENT_ADMIN_KIND_COUNT; k++)
        mt_labeled(t, "loginrisk_admin_actions_total", "kind",
                   metrics_admin_names[k], metrics_get(&m->admin[k]));
    mt_head(t, "loginrisk_admin_accounts_changed_total", "counter",
            "Accounts whose lock state admin actions changed, by kind.");
    for (int k = 0; k < AGENT_ADMIN_KIND_COUNT; k++)
        if (k != AGENT_ADMIN_RELOAD)
            mt_labeled(t, "loginrisk_admin_accounts_changed_total", "kind",
                       metrics_admin_names[k],
                       metrics_get(&m->admin_accounts[k]));
    mt_head(t, "loginrisk_config_reloads_total", "counter",
            "Config reloads (SIGHUP or ReloadConfig) by result.");
    mt_labeled(t, "loginrisk_config_reloads_total", "result", "success",
               metrics_get(&m->reloads_ok));
    mt_labeled(t, "loginrisk_config_reloads_total", "result", "failure",
               metrics_get(&m->reloads_failed));
    mt_head(t, "loginrisk_geo_reload_failures_total", "counter",
            "Geo database reloads refused (the old databases were kept).");
    mt_value(t, "loginrisk_geo_reload_failures_total",
             metrics_get(&m->geo_reload_failures));
}

static void render_engine(const struct agent_metrics_pull *p,
                          struct metrics_text *t)
{
    const struct risk_stats *e = &p->engine;

    mt_head(t, "loginrisk_table_entries", "gauge",
            "Entries in all velocity tables.");
    mt_value(t, "loginrisk_table_entries", e->table_entries);
    mt_head(t, "loginrisk_table_evictions_total", "counter",
            "Velocity table entries evicted to stay under the caps.");
    mt_value(t, "loginrisk_table_evictions_total", e->evictions);
    mt_head(t, "loginrisk_profile_cache_entries", "gauge",
            "Account profiles held in memory.");
    mt_value(t, "loginrisk_profile_cache_entries", e->profile_entries);
    mt_head(t, "loginrisk_recent_decisions_entries", "gauge",
            "Decisions kept for ReportOutcome joins.");
    mt_value(t, "loginrisk_recent_decisions_entries", e->recent_entries);
    mt_head(t, "loginrisk_auto_locks_total", "counter",
            "Automatic locks placed (confirmed fraud, spray success).");
    mt_value(t, "loginrisk_auto_locks_total", e->auto_locks);
    mt_head(t, "loginrisk_spray_fingerprints_total", "counter",
            "Password fingerprints counted for spray detection (R-SPRAY-1).");
    mt_value(t, "loginrisk_spray_fingerprints_total", e->spray_done);
}

static void render_geo(const struct agent_metrics_pull *p,
                       struct metrics_text *t)
{
    int64_t now = lr_now_ms() / 1000, built = p->geo_build_epoch_s;
    int64_t age = built > 0 && now > built ? now - built : 0;
    bool stale = built > 0 && p->geo_max_age_days > 0 &&
                 age > (int64_t)p->geo_max_age_days * 86400;

    mt_head(t, "loginrisk_geo_database_build_timestamp_seconds", "gauge",
            "Build time of the oldest open geo database (0: none open).");
    mt_printf(t, "loginrisk_geo_database_build_timestamp_seconds %lld\n",
              (long long)built);
    mt_head(t, "loginrisk_geo_database_age_seconds", "gauge",
            "Age of the oldest open geo database (0: none open).");
    mt_printf(t, "loginrisk_geo_database_age_seconds %lld\n", (long long)age);
    mt_head(t, "loginrisk_geo_database_stale", "gauge",
            "1 when the oldest geo database is older than geo.max_age_days.");
    mt_value(t, "loginrisk_geo_database_stale", stale ? 1 : 0);
}

static void render_commit_kind(struct metrics_text *t, const char *kind,
                               const struct store_commit_hist *h)
{
    const char *name = "loginrisk_store_commit_seconds";
    const double *bounds = store_commit_bounds();

    for (size_t b = 0; b < STORE_COMMIT_BUCKETS; b++)
        mt_printf(t, "%s_bucket{kind=\"%s\",le=\"%g\"} %llu\n", name, kind,
                  bounds[b], (unsigned long long)h->le[b]);
    mt_printf(t, "%s_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n", name, kind,
              (unsigned long long)h->count);
    mt_printf(t, "%s_sum{kind=\"%s\"} %.9f\n", name, kind, h->sum_s);
    mt_printf(t, "%s_count{kind=\"%s\"} %llu\n", name, kind,
              (unsigned long long)h->count);
}

/* Store commit times (the store keeps them; read at scrape time). */
static void render_commits(const struct agent_metrics_pull *p,
                           struct metrics_text *t)
{
    mt_head(t, "loginrisk_store_commit_seconds", "histogram",
            "Store write transaction commit time: history = the writer "
            "thread's batches, lock = lock, unlock and audit writes.");
    render_commit_kind(t, "history", &p->store_commits.history);
    render_commit_kind(t, "lock", &p->store_commits.lock);
}

static void render_pulled(const struct agent_metrics_pull *p,
                          struct metrics_text *t)
{
    if (p->has_engine)
        render_engine(p, t);
    mt_head(t, "loginrisk_spray_skipped_total", "counter",
            "Failed passwords not fingerprinted because the spray pool was "
            "full.");
    mt_value(t, "loginrisk_spray_skipped_total", p->spray_skipped);
    mt_head(t, "loginrisk_spray_failed_total", "counter",
            "Password fingerprints that failed.");
    mt_value(t, "loginrisk_spray_failed_total", p->spray_failed);
    if (p->has_store) {
        mt_head(t, "loginrisk_store_queue_depth", "gauge",
                "Writes waiting for the store's writer thread.");
        mt_value(t, "loginrisk_store_queue_depth", p->store_queue_depth);
        mt_head(t, "loginrisk_store_dropped_writes_total", "counter",
                "Store writes dropped because the queue was full.");
        mt_value(t, "loginrisk_store_dropped_writes_total",
                 p->store_dropped_writes);
        mt_head(t, "loginrisk_store_history_trimmed_batches_total", "counter",
                "History batches deleted to keep the database under "
                "store.max_bytes.");
        mt_value(t, "loginrisk_store_history_trimmed_batches_total",
                 p->store_trimmed_batches);
        mt_head(t, "loginrisk_store_writable", "gauge",
                "1 while the state store can be written (else health "
                "NOT_SERVING).");
        mt_value(t, "loginrisk_store_writable", p->store_writable ? 1 : 0);
        render_commits(p, t);
    }
    render_geo(p, t);
    mt_head(t, "loginrisk_draining", "gauge",
            "1 once SIGTERM was received and the agent is draining.");
    mt_value(t, "loginrisk_draining", p->draining ? 1 : 0);
}

static void render_declog(const struct agent_metrics_pull *p,
                          struct metrics_text *t)
{
    const struct agent_declog_stats *s = &p->declog;

    mt_head(t, "loginrisk_decision_log_lines_total", "counter",
            "Decision log lines written.");
    mt_value(t, "loginrisk_decision_log_lines_total", s->written);
    mt_head(t, "loginrisk_decision_log_errors_total", "counter",
            "Decision log lines lost to open, write or format errors.");
    mt_value(t, "loginrisk_decision_log_errors_total", s->errors);
    mt_head(t, "loginrisk_decision_log_dropped_total", "counter",
            "Decision log lines dropped because the queue was full.");
    mt_value(t, "loginrisk_decision_log_dropped_total", s->dropped);
    mt_head(t, "loginrisk_decision_log_queue_depth", "gauge",
            "Decision log lines waiting for the writer.");
    mt_value(t, "loginrisk_decision_log_queue_depth", s->queued);
}

static void render_info(struct agent_metrics *m,
                        const struct agent_metrics_pull *p,
                        struct metrics_text *t)
{
    char version[2 * sizeof(m->version)];
    char policy[2 * RISK_VERSION_MAX];

    mt_label_value(m->version, version, sizeof(version));
    mt_label_value(p->policy_version, policy, sizeof(policy));
    mt_head(t, "loginrisk_info", "gauge",
            "Build version and current policy version.");
    mt_printf(t, "loginrisk_info{version=\"%s\",policy_version=\"%s\"} 1\n",
              version, policy);
    mt_head(t, "loginrisk_start_time_seconds", "gauge",
            "Start time of the agent, Unix seconds.");
    mt_printf(t, "loginrisk_start_time_seconds %lld\n", (long long)m->start_s);
}

int agent_metrics_render(struct agent_metrics *m, char **out, size_t *len_out)
{
    struct agent_metrics_pull *p = calloc(1, sizeof(*p));
    struct metrics_text t = {.cap = 16384};
    int rc = LR_OK;

    t.p = malloc(t.cap);
    if (p == NULL || t.p == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    if (m->pull != NULL)
        m->pull(m->pull_arg, p);
    p->policy_version[sizeof(p->policy_version) - 1] = '\0';
    render_info(m, p, &t);
    render_decisions(m, &t);
    render_rpc(m, &t);
    render_admin(m, &t);
    render_pulled(p, &t);
    if (p->has_declog)
        render_declog(p, &t);
    if (t.failed) {
        rc = LR_NOMEM;
        goto out;
    }
    *out = t.p;
    *len_out = t.len;
    t.p = NULL;
out:
    free(t.p);
    free(p);
    return rc;
}

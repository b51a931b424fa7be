/*
 * agent_state.c - what the agent is running on: config, geo databases,
 * engine, store and spray pool, and how SIGHUP replaces them.
 *
 * The config and the geo databases opened from it form one immutable
 * snapshot. Handlers take a reference to the current snapshot for as long as
 * they read it, and a reload publishes a new one only after every step of it
 * worked (load, overrides, validation, geo, policy compilation), so a bad
 * file or a corrupt database leaves the old config, geo and policy serving
 * untouched. The engine, its hot state and the store live for the whole
 * process; only the engine's policy is swapped.
 */
#include "agent/agent.h"
#include "agent/agent_auth.h"
#include "agent/agent_jobs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define AGENT_ERR_MAX 512
#define AGENT_STORE_QUEUE 65536

/* Appends one message to @p errs (cfg_errors_clear frees it). */
static void agent_errors_add(struct cfg_errors *errs, const char *fmt, ...)
    LR_PRINTF(2, 3);

static void agent_errors_add(struct cfg_errors *errs, const char *fmt, ...)
{
    char buf[AGENT_ERR_MAX];
    char **msgs;
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
    if (errs->n >= CFG_ERRORS_MAX)
        return;
    msgs = realloc(errs->msgs, (errs->n + 1) * sizeof(*msgs));
    if (msgs == NULL)
        return;
    errs->msgs = msgs;
    msgs[errs->n] = strdup(buf);
    if (msgs[errs->n] != NULL)
        errs->n++;
}

/* ---- config with command-line overrides --------------------------------- */

static int agent_config_override(const struct agent_opts *o, struct cfg *cfg)
{
    int rc = LR_OK;

    if (o->n_listen > 0)
        rc = cfg_set_listeners(cfg, o->listen, o->n_listen);
    if (!rc && o->state_dir != NULL)
        rc = cfg_set_string(&cfg->state_dir, o->state_dir);
    if (!rc && o->geo_city != NULL)
        rc = cfg_set_string(&cfg->geo_city, o->geo_city);
    if (!rc && o->geo_asn != NULL)
        rc = cfg_set_string(&cfg->geo_asn, o->geo_asn);
    if (!rc && o->geo_anonymous != NULL)
        rc = cfg_set_string(&cfg->geo_anonymous, o->geo_anonymous);
    if (!rc && o->decision_log != NULL)
        rc = cfg_set_string(&cfg->logging.decision_log, o->decision_log);
    if (!rc && o->metrics_listen != NULL)
        rc = cfg_set_string(&cfg->metrics_listen, o->metrics_listen);
    return rc;
}

static bool agent_has_overrides(const struct agent_opts *o)
{
    return o->n_listen > 0 || o->state_dir != NULL || o->geo_city != NULL ||
           o->geo_asn != NULL || o->geo_anonymous != NULL ||
           o->decision_log != NULL || o->metrics_listen != NULL;
}

int agent_config_load(const struct agent_opts *o, struct cfg **out,
                      struct cfg_errors *errs)
{
    struct cfg *cfg = NULL;
    const char *text;
    int rc;

    if (o->config_path != NULL) {
        rc = cfg_load_file(o->config_path, &cfg, errs);
    } else {
        text = cfg_default_yaml();
        rc = cfg_load_string("<embedded default>", text, strlen(text), &cfg,
                             errs);
    }
    if (rc)
        goto out;
    if (agent_has_overrides(o)) {
        rc = agent_config_override(o, cfg);
        if (rc) {
            agent_errors_add(errs, "<command line>: %s", lr_strerror(rc));
            goto out;
        }
        rc = cfg_validate(cfg, errs);
        if (rc)
            goto out;
    }
    *out = cfg;
    cfg = NULL;
out:
    cfg_free(cfg);
    return rc;
}

/* ---- geo files ---------------------------------------------------------- */

void agent_file_sig_read(const char *path, struct agent_file_sig *out)
{
    struct stat sb;

    memset(out, 0, sizeof(*out));
    if (path == NULL || stat(path, &sb) != 0)
        return;
    out->exists = true;
    out->dev = (uint64_t)sb.st_dev;
    out->ino = (uint64_t)sb.st_ino;
    out->size = (uint64_t)sb.st_size;
    out->mtime_ns =
        (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
}

bool agent_file_sig_eq(const struct agent_file_sig *a,
                       const struct agent_file_sig *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static void agent_geo_paths(const struct cfg *cfg,
                            const char *out[AGENT_GEO_SLOTS])
{
    out[AGENT_GEO_CITY] = cfg->geo_city;
    out[AGENT_GEO_ASN] = cfg->geo_asn;
    out[AGENT_GEO_ANONYMOUS] = cfg->geo_anonymous;
}

/*
 * Opens the databases @p cfg names; @p sig (may be NULL) gets each file's
 * signature as it was just before the open, so a file replaced during the
 * open shows as changed at the watcher's next look, never as seen.
 */
static int agent_geo_open(const struct cfg *cfg, struct geo_db **out,
                          struct agent_file_sig *sig, struct cfg_errors *errs)
{
    struct geo_paths paths = {
        .city = cfg->geo_city,
        .asn = cfg->geo_asn,
        .anonymous = cfg->geo_anonymous,
    };
    const char *files[AGENT_GEO_SLOTS];
    char err[AGENT_ERR_MAX] = "";
    int rc;

    agent_geo_paths(cfg, files);
    for (int i = 0; sig != NULL && i < AGENT_GEO_SLOTS; i++)
        agent_file_sig_read(files[i], &sig[i]);
    rc = geo_db_open(&paths, out, err, sizeof(err));
    if (rc)
        agent_errors_add(errs, "%s", err[0] ? err : lr_strerror(rc));
    return rc;
}

int agent_config_check(const struct agent_opts *o, struct cfg_errors *errs)
{
    struct cfg *cfg = NULL;
    struct geo_db *geo = NULL;
    struct risk_engine *e = NULL;
    int rc;

    rc = agent_config_load(o, &cfg, errs);
    if (rc)
        goto out;
    rc = agent_geo_open(cfg, &geo, NULL, errs);
    if (rc)
        goto out;
    rc = risk_engine_new(cfg, geo, NULL, &e, errs);
out:
    risk_engine_free(e);
    geo_db_free(geo);
    cfg_free(cfg);
    return rc;
}

/* ---- snapshots ---------------------------------------------------------- */

/*
 * A config shared by the snapshots made from it: a geo reload publishes a
 * new snapshot with new databases and the same config, and the config lives
 * until the last snapshot holding it is gone.
 */
struct agent_cfg_ref {
    struct cfg *cfg;
    atomic_uint refs;
};

static void agent_cfg_ref_put(struct agent_cfg_ref *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    cfg_free(r->cfg);
    free(r);
}

/* A snapshot without databases on @p ref's config (a reference taken). */
static struct agent_snapshot *agent_snapshot_alloc(struct agent_cfg_ref *ref)
{
    struct agent_snapshot *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    atomic_fetch_add(&ref->refs, 1);
    s->cfg_ref = ref;
    s->cfg = ref->cfg;
    return s;
}

/* *@p geo_failed (may be NULL) tells a geo failure from a config one. */
static int agent_snapshot_new(const struct agent_opts *o,
                              struct agent_snapshot **out, bool *geo_failed,
                              struct cfg_errors *errs)
{
    struct agent_cfg_ref *ref = calloc(1, sizeof(*ref));
    struct agent_snapshot *s = NULL;
    int rc;

    if (ref == NULL)
        return LR_NOMEM;
    atomic_init(&ref->refs, 1);
    rc = agent_config_load(o, &ref->cfg, errs);
    if (rc)
        goto out;
    s = agent_snapshot_alloc(ref);
    if (s == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    rc = agent_geo_open(s->cfg, &s->geo, s->geo_sig, errs);
    if (rc && geo_failed != NULL)
        *geo_failed = true;
    if (rc)
        goto out;
    *out = s;
    s = NULL;
out:
    agent_snapshot_put(s);
    agent_cfg_ref_put(ref);
    return rc;
}

void agent_snapshot_put(struct agent_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    geo_db_free(s->geo);
    agent_cfg_ref_put(s->cfg_ref);
    free(s);
}

struct agent_snapshot *agent_state_get(struct agent_state *st)
{
    struct agent_snapshot *s;

    pthread_mutex_lock(&st->mu);
    s = st->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&st->mu);
    return s;
}

/* ---- open and close ----------------------------------------------------- */

static int agent_store_open(struct agent_state *st, const struct cfg *cfg,
                            struct cfg_errors *errs)
{
    struct store_opts so = {
        .dir = cfg->state_dir,
        .retention_days = cfg->history_retention_days,
        .batch = cfg->history_batch,
        .queue_cap = AGENT_STORE_QUEUE,
        .max_bytes = (uint64_t)cfg->state_max_size_mb << 20,
    };
    char err[AGENT_ERR_MAX] = "";
    int rc;

    rc = store_open(&so, &st->store, err, sizeof(err));
    if (rc)
        agent_errors_add(errs, "%s", err[0] ? err : lr_strerror(rc));
    return rc;
}

static int agent_spray_open(struct agent_state *st, const struct cfg *cfg,
                            struct cfg_errors *errs)
{
    char path[4096];
    uint8_t *pepper = NULL;
    size_t len = 0;
    int rc;

    if (!cfg->spray.enabled)
        return LR_OK;
    if (cfg->spray.pepper_file != NULL)
        lr_strlcpy(path, cfg->spray.pepper_file, sizeof(path));
    else
        snprintf(path, sizeof(path), "%s/spray.pepper", cfg->state_dir);
    rc = risk_spray_load_pepper(path, &pepper, &len);
    if (rc) {
        agent_errors_add(errs, "%s: cannot read or create the pepper: %s", path,
                         lr_strerror(rc));
        goto out;
    }
    rc = risk_spray_pool_new(&cfg->spray, pepper, len, &st->spray);
    if (rc)
        agent_errors_add(errs, "spray pool: %s", lr_strerror(rc));
out:
    if (pepper != NULL) {
        lr_wipe(pepper, len);
        free(pepper);
    }
    return rc;
}

int agent_state_open(const struct agent_opts *o, struct agent_state **out,
                     struct cfg_errors *errs)
{
    struct agent_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL)
        return LR_NOMEM;
    st->opts = o;
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->reload_mu, NULL);
    if (getrandom(&st->request_prefix, sizeof(st->request_prefix), 0) !=
        (ssize_t)sizeof(st->request_prefix))
        st->request_prefix = (uint64_t)lr_now_ms() ^ (uint64_t)lr_mono_ns();
    rc = agent_snapshot_new(o, &st->cur, NULL, errs);
    if (rc)
        goto out;
    rc = agent_store_open(st, st->cur->cfg, errs);
    if (rc)
        goto out;
    rc = risk_engine_new(st->cur->cfg, st->cur->geo, st->store, &st->engine,
                         errs);
    if (rc)
        goto out;
    rc = agent_spray_open(st, st->cur->cfg, errs);
    if (rc)
        goto out;
    rc = agent_jobs_new(AGENT_JOBS_THREADS, AGENT_JOBS_QUEUE, &st->jobs);
    if (rc) {
        agent_errors_add(errs, "blocking-work threads: %s", lr_strerror(rc));
        goto out;
    }
    rc = agent_auth_new(&st->auth);
    if (rc) {
        agent_errors_add(errs, "admin authentication: %s", lr_strerror(rc));
        goto out;
    }
    /* a private copy of the startup config, to tell at reload which changes
     * need a restart; a failure here only loses that warning */
    if (agent_config_load(o, &st->boot_cfg, errs) != LR_OK)
        cfg_errors_clear(errs);
    *out = st;
    st = NULL;
out:
    agent_state_free(st);
    return rc;
}

void agent_state_free(struct agent_state *st)
{
    if (st == NULL)
        return;
    /* the pools first: their jobs still use the engine */
    agent_jobs_free(st->jobs);
    agent_auth_free(st->auth);
    risk_spray_pool_free(st->spray);
    risk_engine_free(st->engine);
    store_close(st->store);
    agent_snapshot_put(st->cur);
    cfg_free(st->boot_cfg);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->reload_mu);
    free(st);
}

/* ---- reload ------------------------------------------------------------- */

static bool agent_str_eq(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool agent_listeners_eq(const struct cfg *a, const struct cfg *b)
{
    if (a->n_listeners != b->n_listeners)
        return false;
    for (size_t i = 0; i < a->n_listeners; i++) {
        const struct cfg_listener *x = &a->listeners[i], *y = &b->listeners[i];
        if (!agent_str_eq(x->address, y->address) ||
            !agent_str_eq(x->tls_cert, y->tls_cert) ||
            !agent_str_eq(x->tls_key, y->tls_key) ||
            !agent_str_eq(x->client_ca, y->client_ca) ||
            x->services != y->services)
            return false;
    }
    return true;
}

/* Settings read once at start: say so when a reload changes them. */
static void agent_warn_restart(const struct cfg *old, const struct cfg *new)
{
    const char *what[10];
    size_t n = 0;

    if (!agent_listeners_eq(old, new))
        what[n++] = "listeners";
    if (old->workers != new->workers)
        what[n++] = "agent.workers";
    if (old->max_message_bytes != new->max_message_bytes)
        what[n++] = "agent.max_message_bytes";
    if (!agent_str_eq(old->state_dir, new->state_dir) ||
        old->history_batch != new->history_batch ||
        old->state_max_size_mb != new->state_max_size_mb ||
        old->history_retention_days != new->history_retention_days)
        what[n++] = "state";
    if (old->spray.enabled != new->spray.enabled ||
        old->spray.threads != new->spray.threads ||
        old->spray.queue != new->spray.queue ||
        old->spray.t_cost != new->spray.t_cost ||
        old->spray.m_cost_kib != new->spray.m_cost_kib ||
        !agent_str_eq(old->spray.pepper_file, new->spray.pepper_file))
        what[n++] = "spray pool";
    if (old->admin_max_message_bytes != new->admin_max_message_bytes)
        what[n++] = "agent.admin_max_message_bytes";
    if (!agent_str_eq(old->logging.decision_log, new->logging.decision_log) ||
        old->logging.account != new->logging.account ||
        !agent_str_eq(old->logging.pseudonym_key_file,
                      new->logging.pseudonym_key_file))
        what[n++] = "logging.decision_log, logging.account, "
                    "logging.pseudonym_key_file";
    if (!agent_str_eq(old->metrics_listen, new->metrics_listen))
        what[n++] = "metrics.listen";
    for (size_t i = 0; i < n; i++)
        lr_log(LR_LOG_WARN, "reload: %s changed; takes effect after restart",
               what[i]);
}

static void agent_publish(struct agent_state *st, struct agent_snapshot *s)
{
    struct agent_snapshot *old;

    pthread_mutex_lock(&st->mu);
    old = st->cur;
    st->cur = s;
    pthread_mutex_unlock(&st->mu);
    if (s->cfg != old->cfg) {
        agent_warn_restart(st->boot_cfg != NULL ? st->boot_cfg : old->cfg,
                           s->cfg);
        lr_log_set_level(s->cfg->logging.level);
        if (st->server != NULL)
            agent_server_set_max_inflight(st->server, s->cfg->max_inflight);
    }
    agent_geo_age_check(s, lr_now_ms() / 1000, "after the reload");
    agent_snapshot_put(old);
}

int agent_state_reload(struct agent_state *st, bool dry_run,
                       struct cfg_errors *errs)
{
    struct agent_snapshot *s = NULL;
    struct risk_engine *check = NULL;
    bool geo_failed = false;
    int rc;

    pthread_mutex_lock(&st->reload_mu);
    rc = agent_snapshot_new(st->opts, &s, &geo_failed, errs);
    if (rc)
        goto out;
    if (dry_run) {
        rc = risk_engine_new(s->cfg, s->geo, NULL, &check, errs);
        goto out;
    }
    rc = risk_engine_set_policy(st->engine, s->cfg, s->geo, errs);
    if (rc)
        goto out;
    agent_publish(st, s);
    s = NULL;
out:
    pthread_mutex_unlock(&st->reload_mu);
    if (!dry_run) {
        agent_metrics_config_reload(st->metrics, rc == LR_OK);
        if (geo_failed)
            agent_metrics_geo_reload_failed(st->metrics);
    }
    risk_engine_free(check);
    agent_snapshot_put(s);
    return rc;
}

int agent_state_reload_geo(struct agent_state *st, struct cfg_errors *errs)
{
    struct agent_snapshot *cur, *s = NULL;
    int rc;

    pthread_mutex_lock(&st->reload_mu);
    cur = agent_state_get(st);
    s = agent_snapshot_alloc(cur->cfg_ref);
    if (s == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    rc = agent_geo_open(s->cfg, &s->geo, s->geo_sig, errs);
    if (rc)
        goto out;
    rc = risk_engine_set_policy(st->engine, s->cfg, s->geo, errs);
    if (rc)
        goto out;
    agent_publish(st, s);
    s = NULL;
out:
    pthread_mutex_unlock(&st->reload_mu);
    if (rc)
        agent_metrics_geo_reload_failed(st->metrics);
    agent_snapshot_put(s);
    agent_snapshot_put(cur);
    return rc;
}

int64_t agent_geo_age_check(struct agent_snapshot *snap, int64_t now_s,
                            const char *why)
{
    int64_t built = geo_db_build_epoch(snap->geo);
    int64_t age = built > 0 && now_s > built ? now_s - built : 0;
    uint32_t max_days = snap->cfg->geo_max_age_days;
    char geo[256];

    if (built > 0 && max_days > 0 && age > (int64_t)max_days * 86400) {
        geo_db_describe(snap->geo, geo, sizeof(geo));
        lr_log(LR_LOG_WARN,
               "geo databases %s: the oldest was built %lld days ago, more "
               "than geo.max_age_days (%u) %s; check geoipupdate",
               geo, (long long)(age / 86400), max_days, why);
    }
    return age;
}

bool agent_serving(struct agent_state *st)
{
    return !atomic_load(&st->draining) &&
           (st->store == NULL || store_writable(st->store));
}

void agent_request_id_new(struct agent_state *st, char *buf, size_t cap)
{
    uint64_t seq = atomic_fetch_add(&st->request_seq, 1);

    snprintf(buf, cap, "%016llx%016llx", (unsigned long long)st->request_prefix,
             (unsigned long long)seq);
}

/*
 * agent_watch.c - the agent's housekeeping thread: geo database files, their
 * age, and whether the store can still be written.
 *
 * Geo databases are replaced under a running agent: geoipupdate writes a
 * temporary file and renames it over the old one, an operator may copy a
 * file in place. The thread looks at the configured files once a second
 * (stat: device, inode, size, mtime - a rename changes the inode, a rewrite
 * the size or mtime) and compares them with what the current snapshot was
 * opened from. A change is acted on once it has held still for one more
 * look, so a file still being copied is not opened half-written; then
 * agent_state_reload_geo() opens the new set whole and swaps it in the way
 * SIGHUP does. A set that fails to open (corrupt, wrong type, missing) keeps
 * the old databases serving, is counted, and is not retried until the files
 * change again. Polling rather than inotify: it needs no watch on
 * directories the agent may not own, survives the directory itself being
 * replaced, and costs three stat() calls a second.
 *
 * The same thread probes the store with a one-page write (store_probe())
 * every few seconds, and at every look while it is unwritable, so the
 * health service turns NOT_SERVING when the disk fills or goes read-only
 * and SERVING again when it recovers, without waiting for a lock to fail.
 * Nothing here runs on a gRPC thread.
 */
#include "agent/agent.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGENT_AGE_WARN_S 86400 /* repeat the stale-geo warning daily */

struct agent_geowatch {
    struct agent_state *st;
    uint32_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool stop;
    /* thread only */
    struct agent_file_sig pending[AGENT_GEO_SLOTS]; /* a change seen once */
    bool has_pending;
    struct agent_file_sig failed[AGENT_GEO_SLOTS]; /* a set that failed */
    bool has_failed;
    int64_t last_probe_ns;
    int64_t last_age_warn_ns;
};

static bool agent_sigs_eq(const struct agent_file_sig *a,
                          const struct agent_file_sig *b)
{
    for (int i = 0; i < AGENT_GEO_SLOTS; i++)
        if (!agent_file_sig_eq(&a[i], &b[i]))
            return false;
    return true;
}

static void agent_watch_sigs(const struct cfg *cfg,
                             struct agent_file_sig out[AGENT_GEO_SLOTS])
{
    agent_file_sig_read(cfg->geo_city, &out[AGENT_GEO_CITY]);
    agent_file_sig_read(cfg->geo_asn, &out[AGENT_GEO_ASN]);
    agent_file_sig_read(cfg->geo_anonymous, &out[AGENT_GEO_ANONYMOUS]);
}

static void agent_watch_reload(struct agent_geowatch *w,
                               const struct agent_file_sig *now)
{
    struct cfg_errors errs = {0};
    int rc;

    lr_log(LR_LOG_INFO, "geo databases changed on disk: reloading them");
    rc = agent_state_reload_geo(w->st, &errs);
    if (rc) {
        for (size_t i = 0; i < errs.n; i++)
            lr_log(LR_LOG_ERROR, "%s", errs.msgs[i]);
        lr_log(LR_LOG_ERROR,
               "geo reload refused (%s); the previous databases keep "
               "serving until the files change again",
               lr_strerror(rc));
        memcpy(w->failed, now, sizeof(w->failed));
        w->has_failed = true;
    } else {
        w->has_failed = false;
        lr_log(LR_LOG_INFO, "geo databases reloaded");
    }
    cfg_errors_clear(&errs);
}

/* One look at the geo files. */
static void agent_watch_geo(struct agent_geowatch *w)
{
    struct agent_snapshot *snap = agent_state_get(w->st);
    struct agent_file_sig now[AGENT_GEO_SLOTS];
    bool changed, stable;

    agent_watch_sigs(snap->cfg, now);
    changed = !agent_sigs_eq(now, snap->geo_sig);
    agent_snapshot_put(snap);
    if (!changed || (w->has_failed && agent_sigs_eq(now, w->failed))) {
        w->has_pending = false;
        return;
    }
    stable = w->has_pending && agent_sigs_eq(now, w->pending);
    memcpy(w->pending, now, sizeof(w->pending));
    w->has_pending = !stable;
    if (stable)
        agent_watch_reload(w, now);
}

static void agent_watch_store(struct agent_geowatch *w, int64_t now_ns)
{
    struct store *store = w->st->store;
    bool was;

    if (store == NULL || store_read_only(store))
        return;
    was = store_writable(store);
    if (was && now_ns - w->last_probe_ns < AGENT_STORE_PROBE_MS * 1000000LL)
        return;
    w->last_probe_ns = now_ns;
    if (store_probe(store) != LR_OK && was)
        lr_log(LR_LOG_ERROR, "state store cannot be written: health "
                             "NOT_SERVING until it can");
    else if (!was && store_writable(store))
        lr_log(LR_LOG_INFO, "state store writable again: health SERVING");
}

static void agent_watch_age(struct agent_geowatch *w, int64_t now_ns)
{
    struct agent_snapshot *snap;

    if (now_ns - w->last_age_warn_ns < AGENT_AGE_WARN_S * 1000000000LL)
        return;
    w->last_age_warn_ns = now_ns;
    snap = agent_state_get(w->st);
    agent_geo_age_check(snap, lr_now_ms() / 1000, "(daily check)");
    agent_snapshot_put(snap);
}

/* Sleeps @p ms or until stopped; true when stopped. */
static bool agent_watch_sleep(struct agent_geowatch *w, uint32_t ms)
{
    struct timespec at;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += ms / 1000;
    at.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->stop &&
           pthread_cond_timedwait(&w->cond, &w->mu, &at) != ETIMEDOUT)
        ;
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

static void *agent_watch_main(void *arg)
{
    struct agent_geowatch *w = arg;

    /* the start already warned about old databases: next warning in a day */
    w->last_age_warn_ns = lr_mono_ns();
    while (!agent_watch_sleep(w, w->interval_ms)) {
        int64_t now = lr_mono_ns();
        agent_watch_geo(w);
        agent_watch_store(w, now);
        agent_watch_age(w, now);
    }
    return NULL;
}

int agent_watch_start(struct agent_state *st, uint32_t interval_ms,
                      struct agent_geowatch **out)
{
    struct agent_geowatch *w = calloc(1, sizeof(*w));
    pthread_condattr_t ca;
    int rc = LR_INTERNAL;

    if (w == NULL)
        return LR_NOMEM;
    w->st = st;
    w->interval_ms = interval_ms > 0 ? interval_ms : AGENT_WATCH_INTERVAL_MS;
    w->last_probe_ns = lr_mono_ns();
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_condattr_init(&ca) == 0) {
        if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
            pthread_cond_init(&w->cond, &ca) == 0)
            rc = LR_OK;
        pthread_condattr_destroy(&ca);
    }
    if (rc)
        goto out;
    if (pthread_create(&w->thread, NULL, agent_watch_main, w) != 0) {
        pthread_cond_destroy(&w->cond);
        rc = LR_INTERNAL;
        goto out;
    }
    *out = w;
    w = NULL;
out:
    if (w != NULL) {
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
    return rc;
}

void agent_watch_stop(struct agent_geowatch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

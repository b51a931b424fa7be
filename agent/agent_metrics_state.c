/*
 * agent_metrics_state.c - the metrics' pull callback for the running agent:
 * what the engine, the store, the spray pool and the decision log count
 * already, read at scrape time rather than mirrored.
 *
 * It runs on the metrics HTTP thread while workers serve, so it only calls
 * what the modules declare safe from any thread (risk_engine_stats(),
 * store_queue_depth(), store_commit_stats(), store_trim_stats(),
 * agent_declog_stats()) and reads the config through a snapshot reference,
 * which a concurrent reload cannot free.
 */
#include "agent/agent.h"

void agent_metrics_pull_state(void *arg, struct agent_metrics_pull *out)
{
    const struct agent_metrics_sources *src = arg;
    struct agent_state *st = src->st;
    struct agent_snapshot *snap;
    struct store_trim_stats trim;

    if (st->engine != NULL) {
        risk_engine_stats(st->engine, &out->engine);
        out->has_engine = true;
    }
    out->spray_skipped = atomic_load(&st->spray_skipped);
    out->spray_failed = atomic_load(&st->spray_failed);
    if (st->store != NULL) {
        out->has_store = true;
        out->store_queue_depth = store_queue_depth(st->store);
        out->store_dropped_writes = store_dropped_writes(st->store);
        store_trim_stats(st->store, &trim);
        out->store_trimmed_batches = trim.batches;
        out->store_writable = store_writable(st->store);
        store_commit_stats(st->store, &out->store_commits);
    }
    if (src->declog != NULL) {
        out->has_declog = true;
        agent_declog_stats(src->declog, &out->declog);
    }
    out->draining = atomic_load(&st->draining);
    snap = agent_state_get(st);
    out->geo_build_epoch_s = geo_db_build_epoch(snap->geo);
    out->geo_max_age_days = snap->cfg->geo_max_age_days;
    lr_strlcpy(out->policy_version,
               snap->cfg->policy_version != NULL ? snap->cfg->policy_version
                                                 : "",
               sizeof(out->policy_version));
    agent_snapshot_put(snap);
}

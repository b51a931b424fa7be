/*
 * agent_main.c - loginrisk-agent: command line, startup, signals, drain.
 *
 * SIGINT, SIGTERM and SIGHUP are blocked before any thread exists (gRPC's,
 * the store writer, the spray pool), so every thread inherits the mask and
 * only the main thread takes them, with sigwait(): no handler runs in an
 * async-signal context and reload and drain are ordinary code.
 *
 *   SIGHUP           reload the config (same file, same overrides) and the
 *                    geo databases; any error keeps everything as it was;
 *                    reopen the decision log (logrotate)
 *   SIGTERM, SIGINT  health NOT_SERVING, stop accepting, let calls in flight
 *                    finish (agent.drain_timeout_ms), cancel the rest, close
 *                    the store (flushing it), exit 0
 *
 * Exit codes: 0 fine, 1 a config or startup error, 2 a usage error.
 */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

/* serving on while health says NOT_SERVING */
#define AGENT_DRAIN_GRACE_MS 100

#ifndef LR_VERSION
#define LR_VERSION "0.0.0"
#endif

enum agent_mode {
    AGENT_MODE_RUN,
    AGENT_MODE_CHECK,
    AGENT_MODE_VERSION,
    AGENT_MODE_HELP,
};

static const char agent_usage[] =
    "usage: loginrisk-agent [--config FILE] [--listen ADDR]... "
    "[--state-dir DIR]\n"
    "                       [--geo-city FILE] [--geo-asn FILE] "
    "[--geo-anonymous FILE]\n"
    "                       [--decision-log FILE] [--metrics-listen ADDR]\n"
    "                       [--check-config] [--version] [--help]\n"
    "\n"
    "Serves loginrisk.v1.RiskService, loginrisk.v1.AdminService and\n"
    "grpc.health.v1.Health over gRPC. Flags override the config file; with\n"
    "no --config the embedded default is used. ADDR is host:port,\n"
    "[v6]:port or unix:/absolute/path; several --listen replace the\n"
    "file's listeners (plaintext, all services).\n"
    "\n"
    "  --decision-log FILE    JSON lines, one per decision "
    "(logging.decision_log)\n"
    "  --metrics-listen ADDR  Prometheus /metrics on host:port "
    "(metrics.listen)\n"
    "  --check-config   validate the config, geo databases and policy, then\n"
    "                   exit (0 = fine, 1 = errors as file:line on stderr)\n"
    "  SIGHUP reloads the config; SIGTERM/SIGINT drain and exit 0.\n";

/* ---- command line ------------------------------------------------------- */

static int agent_parse_opt(int c, struct agent_opts *o, enum agent_mode *mode)
{
    switch (c) {
    case 'c':
        o->config_path = optarg;
        return LR_OK;
    case 'l':
        if (o->n_listen == AGENT_LISTENERS_MAX) {
            fprintf(stderr, "loginrisk-agent: at most %d --listen\n",
                    AGENT_LISTENERS_MAX);
            return LR_INVALID;
        }
        o->listen[o->n_listen++] = optarg;
        return LR_OK;
    case 's':
        o->state_dir = optarg;
        return LR_OK;
    case 'C':
        o->geo_city = optarg;
        return LR_OK;
    case 'A':
        o->geo_asn = optarg;
        return LR_OK;
    case 'N':
        o->geo_anonymous = optarg;
        return LR_OK;
    case 'D':
        o->decision_log = optarg;
        return LR_OK;
    case 'M':
        o->metrics_listen = optarg;
        return LR_OK;
    case 'k':
        *mode = AGENT_MODE_CHECK;
        return LR_OK;
    case 'V':
        *mode = AGENT_MODE_VERSION;
        return LR_OK;
    case 'h':
        *mode = AGENT_MODE_HELP;
        return LR_OK;
    default:
        return LR_INVALID;
    }
}

static int agent_parse_args(int argc, char **argv, struct agent_opts *o,
                            enum agent_mode *mode)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, 's'},
        {"geo-city", required_argument, NULL, 'C'},
        {"geo-asn", required_argument, NULL, 'A'},
        {"geo-anonymous", required_argument, NULL, 'N'},
        {"decision-log", required_argument, NULL, 'D'},
        {"metrics-listen", required_argument, NULL, 'M'},
        {"check-config", no_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    *mode = AGENT_MODE_RUN;
    while ((c = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
        if (agent_parse_opt(c, o, mode))
            return LR_INVALID;
    }
    if (optind < argc) {
        fprintf(stderr, "loginrisk-agent: unexpected argument '%s'\n",
                argv[optind]);
        return LR_INVALID;
    }
    return LR_OK;
}

/* ---- --check-config ----------------------------------------------------- */

static void agent_print_errors(const struct cfg_errors *errs, bool logged)
{
    for (size_t i = 0; i < errs->n; i++) {
        if (logged)
            lr_log(LR_LOG_ERROR, "%s", errs->msgs[i]);
        else
            fprintf(stderr, "%s\n", errs->msgs[i]);
    }
}

static int agent_check(const struct agent_opts *o)
{
    struct cfg_errors errs = {0};
    int rc;

    rc = agent_config_check(o, &errs);
    if (rc) {
        agent_print_errors(&errs, false);
        if (errs.n == 0)
            fprintf(stderr, "%s: %s\n",
                    o->config_path ? o->config_path : "<embedded default>",
                    lr_strerror(rc));
    } else {
        printf("%s: ok\n",
               o->config_path ? o->config_path : "<embedded default>");
    }
    cfg_errors_clear(&errs);
    return rc ? 1 : 0;
}

/* ---- run ---------------------------------------------------------------- */

static size_t agent_methods(struct agent_method *out)
{
    size_t (*tables[])(const struct agent_method **) = {
        agent_risk_methods,
        agent_health_methods,
        agent_admin_methods,
    };
    size_t n = 0;

    for (size_t t = 0; t < LR_ARRAY_LEN(tables); t++) {
        const struct agent_method *m;
        size_t k = tables[t](&m);
        for (size_t i = 0; i < k && n < AGENT_METHODS_MAX; i++)
            out[n++] = m[i];
    }
    return n;
}

/* The server's observer: one finished RPC into the metrics. */
static void agent_observe(void *ctx, const char *path, int status,
                          int64_t duration_ns)
{
    struct agent_state *st = ctx;

    agent_metrics_rpc(st->metrics, agent_metrics_method(path), status,
                      duration_ns);
}

static int agent_serve(struct agent_state *st, struct agent_server **out)
{
    static struct agent_method methods[AGENT_METHODS_MAX];
    struct agent_snapshot *snap = agent_state_get(st);
    const struct cfg *cfg = snap->cfg;
    struct agent_server_opts so = {
        .listeners = cfg->listeners,
        .n_listeners = cfg->n_listeners,
        .workers = cfg->workers,
        .max_message_bytes = cfg->max_message_bytes,
        .admin_max_message_bytes = cfg->admin_max_message_bytes,
        .max_inflight = cfg->max_inflight,
        .methods = methods,
        .ctx = st,
        .observe = agent_observe,
    };
    char err[512] = "";
    int rc;

    so.n_methods = agent_methods(methods);
    rc = agent_server_start(&so, out, err, sizeof(err));
    if (rc)
        lr_log(LR_LOG_ERROR, "%s", err[0] ? err : lr_strerror(rc));
    else
        lr_log(LR_LOG_INFO,
               "ready: %zu listener(s), %zu worker(s), policy %s, "
               "max message %u bytes (admin %u)",
               cfg->n_listeners, agent_server_workers(*out),
               cfg->policy_version ? cfg->policy_version : "-",
               cfg->max_message_bytes, cfg->admin_max_message_bytes);
    agent_snapshot_put(snap);
    return rc;
}

static void agent_reload(struct agent_state *st)
{
    struct cfg_errors errs = {0};
    struct agent_snapshot *snap;
    int rc;

    lr_log(LR_LOG_INFO, "SIGHUP: reloading %s",
           st->opts->config_path ? st->opts->config_path
                                 : "the embedded default");
    rc = agent_state_reload(st, false, &errs);
    /* logrotate moved (or removed) the file: open the path again */
    agent_declog_reopen(st->declog);
    snap = agent_state_get(st);
    if (rc) {
        agent_print_errors(&errs, true);
        lr_log(LR_LOG_ERROR, "reload failed (%s); keeping policy %s",
               lr_strerror(rc),
               snap->cfg->policy_version ? snap->cfg->policy_version : "-");
    } else {
        lr_log(LR_LOG_INFO, "reloaded: policy %s",
               snap->cfg->policy_version ? snap->cfg->policy_version : "-");
    }
    agent_snapshot_put(snap);
    cfg_errors_clear(&errs);
}

static void agent_wait_signals(struct agent_state *st, const sigset_t *sigs)
{
    for (;;) {
        int sig = 0;
        if (sigwait(sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            agent_reload(st);
            continue;
        }
        lr_log(LR_LOG_INFO, "%s received",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

/*
 * Health turns NOT_SERVING first and the agent keeps serving for a short
 * grace, so probes see it and calls a client sent just before the signal
 * are read and served: gRPC core resets, at shutdown, every call it has not
 * yet handed to the agent. Then new calls are refused and the calls in
 * flight get the rest of agent.drain_timeout_ms.
 */
static void agent_drain(struct agent_state *st, struct agent_server *srv)
{
    struct agent_snapshot *snap = agent_state_get(st);
    uint32_t timeout = snap->cfg->drain_timeout_ms;
    uint32_t grace =
        timeout / 4 < AGENT_DRAIN_GRACE_MS ? timeout / 4 : AGENT_DRAIN_GRACE_MS;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)grace * 1000000L};
    size_t cancelled;

    agent_snapshot_put(snap);
    atomic_store(&st->draining, true);
    lr_log(LR_LOG_INFO,
           "draining: health NOT_SERVING, refusing new calls in %u ms, "
           "then up to %u ms for calls in flight",
           grace, timeout - grace);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    cancelled = agent_server_stop(srv, timeout - grace);
    if (cancelled > 0)
        lr_log(LR_LOG_WARN, "drain timeout (%u ms): cancelled %zu call(s)",
               timeout, cancelled);
    else
        lr_log(LR_LOG_INFO, "drained: every call finished");
}

static void agent_log_start(struct agent_state *st)
{
    const struct cfg *cfg = st->cur->cfg;
    char geo[256];

    geo_db_describe(st->cur->geo, geo, sizeof(geo));
    lr_log(LR_LOG_INFO, "loginrisk-agent %s: config %s, state %s, geo %s",
           LR_VERSION, cfg->path ? cfg->path : "-",
           cfg->state_dir ? cfg->state_dir : "-", geo);
}

/*
 * The decision log, the metrics and their HTTP listener, the housekeeping
 * thread. Their settings are read once: a reload that changes them says
 * they need a restart.
 */
static int agent_ops_open(struct agent_state *st)
{
    const struct cfg *cfg = st->cur->cfg;
    char err[512] = "";
    int rc;

    rc = agent_declog_open_cfg(cfg, st->opts->decision_log, &st->declog, err,
                               sizeof(err));
    if (rc)
        goto out;
    st->metrics_src = (struct agent_metrics_sources){st, st->declog};
    rc = agent_metrics_new(LR_VERSION, agent_metrics_pull_state,
                           &st->metrics_src, &st->metrics);
    if (rc)
        goto out;
    if (cfg->metrics_listen != NULL) {
        rc = agent_metrics_serve(st->metrics, cfg->metrics_listen,
                                 &st->metrics_srv, err, sizeof(err));
        if (rc)
            goto out;
    }
    agent_geo_age_check(st->cur, lr_now_ms() / 1000, "at start");
    rc = agent_watch_start(st, AGENT_WATCH_INTERVAL_MS, &st->geowatch);
    if (rc)
        snprintf(err, sizeof(err), "housekeeping thread: %s", lr_strerror(rc));
out:
    if (rc)
        lr_log(LR_LOG_ERROR, "%s", err[0] ? err : lr_strerror(rc));
    return rc;
}

/* After the drain: nothing calls into them any more. */
static void agent_ops_close(struct agent_state *st)
{
    if (st == NULL)
        return;
    agent_watch_stop(st->geowatch);
    st->geowatch = NULL;
    agent_metrics_server_stop(st->metrics_srv);
    st->metrics_srv = NULL;
    agent_declog_close(st->declog);
    st->declog = NULL;
    st->metrics_src.declog = NULL;
}

/* Reloads read st->server under reload_mu (agent_publish): a reload on
 * another thread never sees a server being stopped. */
static void agent_set_server(struct agent_state *st, struct agent_server *srv)
{
    pthread_mutex_lock(&st->reload_mu);
    st->server = srv;
    pthread_mutex_unlock(&st->reload_mu);
}

static int agent_run(const struct agent_opts *o, const sigset_t *sigs)
{
    struct cfg_errors errs = {0};
    struct agent_state *st = NULL;
    struct agent_server *srv = NULL;
    struct agent_metrics *metrics = NULL;
    int rc;

    rc = agent_state_open(o, &st, &errs);
    if (rc) {
        agent_print_errors(&errs, true);
        lr_log(LR_LOG_ERROR, "startup failed: %s", lr_strerror(rc));
        goto out;
    }
    lr_log_set_level(st->cur->cfg->logging.level);
    agent_log_start(st);
    rc = agent_ops_open(st);
    metrics = st->metrics;
    if (rc == LR_OK)
        rc = agent_serve(st, &srv);
    if (rc) {
        lr_log(LR_LOG_ERROR, "startup failed: %s", lr_strerror(rc));
        goto out;
    }
    agent_set_server(st, srv);
    agent_wait_signals(st, sigs);
    agent_set_server(st, NULL);
    agent_drain(st, srv);
out:
    agent_ops_close(st);
    agent_state_free(st);
    agent_metrics_free(metrics);
    if (rc == LR_OK)
        lr_log(LR_LOG_INFO, "stopped");
    cfg_errors_clear(&errs);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct agent_opts opts = {0};
    enum agent_mode mode;
    sigset_t sigs;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (agent_parse_args(argc, argv, &opts, &mode)) {
        fputs(agent_usage, stderr);
        return 2;
    }
    switch (mode) {
    case AGENT_MODE_HELP:
        fputs(agent_usage, stdout);
        return 0;
    case AGENT_MODE_VERSION:
        printf("loginrisk-agent %s (gRPC core %s)\n", LR_VERSION,
               grpc_version_string());
        return 0;
    case AGENT_MODE_CHECK:
        return agent_check(&opts);
    default:
        return agent_run(&opts, &sigs);
    }
}

/*
 * agent_grpc.c - the gRPC core adapter: servers, listeners, completion
 * queues and worker threads.
 *
 * gRPC core cannot tell a handler which port a call came in on, so listeners
 * are grouped by the set of services they offer and each group becomes its
 * own grpc_server; every server registers only its services' methods and
 * shares the same completion queues, one per worker thread. A method a
 * server does not offer reaches the generic request posted on every queue
 * and is answered UNIMPLEMENTED at once, as is any unknown method.
 *
 * Each queue keeps only a few requests posted per method (the method table
 * says how many): a connection is homed on one queue and fills its posted
 * requests first, so deep posting would leave other workers idle.
 *
 * Stopping follows the order gRPC core needs: shutdown_and_notify on every
 * server, wait (bounded) for the calls in flight, cancel the rest, destroy
 * the servers, then shut the queues down, drain them and join the workers,
 * and only then grpc_shutdown().
 */
#include "agent/agent_grpc.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#define AGENT_MAX_SEND_FLOOR (4u << 20) /* admin pages may exceed 64 KiB */
#define AGENT_MAX_STREAMS 256           /* concurrent calls per connection */
#define AGENT_PEM_MAX (1u << 20)
#define AGENT_DRAIN_POSTS 64 /* extra requests per method and queue at stop */
#define AGENT_DRAIN_POLL_MS 20

/* gRPC's own messages go through lr_log, one line each like ours. Its errors
 * are mostly about a client (a failed TLS handshake), hence warnings. */
static void agent_grpc_log(gpr_log_func_args *a)
{
    const char *file = strrchr(a->file, '/');

    lr_log(a->severity == GPR_LOG_SEVERITY_ERROR  ? LR_LOG_WARN
           : a->severity == GPR_LOG_SEVERITY_INFO ? LR_LOG_INFO
                                                  : LR_LOG_DEBUG,
           "grpc: %s:%d: %s", file != NULL ? file + 1 : a->file, a->line,
           a->message);
}

/* ---- workers ------------------------------------------------------------ */

/*
 * Posts one request for @p method (-1 = any other method) on @p w's queue.
 * @p pooled: we are on the worker thread and may recycle its call objects.
 */
static void agent_post(struct agent_worker *w, struct agent_endpoint *ep,
                       int method, bool pooled)
{
    struct agent_call *c;
    grpc_call_error err;

    /* Announced before the stopping check, both sequentially consistent:
     * either this post sees stopping, or agent_servers_shutdown sees the
     * post and waits for it before it shuts the server down and destroys
     * it. Without this, a worker could post on a server being destroyed. */
    atomic_fetch_add(&w->srv->posting, 1);
    if (atomic_load(&w->srv->stopping)) {
        atomic_fetch_sub(&w->srv->posting, 1);
        return;
    }
    c = agent_call_get(w, pooled);
    if (c == NULL) {
        atomic_fetch_sub(&w->srv->posting, 1);
        lr_log(LR_LOG_ERROR, "out of memory posting a request");
        return;
    }
    c->ep = ep;
    c->method = method;
    /* release: a call object made on the stopping thread (agent_post_drain)
     * is freed by the worker after its acquire load of the state; gRPC's
     * queue hands it over too, but TSan cannot see into gRPC */
    atomic_store_explicit(&c->state, AGENT_CALL_POSTED, memory_order_release);
    if (method < 0)
        err = grpc_server_request_call(ep->server, &c->call, &c->details,
                                       &c->md, w->cq, w->cq, c);
    else
        err = grpc_server_request_registered_call(
            ep->server, ep->handles[method], &c->call, &c->deadline, &c->md,
            &c->payload, w->cq, w->cq, c);
    atomic_fetch_sub(&w->srv->posting, 1);
    if (err != GRPC_CALL_OK) {
        lr_log(LR_LOG_ERROR, "posting a request failed (%d)", (int)err);
        agent_call_put(c, pooled);
    }
}

static void agent_post_all(struct agent_worker *w)
{
    struct agent_server *srv = w->srv;

    for (size_t e = 0; e < srv->n_eps; e++) {
        struct agent_endpoint *ep = &srv->eps[e];
        for (size_t m = 0; m < srv->n_methods; m++) {
            if (ep->handles[m] == NULL)
                continue;
            for (unsigned k = 0; k < srv->methods[m].posted || k == 0; k++)
                agent_post(w, ep, (int)m, true);
        }
        agent_post(w, ep, -1, true);
        agent_post(w, ep, -1, true);
    }
}

static void agent_worker_event(struct agent_worker *w, grpc_event ev)
{
    struct agent_call *c = ev.tag;

    if (atomic_load_explicit(&c->state, memory_order_acquire) !=
        AGENT_CALL_POSTED) {
        agent_call_closed(c);
        return;
    }
    if (!ev.success) {
        /* the server is shutting down: this request will never be matched */
        agent_call_put(c, true);
        return;
    }
    agent_post(w, c->ep, c->method, true); /* keep the posting level */
    agent_call_arrived(c);
}

static void *agent_worker_main(void *arg)
{
    struct agent_worker *w = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            agent_worker_event(w, ev);
    }
    return NULL;
}

/* ---- listeners ---------------------------------------------------------- */

static int agent_read_pem(const char *path, char **out, char *err,
                          size_t errcap)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;
    int rc = LR_CONFIG;

    if (f == NULL) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return LR_CONFIG;
    }
    buf = malloc(AGENT_PEM_MAX + 1);
    if (buf == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, AGENT_PEM_MAX + 1, f);
    if (ferror(f) || n == 0 || n > AGENT_PEM_MAX) {
        snprintf(err, errcap, "%s: %s", path,
                 n > AGENT_PEM_MAX ? "larger than 1 MiB"
                                   : "unreadable or empty");
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    rc = LR_OK;
out:
    if (buf != NULL) {
        lr_wipe(buf, AGENT_PEM_MAX + 1);
        free(buf);
    }
    fclose(f);
    return rc;
}

static void agent_free_pem(char *p)
{
    if (p != NULL) {
        lr_wipe(p, strlen(p));
        free(p);
    }
}

/* Server credentials for one listener: insecure, TLS, or TLS + client CA. */
static int agent_listener_creds(const struct cfg_listener *l,
                                grpc_server_credentials **out, char *err,
                                size_t errcap)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    grpc_ssl_pem_key_cert_pair pair;
    grpc_server_credentials *creds;
    int rc;

    if (l->tls_cert == NULL) {
        *out = grpc_insecure_server_credentials_create();
        return LR_OK;
    }
    rc = agent_read_pem(l->tls_cert, &cert, err, errcap);
    if (rc)
        goto out;
    rc = agent_read_pem(l->tls_key, &key, err, errcap);
    if (rc)
        goto out;
    if (l->client_ca != NULL) {
        rc = agent_read_pem(l->client_ca, &ca, err, errcap);
        if (rc)
            goto out;
    }
    pair.private_key = key;
    pair.cert_chain = cert;
    creds = grpc_ssl_server_credentials_create_ex(
        ca, &pair, 1,
        ca != NULL ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                   : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        NULL);
    if (creds == NULL) {
        snprintf(err, errcap, "%s: TLS credentials refused", l->address);
        rc = LR_CONFIG;
        goto out;
    }
    *out = creds;
out:
    agent_free_pem(cert);
    agent_free_pem(key);
    agent_free_pem(ca);
    return rc;
}

/*
 * gRPC removes whatever sits at a unix socket path before binding, which
 * would steal the socket of a live agent. Refuse a path a server answers
 * on or that is not a socket; remove a stale socket ourselves.
 */
static int agent_unix_prepare(const char *path, char *err, size_t errcap)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, rc;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errcap, "unix:%s: path too long", path);
        return LR_IO;
    }
    if (lstat(path, &st) != 0)
        return LR_OK;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errcap, "unix:%s: exists and is not a socket", path);
        return LR_IO;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    lr_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "unix:%s: %s", path, strerror(errno));
        return LR_IO;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        snprintf(err, errcap, "unix:%s: address in use by a running server",
                 path);
        return LR_IO;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errcap, "unix:%s: cannot remove stale socket: %s", path,
                 strerror(errno));
        return LR_IO;
    }
    return LR_OK;
}

/* "127.0.0.1:0" bound to port 43567 is logged as "127.0.0.1:43567". */
static void agent_bound_address(const char *addr, int port, char *buf,
                                size_t cap)
{
    const char *colon = strrchr(addr, ':');

    if (strncmp(addr, "unix:", 5) == 0 || colon == NULL || port <= 0) {
        lr_strlcpy(buf, addr, cap);
        return;
    }
    snprintf(buf, cap, "%.*s:%d", (int)(colon - addr), addr, port);
}

static void agent_services_text(unsigned svc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", (svc & CFG_SVC_RISK) ? "risk " : "",
             (svc & CFG_SVC_ADMIN) ? "admin " : "",
             (svc & CFG_SVC_HEALTH) ? "health " : "");
    if (buf[0] != '\0')
        buf[strlen(buf) - 1] = '\0';
}

static int agent_listen(struct agent_endpoint *ep, const struct cfg_listener *l,
                        char *err, size_t errcap)
{
    grpc_server_credentials *creds = NULL;
    bool is_unix = strncmp(l->address, "unix:", 5) == 0;
    char bound[256], svc[32];
    int rc, port;

    if (is_unix) {
        rc = agent_unix_prepare(l->address + 5, err, errcap);
        if (rc)
            return rc;
    }
    rc = agent_listener_creds(l, &creds, err, errcap);
    if (rc)
        return rc;
    port = grpc_server_add_http2_port(ep->server, l->address, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        snprintf(err, errcap, "%s: cannot listen (address in use or not valid)",
                 l->address);
        return LR_IO;
    }
    if (is_unix)
        lr_strlcpy(ep->unix_paths[ep->n_unix++], l->address + 5,
                   sizeof(ep->unix_paths[0]));
    agent_bound_address(l->address, port, bound, sizeof(bound));
    agent_services_text(l->services, svc, sizeof(svc));
    lr_log(LR_LOG_INFO, "listening on %s (%s; %s)", bound,
           l->tls_cert == NULL    ? "plaintext"
           : l->client_ca != NULL ? "tls, client certificates"
                                  : "tls",
           svc);
    return LR_OK;
}

/* ---- servers ------------------------------------------------------------ */

static grpc_server *agent_grpc_server_new(const struct agent_server *srv,
                                          uint32_t max_recv)
{
    grpc_arg a[9];
    grpc_channel_args args = {.num_args = LR_ARRAY_LEN(a), .args = a};
    struct {
        char *key;
        int value;
    } v[] = {
        {GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, (int)max_recv},
        {GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, (int)srv->max_send},
        {GRPC_ARG_ALLOW_REUSEPORT, 0}, /* a port in use is an error */
        {GRPC_ARG_MAX_CONCURRENT_STREAMS, AGENT_MAX_STREAMS},
        {GRPC_ARG_KEEPALIVE_TIME_MS, 60000},
        {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000},
        {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
        {GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0},
        {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000},
    };

    for (size_t i = 0; i < LR_ARRAY_LEN(a); i++) {
        a[i].type = GRPC_ARG_INTEGER;
        a[i].key = v[i].key;
        a[i].value.integer = v[i].value;
    }
    return grpc_server_create(&args, NULL);
}

static int agent_endpoint_build(struct agent_server *srv,
                                struct agent_endpoint *ep,
                                const struct agent_server_opts *o, char *err,
                                size_t errcap)
{
    int rc;

    /* gRPC's own limit is per server; each method's is checked at arrival
     * (agent_call.c), so Evaluate stays small where admin batches are big */
    ep->server = agent_grpc_server_new(
        srv, (uint32_t)((ep->services & CFG_SVC_ADMIN) ? srv->max_bulk
                                                       : srv->max_recv));
    if (ep->server == NULL) {
        snprintf(err, errcap, "cannot create a gRPC server");
        return LR_NOMEM;
    }
    for (size_t m = 0; m < srv->n_methods; m++) {
        if (!(srv->methods[m].service & ep->services))
            continue;
        ep->handles[m] = grpc_server_register_method(
            ep->server, srv->methods[m].path, NULL,
            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
    for (size_t w = 0; w < srv->n_workers; w++)
        grpc_server_register_completion_queue(ep->server, srv->workers[w].cq,
                                              NULL);
    for (size_t i = 0; i < o->n_listeners; i++) {
        if (o->listeners[i].services != ep->services)
            continue;
        rc = agent_listen(ep, &o->listeners[i], err, errcap);
        if (rc)
            return rc;
    }
    return LR_OK;
}

static struct agent_endpoint *agent_endpoint_for(struct agent_server *srv,
                                                 unsigned services)
{
    for (size_t e = 0; e < srv->n_eps; e++)
        if (srv->eps[e].services == services)
            return &srv->eps[e];
    srv->eps[srv->n_eps].services = services;
    return &srv->eps[srv->n_eps++];
}

static uint32_t agent_worker_count(uint32_t configured)
{
    long cpus;

    if (configured != 0)
        return configured > AGENT_WORKERS_MAX ? AGENT_WORKERS_MAX : configured;
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    return cpus > AGENT_WORKERS_MAX ? AGENT_WORKERS_MAX : (uint32_t)cpus;
}

/*
 * gRPC core cancels, at shutdown, calls that arrived but were not yet matched
 * to a posted request; under load most calls in flight wait there (only a
 * few requests are posted per queue). Posting extra requests first matches
 * them, so they are served like every other call in flight. Runs on the
 * stopping thread, hence fresh call objects (the pools are worker-local).
 */
static void agent_post_drain(struct agent_server *srv)
{
    for (size_t w = 0; w < srv->n_workers; w++)
        for (size_t e = 0; e < srv->n_eps; e++)
            for (size_t m = 0; m < srv->n_methods; m++)
                for (unsigned k = 0;
                     k < AGENT_DRAIN_POSTS && srv->eps[e].handles[m] != NULL &&
                     srv->methods[m].handler != NULL;
                     k++)
                    agent_post(&srv->workers[w], &srv->eps[e], (int)m, false);
}

/* Waits for the servers' shutdown tags; false if @p deadline came first. */
static bool agent_wait_shutdown(struct agent_server *srv, gpr_timespec deadline)
{
    for (size_t e = 0; e < srv->n_eps; e++) {
        struct agent_endpoint *ep = &srv->eps[e];
        grpc_event ev;
        if (ep->server == NULL || ep->shut_down)
            continue;
        ev = grpc_completion_queue_pluck(srv->shutdown_cq, ep, deadline, NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            return false;
        ep->shut_down = true;
    }
    return true;
}

static size_t agent_inflight(struct agent_server *srv)
{
    size_t n = 0;

    for (size_t w = 0; w < srv->n_workers; w++)
        n += atomic_load(&srv->workers[w].inflight);
    return n;
}

static void agent_cancel_all(struct agent_server *srv)
{
    for (size_t e = 0; e < srv->n_eps; e++)
        if (srv->eps[e].server != NULL)
            grpc_server_cancel_all_calls(srv->eps[e].server);
}

/*
 * Waits for the calls in flight, up to @p deadline. The shutdown tags only
 * come once every client connection is gone, and clients keep idle channels
 * open; so once no call object is left with gRPC (every posted request has
 * failed back and every call has closed), the remaining connections carry
 * nothing and are closed at once instead of waiting out the deadline.
 */
static void agent_drain_wait(struct agent_server *srv, gpr_timespec deadline,
                             size_t *cancelled)
{
    for (;;) {
        gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
        gpr_timespec step = gpr_time_add(
            now, gpr_time_from_millis(AGENT_DRAIN_POLL_MS, GPR_TIMESPAN));
        if (gpr_time_cmp(step, deadline) > 0)
            step = deadline;
        if (agent_wait_shutdown(srv, step))
            return;
        if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), deadline) >= 0) {
            *cancelled += agent_inflight(srv);
            break;
        }
        if (atomic_load(&srv->live_calls) == 0)
            break;
    }
    agent_cancel_all(srv);
    (void)agent_wait_shutdown(srv, gpr_inf_future(GPR_CLOCK_MONOTONIC));
}

/* Tears down the servers that were created (started or not). */
static void agent_servers_shutdown(struct agent_server *srv, bool drain,
                                   uint32_t wait_ms, size_t *cancelled)
{
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                     gpr_time_from_millis(wait_ms, GPR_TIMESPAN));

    if (drain)
        agent_post_drain(srv);
    atomic_store(&srv->stopping, true);
    while (atomic_load(&srv->posting) > 0) /* a post already under way */
        sched_yield();
    for (size_t e = 0; e < srv->n_eps; e++)
        if (srv->eps[e].server != NULL)
            grpc_server_shutdown_and_notify(srv->eps[e].server,
                                            srv->shutdown_cq, &srv->eps[e]);
    agent_drain_wait(srv, deadline, cancelled);
    for (size_t e = 0; e < srv->n_eps; e++) {
        if (srv->eps[e].server != NULL)
            grpc_server_destroy(srv->eps[e].server);
        srv->eps[e].server = NULL;
    }
}

/* Shuts every queue down, drains it, joins its worker and frees the rest. */
static void agent_queues_shutdown(struct agent_server *srv)
{
    for (size_t w = 0; w < srv->n_workers; w++)
        grpc_completion_queue_shutdown(srv->workers[w].cq);
    for (size_t w = 0; w < srv->n_workers; w++) {
        struct agent_worker *wk = &srv->workers[w];
        if (wk->running) {
            pthread_join(wk->thread, NULL);
        } else {
            /* never started: drain here (posted requests already failed) */
            grpc_event ev;
            do {
                ev = grpc_completion_queue_next(
                    wk->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
                if (ev.type == GRPC_OP_COMPLETE)
                    agent_worker_event(wk, ev);
            } while (ev.type != GRPC_QUEUE_SHUTDOWN);
        }
        grpc_completion_queue_destroy(wk->cq);
        agent_call_pool_free(wk);
    }
    if (srv->shutdown_cq != NULL) {
        grpc_completion_queue_shutdown(srv->shutdown_cq);
        grpc_completion_queue_pluck(srv->shutdown_cq, NULL,
                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_completion_queue_destroy(srv->shutdown_cq);
    }
}

static void agent_unix_cleanup(struct agent_server *srv)
{
    for (size_t e = 0; e < srv->n_eps; e++)
        for (size_t i = 0; i < srv->eps[e].n_unix; i++)
            unlink(srv->eps[e].unix_paths[i]);
}

size_t agent_server_stop(struct agent_server *srv, uint32_t timeout_ms)
{
    size_t cancelled = 0;

    if (srv == NULL)
        return 0;
    agent_servers_shutdown(srv, true, timeout_ms, &cancelled);
    agent_queues_shutdown(srv);
    agent_unix_cleanup(srv);
    free(srv);
    grpc_shutdown();
    return cancelled;
}

static int agent_server_build(struct agent_server *srv,
                              const struct agent_server_opts *o, char *err,
                              size_t errcap)
{
    int rc;

    srv->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
    for (size_t w = 0; w < srv->n_workers; w++) {
        srv->workers[w].srv = srv;
        srv->workers[w].index = (unsigned)w;
        srv->workers[w].cq = grpc_completion_queue_create_for_next(NULL);
    }
    for (size_t i = 0; i < o->n_listeners; i++)
        agent_endpoint_for(srv, o->listeners[i].services);
    for (size_t e = 0; e < srv->n_eps; e++) {
        rc = agent_endpoint_build(srv, &srv->eps[e], o, err, errcap);
        if (rc)
            return rc;
    }
    for (size_t e = 0; e < srv->n_eps; e++)
        grpc_server_start(srv->eps[e].server);
    for (size_t w = 0; w < srv->n_workers; w++)
        agent_post_all(&srv->workers[w]);
    for (size_t w = 0; w < srv->n_workers; w++) {
        if (pthread_create(&srv->workers[w].thread, NULL, agent_worker_main,
                           &srv->workers[w]) != 0) {
            snprintf(err, errcap, "cannot start worker threads");
            return LR_NOMEM;
        }
        srv->workers[w].running = true;
    }
    return LR_OK;
}

static int agent_server_check_opts(const struct agent_server_opts *o, char *err,
                                   size_t errcap)
{
    if (o->n_listeners == 0 || o->n_listeners > AGENT_LISTENERS_MAX) {
        snprintf(err, errcap, "between 1 and %d listeners are needed",
                 AGENT_LISTENERS_MAX);
        return LR_CONFIG;
    }
    if (o->n_methods > AGENT_METHODS_MAX) {
        snprintf(err, errcap, "too many methods");
        return LR_INTERNAL;
    }
    for (size_t i = 0; i < o->n_listeners; i++) {
        if ((o->listeners[i].services & CFG_SVC_ALL) == 0) {
            snprintf(err, errcap, "%s: no services", o->listeners[i].address);
            return LR_CONFIG;
        }
    }
    return LR_OK;
}

int agent_server_start(const struct agent_server_opts *o,
                       struct agent_server **out, char *err, size_t errcap)
{
    struct agent_server *srv;
    size_t cancelled = 0;
    int rc;

    rc = agent_server_check_opts(o, err, errcap);
    if (rc)
        return rc;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return LR_NOMEM;
    gpr_set_log_function(agent_grpc_log);
    grpc_init();
    srv->methods = o->methods;
    srv->n_methods = o->n_methods;
    srv->ctx = o->ctx;
    srv->observe = o->observe;
    srv->n_workers = agent_worker_count(o->workers);
    srv->max_recv = o->max_message_bytes;
    srv->max_bulk = o->admin_max_message_bytes > o->max_message_bytes
                        ? o->admin_max_message_bytes
                        : o->max_message_bytes;
    srv->max_send = srv->max_bulk > AGENT_MAX_SEND_FLOOR ? srv->max_bulk
                                                         : AGENT_MAX_SEND_FLOOR;
    /* request copy + unpacked message (repeated fields can cost several
     * times their wire size) + handler state; a cap, not an allocation */
    srv->arena_limit = srv->max_bulk * 8 + 65536;
    atomic_init(&srv->max_inflight, o->max_inflight);
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->posting, 0);
    atomic_init(&srv->live_calls, 0);
    rc = agent_server_build(srv, o, err, errcap);
    if (rc) {
        agent_servers_shutdown(srv, false, 0, &cancelled);
        agent_queues_shutdown(srv);
        agent_unix_cleanup(srv);
        free(srv);
        grpc_shutdown();
        return rc;
    }
    *out = srv;
    return LR_OK;
}

void agent_server_set_max_inflight(struct agent_server *srv, uint32_t cap)
{
    atomic_store(&srv->max_inflight, cap);
}

size_t agent_server_workers(const struct agent_server *srv)
{
    return srv->n_workers;
}

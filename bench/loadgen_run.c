/*
 * loadgen_run.c - the load generator's gRPC engine (see loadgen.h).
 *
 * All gRPC core calls of the load generator live here. Each run thread owns
 * one completion queue and its slots, so a slot is touched by one thread
 * only and nothing but the phase flag and the call budget is shared. A call
 * is one batch (send metadata, message and close; receive metadata,
 * message and status), as an ordinary unary client does it.
 */
#include "bench/loadgen.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include <grpc/health/v1/health.pb-c.h>
#include <loginrisk/v1/risk.pb-c.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LG_METHOD_HEALTH "/grpc.health.v1.Health/Check"
#define LG_METHOD_EVALUATE "/loginrisk.v1.RiskService/Evaluate"
#define LG_MAX_RECV (1 << 20)
#define LG_CONNECT_TIMEOUT_MS 10000
#define LG_PACK_MAX 4096 /* a generated attempt packs to a few hundred */
#define LG_POLL_MS 100

enum lg_phase { LG_WARMUP = 0, LG_MEASURE = 1, LG_STOP = 2 };

struct lg_thread;

struct lg_slot {
    struct lg_thread *t;
    unsigned channel;
    grpc_call *call;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_metadata_array md_initial;
    grpc_metadata_array md_trailing;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    int64_t start_ns;
    enum bench_kind kind;
};

struct lg_thread {
    struct bench_lg *lg;
    unsigned index;
    pthread_t tid;
    grpc_completion_queue *cq;
    struct lg_slot *slots;
    size_t n_slots;
    struct lg_slot **parked; /* slots waiting for their next call */
    size_t n_parked;
    size_t outstanding;
    int64_t next_ns;     /* --rate: when the next call is due */
    int64_t interval_ns; /* --rate: between calls of this thread; 0 = off */
    uint64_t seq;
    struct bench_model model;
    struct bench_lg_result res;
    uint8_t pack[LG_PACK_MAX];
};

struct bench_lg {
    struct bench_lg_opts opts;
    grpc_channel **channels;
    void **h_health;
    void **h_evaluate;
    /* per run */
    enum bench_method method;
    _Atomic int phase;
    _Atomic int64_t measure_start_ns;
    _Atomic uint64_t budget; /* calls left in --count mode */
};

/* after the gRPC codes: the load generator's own (bench/loadgen.h) */
_Static_assert(BENCH_ERR_LOCAL == LR_GRPC_STATUS_COUNT,
               "local error codes follow the gRPC codes");
static const char
    *const lg_local_err_names[BENCH_ERR_COUNT - LR_GRPC_STATUS_COUNT] = {
        "LOCAL",
        "BAD_RESPONSE",
        "NOT_SERVING",
};

static const char *const lg_action_names[BENCH_ACTIONS] = {
    "UNSPECIFIED", "ALLOW", "CAPTCHA", "CHALLENGE_2FA", "LOCK"};

const char *bench_err_name(unsigned code)
{
    if (code < LR_GRPC_STATUS_COUNT)
        return lr_grpc_status_name((int)code);
    return code < BENCH_ERR_COUNT
               ? lg_local_err_names[code - LR_GRPC_STATUS_COUNT]
               : "?";
}

const char *bench_action_name(unsigned action)
{
    return action < BENCH_ACTIONS ? lg_action_names[action] : "?";
}

/* ---- channels ----------------------------------------------------------- */

/* Waits until @p ch is connected, at most max(10 s, --timeout-ms). */
static int lg_wait_ready(grpc_channel *ch, uint32_t timeout_ms)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    int64_t ms =
        timeout_ms > LG_CONNECT_TIMEOUT_MS ? timeout_ms : LG_CONNECT_TIMEOUT_MS;
    gpr_timespec deadline = gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
    grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch, 1);
    int rc = LR_OK;
    grpc_event ev;

    while (st != GRPC_CHANNEL_READY) {
        grpc_channel_watch_connectivity_state(ch, st, deadline, cq, ch);
        ev = grpc_completion_queue_pluck(
            cq, ch, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
            rc = LR_IO;
            break;
        }
        st = grpc_channel_check_connectivity_state(ch, 1);
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME),
                                NULL);
    grpc_completion_queue_destroy(cq);
    return rc;
}

static grpc_channel *lg_channel_new(const char *target, unsigned index)
{
    grpc_arg args[4];
    grpc_channel_args ca = {LR_ARRAY_LEN(args), args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch;

    memset(args, 0, sizeof(args));
    /* a private subchannel pool and a distinct arg: C real connections */
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)(uintptr_t)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    args[0].value.integer = 1;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)(uintptr_t) "loginrisk.bench.channel";
    args[1].value.integer = (int)index;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)(uintptr_t)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[2].value.integer = LG_MAX_RECV;
    /* no retry buffering: measure the agent, not the client's retry layer */
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = (char *)(uintptr_t)GRPC_ARG_ENABLE_RETRIES;
    args[3].value.integer = 0;
    ch = grpc_channel_create(target, creds, &ca);
    grpc_channel_credentials_release(creds);
    return ch;
}

static int lg_check_opts(const struct bench_lg_opts *o)
{
    if (o->target == NULL || o->inflight == 0 ||
        o->inflight > BENCH_LG_INFLIGHT_MAX || o->connections == 0 ||
        o->connections > BENCH_LG_CONNECTIONS_MAX || o->threads == 0 ||
        o->threads > BENCH_LG_THREADS_MAX || o->timeout_ms == 0 ||
        !(o->duration_s > 0.0) || o->duration_s > BENCH_LG_DURATION_MAX ||
        o->warmup_s < 0.0 || o->warmup_s > BENCH_LG_DURATION_MAX ||
        o->only_kind >= BENCH_KIND_COUNT || !(o->rate >= 0.0) ||
        o->rate > BENCH_LG_RATE_MAX) {
        return LR_INVALID;
    }
    return LR_OK;
}

int bench_lg_new(const struct bench_lg_opts *opts, struct bench_lg **out)
{
    struct bench_lg *lg = NULL;
    struct bench_model probe;
    unsigned i;
    int rc;

    rc = lg_check_opts(opts);
    if (rc) {
        goto out;
    }
    rc = bench_model_init(&probe, &opts->model, 0);
    if (rc) {
        goto out;
    }
    rc = LR_NOMEM;
    lg = calloc(1, sizeof(*lg));
    if (lg == NULL) {
        goto out;
    }
    lg->opts = *opts;
    lg->channels = calloc(opts->connections, sizeof(*lg->channels));
    lg->h_health = calloc(opts->connections, sizeof(*lg->h_health));
    lg->h_evaluate = calloc(opts->connections, sizeof(*lg->h_evaluate));
    if (!lg->channels || !lg->h_health || !lg->h_evaluate) {
        goto out;
    }
    for (i = 0; i < opts->connections; i++) {
        lg->channels[i] = lg_channel_new(opts->target, i);
        lg->h_health[i] = grpc_channel_register_call(
            lg->channels[i], LG_METHOD_HEALTH, NULL, NULL);
        lg->h_evaluate[i] = grpc_channel_register_call(
            lg->channels[i], LG_METHOD_EVALUATE, NULL, NULL);
        rc = lg_wait_ready(lg->channels[i], opts->timeout_ms);
        if (rc) {
            goto out;
        }
    }
    *out = lg;
    lg = NULL;
    rc = LR_OK;
out:
    bench_lg_free(lg);
    return rc;
}

void bench_lg_free(struct bench_lg *lg)
{
    unsigned i;

    if (lg == NULL) {
        return;
    }
    for (i = 0; lg->channels && i < lg->opts.connections; i++) {
        if (lg->channels[i]) {
            grpc_channel_destroy(lg->channels[i]);
        }
    }
    free(lg->channels);
    free(lg->h_health);
    free(lg->h_evaluate);
    free(lg);
}

/* ---- one call ----------------------------------------------------------- */

static grpc_byte_buffer *lg_buffer(const uint8_t *p, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)p, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);

    grpc_slice_unref(s);
    return bb;
}

/* Packs the next attempt of the model into a new byte buffer. */
static grpc_byte_buffer *lg_evaluate_request(struct lg_thread *t,
                                             struct lg_slot *s)
{
    Loginrisk__V1__LoginAttempt req = LOGINRISK__V1__LOGIN_ATTEMPT__INIT;
    struct bench_attempt a;
    char request_id[40];
    size_t len;

    if (t->lg->opts.only_kind >= 0) {
        bench_model_make(&t->model, (enum bench_kind)t->lg->opts.only_kind, &a);
    } else {
        bench_model_next(&t->model, &a);
    }
    snprintf(request_id, sizeof(request_id), "lg%u-%llu", t->index,
             (unsigned long long)t->seq++);
    req.request_id = request_id;
    req.account_id = a.account_id;
    req.ip = a.ip;
    req.device_id = a.device_id;
    req.user_agent = (char *)(uintptr_t)a.user_agent;
    req.credential = (Loginrisk__V1__CredentialResult)a.credential;
    req.attempted_password.data = (uint8_t *)a.password;
    req.attempted_password.len = a.password_len;
    len = loginrisk__v1__login_attempt__get_packed_size(&req);
    if (len > sizeof(t->pack)) {
        return NULL;
    }
    loginrisk__v1__login_attempt__pack(&req, t->pack);
    s->kind = a.kind;
    return lg_buffer(t->pack, len);
}

static int lg_start(struct lg_thread *t, struct lg_slot *s,
                    grpc_byte_buffer *send, void *handle)
{
    struct bench_lg *lg = t->lg;
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                     gpr_time_from_millis(lg->opts.timeout_ms, GPR_TIMESPAN));
    grpc_op ops[6];
    grpc_call_error err;

    memset(ops, 0, sizeof(ops));
    s->send = send;
    s->recv = NULL;
    s->error_string = NULL;
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->md_initial);
    grpc_metadata_array_init(&s->md_trailing);
    s->call = grpc_channel_create_registered_call(
        lg->channels[s->channel], NULL, GRPC_PROPAGATE_DEFAULTS, t->cq, handle,
        deadline, NULL);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->md_trailing;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    ops[5].data.recv_status_on_client.error_string = &s->error_string;
    s->start_ns = lr_mono_ns();
    err = grpc_call_start_batch(s->call, ops, LR_ARRAY_LEN(ops), s, NULL);
    if (err != GRPC_CALL_OK) {
        grpc_call_unref(s->call);
        s->call = NULL;
        grpc_byte_buffer_destroy(send);
        grpc_metadata_array_destroy(&s->md_initial);
        grpc_metadata_array_destroy(&s->md_trailing);
        return LR_GRPC;
    }
    return LR_OK;
}

/* Reads the whole response message into one slice (caller unrefs). */
static grpc_slice lg_read(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    grpc_slice s;

    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        return grpc_empty_slice();
    }
    s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return s;
}

/* Decodes an OK response: the action of a Decision, 0 for a health check
 * that is SERVING; -1 when the message is bad, -2 when NOT_SERVING. */
static int lg_decode(enum bench_method m, grpc_byte_buffer *bb)
{
    grpc_slice s;
    int action = -1;

    if (bb == NULL) {
        return -1;
    }
    s = lg_read(bb);
    if (m == BENCH_METHOD_EVALUATE) {
        Loginrisk__V1__Decision *d = loginrisk__v1__decision__unpack(
            NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
        if (d) {
            action = (d->action >= 0 && d->action < BENCH_ACTIONS)
                         ? (int)d->action
                         : 0;
            loginrisk__v1__decision__free_unpacked(d, NULL);
        }
    } else {
        Grpc__Health__V1__HealthCheckResponse *h =
            grpc__health__v1__health_check_response__unpack(
                NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
        if (h) {
            action =
                h->status ==
                        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                    ? 0
                    : -2;
            grpc__health__v1__health_check_response__free_unpacked(h, NULL);
        }
    }
    grpc_slice_unref(s);
    return action;
}

static void lg_release(struct lg_slot *s)
{
    grpc_byte_buffer_destroy(s->send);
    if (s->recv) {
        grpc_byte_buffer_destroy(s->recv);
    }
    grpc_metadata_array_destroy(&s->md_initial);
    grpc_metadata_array_destroy(&s->md_trailing);
    grpc_slice_unref(s->details);
    gpr_free((void *)(uintptr_t)s->error_string);
    grpc_call_unref(s->call);
    s->call = NULL;
    s->send = NULL;
    s->recv = NULL;
}

/* Records a completed call if it started inside the measured window. */
static void lg_complete(struct lg_thread *t, struct lg_slot *s, int success)
{
    struct bench_lg *lg = t->lg;
    int64_t now = lr_mono_ns();
    bool record = atomic_load(&lg->phase) == LG_MEASURE &&
                  s->start_ns >= atomic_load(&lg->measure_start_ns);
    unsigned err = 0;
    int action;

    if (!success) {
        err = BENCH_ERR_LOCAL;
    } else if (s->status != GRPC_STATUS_OK) {
        err = (unsigned)s->status < BENCH_ERR_LOCAL ? (unsigned)s->status
                                                    : GRPC_STATUS_UNKNOWN;
    } else {
        action = lg_decode(lg->method, s->recv);
        if (action == -1) {
            err = BENCH_ERR_BAD_RESPONSE;
        } else if (action == -2) {
            err = BENCH_ERR_NOT_SERVING;
        } else if (record && lg->method == BENCH_METHOD_EVALUATE) {
            t->res.actions[s->kind][action]++;
        }
    }
    lg_release(s);
    if (!record) {
        return;
    }
    if (err) {
        t->res.errors[err]++;
        return;
    }
    t->res.ok++;
    bench_hist_record(&t->res.hist, (uint64_t)(now - s->start_ns));
}

/* ---- run threads -------------------------------------------------------- */

static bool lg_may_issue(struct bench_lg *lg)
{
    uint64_t left;

    if (atomic_load(&lg->phase) == LG_STOP) {
        return false;
    }
    if (lg->opts.count == 0) {
        return true;
    }
    left = atomic_load(&lg->budget);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&lg->budget, &left, left - 1)) {
            return true;
        }
    }
    return false;
}

/* Starts the next call on @p s; @p intended (> 0) is when it was due. */
static void lg_issue(struct lg_thread *t, struct lg_slot *s, int64_t intended)
{
    struct bench_lg *lg = t->lg;
    grpc_byte_buffer *send;
    void *handle;

    if (!lg_may_issue(lg)) {
        return;
    }
    if (lg->method == BENCH_METHOD_EVALUATE) {
        send = lg_evaluate_request(t, s);
        handle = lg->h_evaluate[s->channel];
    } else {
        send = lg_buffer(NULL, 0);
        handle = lg->h_health[s->channel];
        s->kind = BENCH_KIND_HOME;
    }
    if (send == NULL || lg_start(t, s, send, handle)) {
        /* counted whatever the phase: a local failure is always news */
        t->res.errors[BENCH_ERR_LOCAL]++;
        return;
    }
    if (intended > 0) {
        /* latency from when the call was due, not from when it could be
         * sent: a slow agent must not hide its queue (coordinated
         * omission) */
        s->start_ns = intended;
    }
    t->outstanding++;
}

static bool lg_running(struct bench_lg *lg)
{
    return atomic_load(&lg->phase) != LG_STOP &&
           (lg->opts.count == 0 || atomic_load(&lg->budget) > 0);
}

/* Issues parked slots: all of them, or under --rate those that are due. */
static void lg_pump(struct lg_thread *t)
{
    int64_t intended = 0;

    while (t->n_parked > 0) {
        if (t->interval_ns > 0) {
            if (lr_mono_ns() < t->next_ns) {
                return;
            }
            intended = t->next_ns;
            t->next_ns += t->interval_ns;
        }
        lg_issue(t, t->parked[--t->n_parked], intended);
    }
}

static gpr_timespec lg_wait_until(const struct lg_thread *t)
{
    int64_t wait = (int64_t)LG_POLL_MS * 1000000;
    int64_t due;

    if (t->n_parked > 0 && t->interval_ns > 0) {
        due = t->next_ns - lr_mono_ns();
        wait = due < 0 ? 0 : (due < wait ? due : wait);
    }
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_nanos(wait, GPR_TIMESPAN));
}

static void lg_drain_cq(grpc_completion_queue *cq)
{
    grpc_event ev;

    grpc_completion_queue_shutdown(cq);
    do {
        ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                        NULL);
    } while (ev.type != GRPC_QUEUE_SHUTDOWN);
    grpc_completion_queue_destroy(cq);
}

static void *lg_thread_main(void *arg)
{
    struct lg_thread *t = arg;
    grpc_event ev;
    size_t i;

    for (i = 0; i < t->n_slots; i++) {
        t->parked[t->n_parked++] = &t->slots[i];
    }
    t->next_ns = lr_mono_ns();
    lg_pump(t);
    while (t->outstanding > 0 || (t->n_parked > 0 && lg_running(t->lg))) {
        ev = grpc_completion_queue_next(t->cq, lg_wait_until(t), NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            t->outstanding--;
            lg_complete(t, ev.tag, ev.success);
            t->parked[t->n_parked++] = ev.tag;
        }
        lg_pump(t);
    }
    lg_drain_cq(t->cq);
    t->cq = NULL;
    return NULL;
}

static void lg_threads_free(struct lg_thread *ts, unsigned n)
{
    unsigned i;

    for (i = 0; ts && i < n; i++) {
        free(ts[i].slots);
        free(ts[i].parked);
    }
    free(ts);
}

/* Slot s uses channel s % C; channel c belongs to thread c % T. */
static int lg_threads_new(struct bench_lg *lg, struct lg_thread **out)
{
    const struct bench_lg_opts *o = &lg->opts;
    struct lg_thread *ts = calloc(o->threads, sizeof(*ts));
    unsigned i;
    uint32_t s;
    int rc;

    if (ts == NULL) {
        return LR_NOMEM;
    }
    for (i = 0; i < o->threads; i++) {
        ts[i].lg = lg;
        ts[i].index = i;
        bench_hist_reset(&ts[i].res.hist);
        rc = bench_model_init(&ts[i].model, &o->model, i + 1);
        if (rc == LR_OK) {
            ts[i].slots = calloc(o->inflight, sizeof(*ts[i].slots));
            ts[i].parked = calloc(o->inflight, sizeof(*ts[i].parked));
            rc = ts[i].slots && ts[i].parked ? LR_OK : LR_NOMEM;
        }
        if (o->rate > 0.0) {
            ts[i].interval_ns = (int64_t)(1e9 * o->threads / o->rate);
            ts[i].interval_ns += ts[i].interval_ns == 0;
        }
        if (rc) {
            lg_threads_free(ts, i + 1);
            return rc;
        }
    }
    for (s = 0; s < o->inflight; s++) {
        unsigned c = s % o->connections;
        struct lg_thread *t = &ts[c % o->threads];
        struct lg_slot *slot = &t->slots[t->n_slots++];

        slot->t = t;
        slot->channel = c;
    }
    *out = ts;
    return LR_OK;
}

static void lg_merge(struct bench_lg_result *dst,
                     const struct bench_lg_result *src);

static double lg_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* User + system CPU seconds of process @p pid, or -1 when unreadable. */
static double lg_proc_cpu_s(int pid)
{
    char path[64];
    char buf[1024];
    unsigned long long ut;
    unsigned long long st;
    const char *p;
    size_t n;
    FILE *f;

    if (pid <= 0) {
        return -1.0;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1.0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces: fields count from the last ')' */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1,
                            " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu",
                            &ut, &st) != 2) {
        return -1.0;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void lg_sleep_s(double s)
{
    struct timespec ts;

    if (s <= 0.0) {
        return;
    }
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void bench_lg_result_init(struct bench_lg_result *r)
{
    memset(r, 0, sizeof(*r));
    bench_hist_reset(&r->hist);
}

void bench_lg_result_add(struct bench_lg_result *dst,
                         const struct bench_lg_result *src)
{
    bool agent = dst->agent_cpu_s >= 0.0 && src->agent_cpu_s >= 0.0;

    lg_merge(dst, src);
    dst->seconds += src->seconds;
    dst->client_cpu_s += src->client_cpu_s;
    dst->agent_cpu_s = agent ? dst->agent_cpu_s + src->agent_cpu_s : -1.0;
}

static void lg_merge(struct bench_lg_result *dst,
                     const struct bench_lg_result *src)
{
    unsigned i;
    unsigned k;

    bench_hist_merge(&dst->hist, &src->hist);
    dst->ok += src->ok;
    for (i = 0; i < BENCH_ERR_COUNT; i++) {
        dst->errors[i] += src->errors[i];
    }
    for (k = 0; k < BENCH_KIND_COUNT; k++) {
        for (i = 0; i < BENCH_ACTIONS; i++) {
            dst->actions[k][i] += src->actions[k][i];
        }
    }
}

static double lg_agent_delta(const struct bench_lg *lg, double agent0)
{
    double now = lg_proc_cpu_s(lg->opts.agent_pid);

    return (agent0 < 0.0 || now < 0.0) ? -1.0 : now - agent0;
}

/*
 * Drives the phases from the calling thread while the run threads work. In
 * --count mode the window opened before the threads started (*t0, *cpu0).
 */
static void lg_drive(struct bench_lg *lg, struct lg_thread *ts, int64_t t0,
                     double cpu0, double agent0, struct bench_lg_result *out)
{
    unsigned i;

    if (lg->opts.count == 0) {
        lg_sleep_s(lg->opts.warmup_s);
        cpu0 = lg_cpu_s();
        agent0 = lg_proc_cpu_s(lg->opts.agent_pid);
        t0 = lr_mono_ns();
        atomic_store(&lg->measure_start_ns, t0);
        atomic_store(&lg->phase, LG_MEASURE);
        lg_sleep_s(lg->opts.duration_s);
        out->seconds = (double)(lr_mono_ns() - t0) / 1e9;
        out->client_cpu_s = lg_cpu_s() - cpu0;
        out->agent_cpu_s = lg_agent_delta(lg, agent0);
        atomic_store(&lg->phase, LG_STOP);
    }
    for (i = 0; i < lg->opts.threads; i++) {
        pthread_join(ts[i].tid, NULL);
    }
    if (lg->opts.count > 0) {
        out->seconds = (double)(lr_mono_ns() - t0) / 1e9;
        out->client_cpu_s = lg_cpu_s() - cpu0;
        out->agent_cpu_s = lg_agent_delta(lg, agent0);
        atomic_store(&lg->phase, LG_STOP);
    }
}

int bench_lg_run(struct bench_lg *lg, enum bench_method method,
                 struct bench_lg_result *out)
{
    struct lg_thread *ts = NULL;
    unsigned i;
    unsigned started = 0;
    int64_t t0;
    double cpu0;
    double agent0;
    int rc;

    memset(out, 0, sizeof(*out));
    bench_hist_reset(&out->hist);
    lg->method = method;
    atomic_store(&lg->budget, lg->opts.count);
    cpu0 = lg_cpu_s();
    agent0 = lg_proc_cpu_s(lg->opts.agent_pid);
    t0 = lr_mono_ns();
    atomic_store(&lg->measure_start_ns, lg->opts.count > 0 ? t0 : INT64_MAX);
    atomic_store(&lg->phase, lg->opts.count > 0 ? LG_MEASURE : LG_WARMUP);
    rc = lg_threads_new(lg, &ts);
    if (rc) {
        goto out;
    }
    for (i = 0; i < lg->opts.threads; i++) {
        ts[i].cq = grpc_completion_queue_create_for_next(NULL);
        if (pthread_create(&ts[i].tid, NULL, lg_thread_main, &ts[i]) != 0) {
            grpc_completion_queue_destroy(ts[i].cq);
            rc = LR_INTERNAL;
            break;
        }
        started++;
    }
    if (rc) {
        atomic_store(&lg->phase, LG_STOP);
        for (i = 0; i < started; i++) {
            pthread_join(ts[i].tid, NULL);
        }
        goto out;
    }
    lg_drive(lg, ts, t0, cpu0, agent0, out);
    for (i = 0; i < lg->opts.threads; i++) {
        lg_merge(out, &ts[i].res);
    }
out:
    lg_threads_free(ts, lg->opts.threads);
    return rc;
}

/* ---- probes ------------------------------------------------------------- */

static void lg_probe_line(FILE *f, const char *account, grpc_slice msg)
{
    Loginrisk__V1__Decision *d = loginrisk__v1__decision__unpack(
        NULL, GRPC_SLICE_LENGTH(msg), GRPC_SLICE_START_PTR(msg));
    size_t i;

    if (d == NULL) {
        fprintf(f, "%s BAD_RESPONSE\n", account);
        return;
    }
    fprintf(f, "%s %s %u ", account, bench_action_name((unsigned)d->action),
            d->score);
    for (i = 0; i < d->n_reasons; i++) {
        fprintf(f, "%s%s", i ? "," : "", d->reasons[i]->code);
    }
    fprintf(f, "%s\n", d->n_reasons ? "" : "-");
    loginrisk__v1__decision__free_unpacked(d, NULL);
}

/* One probe call, waited for on its own queue. */
static int lg_probe_one(struct bench_lg *lg, struct lg_thread *t, uint32_t i,
                        FILE *f)
{
    Loginrisk__V1__LoginAttempt req = LOGINRISK__V1__LOGIN_ATTEMPT__INIT;
    struct lg_slot *s = &t->slots[0];
    struct bench_attempt a;
    grpc_event ev;
    grpc_slice msg;
    int rc;

    bench_model_probe_login(&t->model, i, &a);
    req.account_id = a.account_id;
    req.ip = a.ip;
    req.device_id = a.device_id;
    req.user_agent = (char *)(uintptr_t)a.user_agent;
    req.credential = (Loginrisk__V1__CredentialResult)a.credential;
    loginrisk__v1__login_attempt__pack(&req, t->pack);
    rc = lg_start(
        t, s,
        lg_buffer(t->pack, loginrisk__v1__login_attempt__get_packed_size(&req)),
        lg->h_evaluate[0]);
    if (rc) {
        fprintf(f, "%s LOCAL\n", a.account_id);
        return rc;
    }
    ev = grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success ||
        s->status != GRPC_STATUS_OK || s->recv == NULL) {
        fprintf(
            f, "%s %s\n", a.account_id,
            bench_err_name(ev.success ? (unsigned)s->status : BENCH_ERR_LOCAL));
        rc = LR_GRPC;
    } else {
        msg = lg_read(s->recv);
        lg_probe_line(f, a.account_id, msg);
        grpc_slice_unref(msg);
    }
    lg_release(s);
    return rc;
}

int bench_lg_probe(struct bench_lg *lg, uint32_t n, FILE *f)
{
    struct lg_thread *t = calloc(1, sizeof(*t));
    struct lg_slot slot;
    uint32_t i;
    int rc = LR_NOMEM;
    int one;

    if (t == NULL) {
        goto out;
    }
    rc = bench_model_init(&t->model, &lg->opts.model, 0);
    if (rc) {
        goto out;
    }
    memset(&slot, 0, sizeof(slot));
    slot.t = t;
    t->lg = lg;
    t->slots = &slot;
    t->n_slots = 1;
    t->cq = grpc_completion_queue_create_for_next(NULL);
    for (i = 0; i < n; i++) {
        one = lg_probe_one(lg, t, i, f);
        if (one) {
            rc = one;
        }
    }
    lg_drain_cq(t->cq);
out:
    free(t);
    return rc;
}

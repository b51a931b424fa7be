/*
 * agent_declog.c - the decision log: one JSON line per decision, written by
 * one thread so Evaluate never waits on a disk.
 *
 * The caller's thread formats the line (risk_decision_to_json(), with the
 * account pseudonymized when configured) and puts it on a bounded queue; the
 * writer thread takes the queue in batches and writev()s them to a file
 * opened O_APPEND. Every failure is the log's problem, never the caller's:
 *
 *   queue full             the line is dropped and counted ("dropped")
 *   open or write failure  the lines are counted as lost ("errors"); the
 *                          first is logged at once, later ones summed up
 *                          at most once a minute; a closed file is retried
 *                          at most once a second
 *   SIGHUP                 agent_declog_reopen(): the writer closes and
 *                          opens the path again, so logrotate can move the
 *                          file away (or remove it) and a new one appears
 *
 * Lines are written whole or not at all as far as the writer can tell; a
 * disk that fills up mid-line leaves a torn last line, which `riskctl
 * replay` reports by number and skips.
 */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DECLOG_BATCH 64                /* lines per writev */
#define DECLOG_LINE_STACK 8192         /* most lines fit on the stack */
#define DECLOG_RETRY_NS 1000000000LL   /* reopen a failed file: 1 s */
#define DECLOG_REPORT_NS 60000000000LL /* error summaries: 1 min */

struct declog_line {
    char *text; /* the JSON and its '\n' */
    size_t len; /* with the '\n' */
};

struct agent_declog {
    char *path;
    bool pseudonymize;
    struct agent_hmac key;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* writer: work, a reopen, or stop */
    pthread_cond_t idle; /* flush: progress */
    struct declog_line *ring;
    size_t cap, head, count;
    uint64_t enq_seq, done_seq;       /* lines queued / handled */
    uint64_t reopen_req, reopen_done; /* reopens asked / handled */
    bool stop;
    pthread_t thread;

    /* writer thread only (and open/close, before and after it runs) */
    int fd;
    int64_t last_try_ns;

    /* rate-limited error reports, any thread */
    pthread_mutex_t report_mu;
    int64_t last_report_ns; /* 0 = nothing reported yet */
    uint64_t unreported;
    char last_error[128];

    atomic_uint_fast64_t written;
    atomic_uint_fast64_t dropped;
    atomic_uint_fast64_t errors;
    atomic_uint_fast64_t reopens;
};

/* ---- error reports ------------------------------------------------------- */

/*
 * Records that @p lost lines were lost to @p what. The first failure is
 * logged at once; after that at most one summary a minute, so a full disk
 * under load does not also flood the service log.
 */
static void declog_report(struct agent_declog *dl, const char *what,
                          uint64_t lost, bool dropped)
{
    int64_t now = lr_mono_ns();
    uint64_t n;

    atomic_fetch_add(dropped ? &dl->dropped : &dl->errors, lost);
    pthread_mutex_lock(&dl->report_mu);
    dl->unreported += lost;
    lr_strlcpy(dl->last_error, what, sizeof(dl->last_error));
    if (dl->last_report_ns != 0 &&
        now - dl->last_report_ns < DECLOG_REPORT_NS) {
        pthread_mutex_unlock(&dl->report_mu);
        return;
    }
    n = dl->unreported;
    dl->unreported = 0;
    dl->last_report_ns = now;
    pthread_mutex_unlock(&dl->report_mu);
    if (n == 0)
        lr_log(LR_LOG_WARN,
               "decision log %s: %s (lines are counted as lost until it "
               "opens; more reports at most once a minute)",
               dl->path, what);
    else
        lr_log(LR_LOG_WARN,
               "decision log %s: %s; %llu line(s) lost (more reports at "
               "most once a minute)",
               dl->path, what, (unsigned long long)n);
}

/* At close: what was lost since the last report, if anything. */
static void declog_report_final(struct agent_declog *dl)
{
    if (dl->unreported > 0)
        lr_log(LR_LOG_WARN,
               "decision log %s: %s; %llu more line(s) lost since the last "
               "report",
               dl->path, dl->last_error, (unsigned long long)dl->unreported);
}

/* ---- the file (writer thread) -------------------------------------------- */

static void declog_errno_report(struct agent_declog *dl, const char *op, int e,
                                uint64_t lost)
{
    char what[128];

    snprintf(what, sizeof(what), "%s: %s", op, strerror(e));
    declog_report(dl, what, lost, false);
}

/* Opens the path again (closing the old descriptor first). */
static void declog_open_file(struct agent_declog *dl)
{
    if (dl->fd >= 0) {
        close(dl->fd);
        dl->fd = -1;
    }
    dl->last_try_ns = lr_mono_ns();
    dl->fd = open(dl->path,
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (dl->fd < 0)
        declog_errno_report(dl, "open", errno, 0);
}

/* Drops the first @p n bytes from the iovecs at *@p iov (*@p cnt of them). */
static size_t declog_advance(struct iovec **iov, int *cnt, size_t n)
{
    size_t whole = 0;

    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
        whole++;
    }
    if (*cnt > 0 && n > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
    return whole;
}

/* Writes @p n lines; returns how many were written whole. */
static size_t declog_writev(struct agent_declog *dl,
                            const struct declog_line *lines, size_t n)
{
    struct iovec vec[DECLOG_BATCH];
    struct iovec *iov = vec;
    int cnt = (int)n;
    size_t whole = 0;

    for (size_t i = 0; i < n; i++) {
        vec[i].iov_base = lines[i].text;
        vec[i].iov_len = lines[i].len;
    }
    while (cnt > 0) {
        ssize_t w = writev(dl->fd, iov, cnt);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            declog_errno_report(dl, "write", w < 0 ? errno : EIO, n - whole);
            break;
        }
        whole += declog_advance(&iov, &cnt, (size_t)w);
    }
    return whole;
}

static void declog_write_batch(struct agent_declog *dl,
                               const struct declog_line *lines, size_t n)
{
    size_t whole;

    if (dl->fd < 0 && lr_mono_ns() - dl->last_try_ns >= DECLOG_RETRY_NS)
        declog_open_file(dl);
    if (dl->fd < 0) {
        declog_report(dl, "not open", n, false);
        return;
    }
    whole = declog_writev(dl, lines, n);
    atomic_fetch_add(&dl->written, whole);
}

/* ---- the writer thread --------------------------------------------------- */

/* Takes up to DECLOG_BATCH lines off the ring (under mu). */
static size_t declog_take(struct agent_declog *dl, struct declog_line *out)
{
    size_t n = 0;

    while (dl->count > 0 && n < DECLOG_BATCH) {
        out[n++] = dl->ring[dl->head];
        dl->head = (dl->head + 1) % dl->cap;
        dl->count--;
    }
    return n;
}

static void *declog_main(void *arg)
{
    struct agent_declog *dl = arg;
    struct declog_line batch[DECLOG_BATCH];

    pthread_mutex_lock(&dl->mu);
    for (;;) {
        while (!dl->stop && dl->count == 0 && dl->reopen_done == dl->reopen_req)
            pthread_cond_wait(&dl->wake, &dl->mu);
        if (dl->reopen_done != dl->reopen_req) {
            uint64_t req = dl->reopen_req;
            pthread_mutex_unlock(&dl->mu);
            declog_open_file(dl);
            atomic_fetch_add(&dl->reopens, 1);
            pthread_mutex_lock(&dl->mu);
            dl->reopen_done = req;
            pthread_cond_broadcast(&dl->idle);
            continue;
        }
        if (dl->count == 0)
            break; /* stop, and nothing left */
        size_t n = declog_take(dl, batch);
        pthread_mutex_unlock(&dl->mu);
        declog_write_batch(dl, batch, n);
        for (size_t i = 0; i < n; i++)
            free(batch[i].text);
        pthread_mutex_lock(&dl->mu);
        dl->done_seq += n;
        pthread_cond_broadcast(&dl->idle);
    }
    pthread_mutex_unlock(&dl->mu);
    return NULL;
}

/* ---- open and close ------------------------------------------------------ */

static int declog_init_sync(struct agent_declog *dl)
{
    pthread_condattr_t ca;
    int rc = LR_INTERNAL;

    if (pthread_condattr_init(&ca))
        return LR_INTERNAL;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
        pthread_cond_init(&dl->idle, &ca) == 0) {
        pthread_cond_init(&dl->wake, NULL);
        pthread_mutex_init(&dl->mu, NULL);
        pthread_mutex_init(&dl->report_mu, NULL);
        rc = LR_OK;
    }
    pthread_condattr_destroy(&ca);
    return rc;
}

static int declog_check_opts(const struct agent_declog_opts *o, char *err,
                             size_t errcap)
{
    if (o == NULL || o->path == NULL || o->path[0] == '\0')
        return lr_errf(err, errcap, LR_INVALID, "decision log: no path");
    if (o->pseudonymize &&
        (o->key == NULL || o->key_len < AGENT_PSEUDONYM_KEY_MIN))
        return lr_errf(err, errcap, LR_INVALID,
                       "decision log: pseudonyms need a key of at least "
                       "%d bytes",
                       AGENT_PSEUDONYM_KEY_MIN);
    if (o->queue_cap > AGENT_DECLOG_QUEUE_MAX)
        return lr_errf(err, errcap, LR_INVALID,
                       "decision log: queue of %u lines is above the "
                       "limit of %d",
                       o->queue_cap, AGENT_DECLOG_QUEUE_MAX);
    return LR_OK;
}

static void declog_free(struct agent_declog *dl)
{
    lr_wipe(&dl->key, sizeof(dl->key));
    free(dl->ring);
    free(dl->path);
    free(dl);
}

int agent_declog_open(const struct agent_declog_opts *o,
                      struct agent_declog **out, char *err, size_t errcap)
{
    struct agent_declog *dl = NULL;
    int rc;

    rc = declog_check_opts(o, err, errcap);
    if (rc)
        return rc;
    dl = calloc(1, sizeof(*dl));
    if (dl == NULL)
        return lr_errf(err, errcap, LR_NOMEM, "decision log: no memory");
    dl->fd = -1;
    dl->cap = o->queue_cap != 0 ? o->queue_cap : AGENT_DECLOG_QUEUE_DEFAULT;
    dl->path = strdup(o->path);
    dl->ring = calloc(dl->cap, sizeof(*dl->ring));
    if (dl->path == NULL || dl->ring == NULL) {
        rc = lr_errf(err, errcap, LR_NOMEM, "decision log: no memory");
        goto out;
    }
    dl->pseudonymize = o->pseudonymize;
    if (o->pseudonymize)
        agent_hmac_init(&dl->key, o->key, o->key_len);
    rc = declog_init_sync(dl);
    if (rc) {
        lr_errf(err, errcap, rc, "decision log: no condition variable");
        goto out;
    }
    declog_open_file(dl);
    if (pthread_create(&dl->thread, NULL, declog_main, dl)) {
        rc = lr_errf(err, errcap, LR_INTERNAL,
                     "decision log: cannot start the writer thread");
        goto out;
    }
    if (dl->fd >= 0)
        lr_log(LR_LOG_INFO, "decision log %s: open (accounts %s)", dl->path,
               dl->pseudonymize ? "pseudonymized" : "in clear");
    *out = dl;
    dl = NULL;
out:
    if (dl != NULL) {
        if (dl->fd >= 0)
            close(dl->fd);
        declog_free(dl);
    }
    return rc;
}

void agent_declog_close(struct agent_declog *dl)
{
    if (dl == NULL)
        return;
    pthread_mutex_lock(&dl->mu);
    dl->stop = true;
    pthread_cond_signal(&dl->wake);
    pthread_mutex_unlock(&dl->mu);
    pthread_join(dl->thread, NULL);
    if (dl->fd >= 0)
        close(dl->fd);
    declog_report_final(dl);
    pthread_cond_destroy(&dl->wake);
    pthread_cond_destroy(&dl->idle);
    pthread_mutex_destroy(&dl->mu);
    pthread_mutex_destroy(&dl->report_mu);
    declog_free(dl);
}

/* ---- the callers' side --------------------------------------------------- */

/* The line and its '\n' in a new buffer; NULL (counted) on failure. */
static char *declog_format(struct agent_declog *dl,
                           const struct risk_attempt *a,
                           const struct risk_decision *d, size_t *len_out)
{
    char stack[DECLOG_LINE_STACK];
    char pseudo[AGENT_PSEUDONYM_MAX];
    const char *account = a->account_id;
    char *big = NULL, *line = NULL;
    size_t len = 0;
    int rc;

    if (dl->pseudonymize) {
        agent_pseudonym(&dl->key, a->account_id, pseudo);
        account = pseudo;
    }
    rc = risk_decision_to_json(a, d, account, stack, sizeof(stack), &len);
    if (rc == LR_FULL) {
        big = malloc(RISK_DECISION_JSON_MAX);
        rc = big == NULL ? LR_NOMEM
                         : risk_decision_to_json(a, d, account, big,
                                                 RISK_DECISION_JSON_MAX, &len);
    }
    if (rc == LR_OK)
        line = malloc(len + 1);
    if (line == NULL) {
        declog_report(dl, rc ? lr_strerror(rc) : "out of memory", 1, false);
        goto out;
    }
    memcpy(line, big != NULL ? big : stack, len);
    line[len] = '\n';
    *len_out = len + 1;
out:
    free(big);
    return line;
}

void agent_declog_write(struct agent_declog *dl, const struct risk_attempt *a,
                        const struct risk_decision *d)
{
    struct declog_line l;

    if (dl == NULL || a == NULL || d == NULL)
        return;
    l.text = declog_format(dl, a, d, &l.len);
    if (l.text == NULL)
        return;
    pthread_mutex_lock(&dl->mu);
    if (dl->count == dl->cap || dl->stop) {
        pthread_mutex_unlock(&dl->mu);
        free(l.text);
        declog_report(dl, "queue full (the disk is slower than the traffic)", 1,
                      true);
        return;
    }
    dl->ring[(dl->head + dl->count) % dl->cap] = l;
    dl->count++;
    dl->enq_seq++;
    pthread_cond_signal(&dl->wake);
    pthread_mutex_unlock(&dl->mu);
}

void agent_declog_reopen(struct agent_declog *dl)
{
    if (dl == NULL)
        return;
    pthread_mutex_lock(&dl->mu);
    dl->reopen_req++;
    pthread_cond_signal(&dl->wake);
    pthread_mutex_unlock(&dl->mu);
}

int agent_declog_flush(struct agent_declog *dl, uint32_t timeout_ms)
{
    struct timespec dl_at;
    uint64_t lines, reopens;
    int rc = LR_OK;

    if (dl == NULL)
        return LR_OK;
    clock_gettime(CLOCK_MONOTONIC, &dl_at);
    dl_at.tv_sec += timeout_ms / 1000;
    dl_at.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl_at.tv_nsec >= 1000000000L) {
        dl_at.tv_sec++;
        dl_at.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&dl->mu);
    lines = dl->enq_seq;
    reopens = dl->reopen_req;
    while (dl->done_seq < lines || dl->reopen_done < reopens) {
        if (pthread_cond_timedwait(&dl->idle, &dl->mu, &dl_at) == ETIMEDOUT) {
            rc = LR_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&dl->mu);
    return rc;
}

void agent_declog_stats(struct agent_declog *dl, struct agent_declog_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (dl == NULL)
        return;
    out->written = atomic_load(&dl->written);
    out->dropped = atomic_load(&dl->dropped);
    out->errors = atomic_load(&dl->errors);
    out->reopens = atomic_load(&dl->reopens);
    pthread_mutex_lock(&dl->mu);
    out->queued = dl->count;
    pthread_mutex_unlock(&dl->mu);
}

/* ---- from a config ------------------------------------------------------- */

int agent_declog_open_cfg(const struct cfg *cfg, const char *path_override,
                          struct agent_declog **out, char *err, size_t errcap)
{
    const char *path = path_override;
    struct agent_declog_opts o = {0};
    uint8_t key[AGENT_PSEUDONYM_KEY_MAX];
    size_t key_len = 0;
    int rc;

    if (path == NULL || path[0] == '\0')
        path = cfg->logging.decision_log;
    if (path == NULL || path[0] == '\0') {
        *out = NULL;
        return LR_OK;
    }
    o.path = path;
    o.pseudonymize = cfg->logging.account == CFG_ACCOUNT_LOG_PSEUDONYM;
    if (o.pseudonymize) {
        rc = agent_pseudonym_key_load(cfg->logging.pseudonym_key_file,
                                      cfg->state_dir, key, sizeof(key),
                                      &key_len, err, errcap);
        if (rc)
            goto out;
        o.key = key;
        o.key_len = key_len;
    }
    rc = agent_declog_open(&o, out, err, errcap);
out:
    lr_wipe(key, sizeof(key));
    return rc;
}

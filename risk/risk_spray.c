/*
 * risk_spray.c - password-spray fingerprints: Argon2id on a bounded pool.
 *
 * A failed password is turned into a 16-byte fingerprint, Argon2id with the
 * secret pepper as salt (parallelism 1, t_cost and m_cost from the config),
 * so the engine can count distinct accounts per password without keeping
 * the password or anything that can be reversed cheaply without the pepper.
 *
 * The hashing is slow on purpose and must stay off the gRPC threads, so it
 * runs on a fixed pool of threads fed by a bounded queue. Every job slot is
 * allocated when the pool starts (queue pending + one running per thread);
 * risk_spray_submit() copies the password into a free slot under the lock
 * and answers LR_BUSY when `queue` jobs are already waiting: it never blocks
 * and never grows. The slot also holds a copy of the attempt the password
 * came with, so the caller (a gRPC call whose memory is gone once it has
 * answered) keeps nothing alive for the job. A worker hashes outside the
 * lock, wipes the slot's copy of the password at once, calls the done
 * callback with the fingerprint and the attempt (outside the lock, so the
 * callback may submit again), and only then gives the slot back.
 *
 * The workers lower their own CPU priority (nice + RISK_SPRAY_NICE, per
 * thread on Linux, where a nice value belongs to the thread): Argon2 is
 * deliberately expensive, and on a busy machine it must lose the CPU to the
 * threads that answer, not the other way round. A fingerprint that comes
 * late only delays the marking of a source.
 *
 * The pepper lives in a file: read if present (16..1024 bytes, refused if
 * other users may read or write it), else created with 32 bytes from
 * getrandom(): written to a unique temporary name opened O_CREAT|O_EXCL with
 * mode 0600, synced, then link()ed to the final name, which fails rather
 * than overwrite a pepper another process created first (then that one is
 * read). The libargon2 calls live here and nowhere else.
 */
#include "risk/risk.h"

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#define SPRAY_PASSWORD_MAX 1024
#define SPRAY_PEPPER_MIN 16
#define SPRAY_PEPPER_MAX 1024
#define SPRAY_PEPPER_NEW 32
#define SPRAY_THREADS_MAX 64
#define SPRAY_QUEUE_MAX 65536
#define SPRAY_M_COST_MIN 8 /* KiB: libargon2's floor for one lane */

struct spray_job {
    risk_spray_done_fn done;
    void *arg;
    size_t len;
    bool has_attempt;
    struct risk_attempt a; /* its strings point into the arrays below */
    char request_id[RISK_REQUEST_ID_MAX];
    char account_id[STORE_ID_MAX];
    char device_id[STORE_ID_MAX];
    uint8_t pw[SPRAY_PASSWORD_MAX];
};

struct risk_spray_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* work queued, or stopping */
    bool sync_ready;
    bool stopping;
    uint32_t t_cost;
    uint32_t m_cost_kib;
    uint32_t queue; /* pending jobs before LR_BUSY */
    uint8_t pepper[SPRAY_PEPPER_MAX];
    size_t pepper_len;
    struct spray_job *jobs; /* queue + threads slots */
    uint32_t n_jobs;
    uint32_t *free_slots; /* stack of free slot numbers */
    uint32_t n_free;
    uint32_t *fifo; /* ring of queued slot numbers */
    uint32_t fifo_head;
    uint32_t fifo_len;
    pthread_t *threads;
    uint32_t n_threads; /* started */
};

/* ---- Argon2id ----------------------------------------------------------- */

static int spray_hash(const struct risk_spray_pool *p, const uint8_t *pw,
                      size_t len, uint8_t fp[RISK_FP_LEN])
{
    int arc = argon2id_hash_raw(p->t_cost, p->m_cost_kib, 1, pw, len, p->pepper,
                                p->pepper_len, fp, RISK_FP_LEN);

    if (arc == ARGON2_OK) {
        return LR_OK;
    }
    lr_log(LR_LOG_ERROR, "spray: argon2id: %s", argon2_error_message(arc));
    return arc == ARGON2_MEMORY_ALLOCATION_ERROR ? LR_NOMEM : LR_CRYPTO;
}

int risk_spray_fingerprint(struct risk_spray_pool *p, const uint8_t *password,
                           size_t len, uint8_t fp[RISK_FP_LEN])
{
    uint8_t tmp[RISK_FP_LEN];
    int rc;

    if (!p || !fp || (!password && len) || len > SPRAY_PASSWORD_MAX) {
        return LR_INVALID;
    }
    rc = spray_hash(p, password, len, tmp);
    if (rc) {
        goto out;
    }
    memcpy(fp, tmp, RISK_FP_LEN);
out:
    lr_wipe(tmp, sizeof(tmp));
    return rc;
}

/* ---- the pool ----------------------------------------------------------- */

static void run_job(const struct risk_spray_pool *p, struct spray_job *j)
{
    uint8_t fp[RISK_FP_LEN];
    int rc = spray_hash(p, j->pw, j->len, fp);

    lr_wipe(j->pw, j->len);
    j->len = 0;
    j->done(rc ? NULL : fp, j->has_attempt ? &j->a : NULL, j->arg);
    lr_wipe(fp, sizeof(fp));
    j->has_attempt = false;
}

/* Takes the next queued slot, or returns false when stopping and drained. */
static bool take_job(struct risk_spray_pool *p, uint32_t *slot)
{
    bool got = false;

    pthread_mutex_lock(&p->mu);
    while (!p->fifo_len && !p->stopping) {
        pthread_cond_wait(&p->cv, &p->mu);
    }
    if (p->fifo_len) {
        *slot = p->fifo[p->fifo_head];
        p->fifo_head = (p->fifo_head + 1) % p->n_jobs;
        p->fifo_len--;
        got = true;
    }
    pthread_mutex_unlock(&p->mu);
    return got;
}

/* Moves the calling thread RISK_SPRAY_NICE steps down (Linux only). */
static void lower_priority(void)
{
#ifdef __linux__
    id_t tid = (id_t)syscall(SYS_gettid);
    int cur;

    errno = 0;
    cur = getpriority(PRIO_PROCESS, tid);
    if (errno)
        cur = 0;
    cur = cur + RISK_SPRAY_NICE > 19 ? 19 : cur + RISK_SPRAY_NICE;
    if (setpriority(PRIO_PROCESS, tid, cur))
        lr_log(LR_LOG_WARN, "spray: lowering a worker's priority: %s",
               strerror(errno));
#endif
}

static void *spray_worker(void *arg)
{
    struct risk_spray_pool *p = arg;
    uint32_t slot;

    lower_priority();
    while (take_job(p, &slot)) {
        run_job(p, &p->jobs[slot]);
        pthread_mutex_lock(&p->mu);
        p->free_slots[p->n_free++] = slot;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static bool pool_cfg_valid(const struct cfg_spray *cfg, const uint8_t *pepper,
                           size_t pepper_len)
{
    return cfg && pepper && pepper_len >= SPRAY_PEPPER_MIN &&
           pepper_len <= SPRAY_PEPPER_MAX && cfg->threads >= 1 &&
           cfg->threads <= SPRAY_THREADS_MAX && cfg->queue >= 1 &&
           cfg->queue <= SPRAY_QUEUE_MAX && cfg->t_cost >= 1 &&
           cfg->m_cost_kib >= SPRAY_M_COST_MIN;
}

static int pool_alloc(struct risk_spray_pool *p, uint32_t threads)
{
    p->n_jobs = p->queue + threads;
    p->jobs = calloc(p->n_jobs, sizeof(*p->jobs));
    p->free_slots = calloc(p->n_jobs, sizeof(*p->free_slots));
    p->fifo = calloc(p->n_jobs, sizeof(*p->fifo));
    p->threads = calloc(threads, sizeof(*p->threads));
    if (!p->jobs || !p->free_slots || !p->fifo || !p->threads) {
        return LR_NOMEM;
    }
    for (uint32_t i = 0; i < p->n_jobs; i++) {
        p->free_slots[i] = p->n_jobs - 1 - i;
    }
    p->n_free = p->n_jobs;
    if (pthread_mutex_init(&p->mu, NULL)) {
        return LR_NOMEM;
    }
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        return LR_NOMEM;
    }
    p->sync_ready = true;
    return LR_OK;
}

/* Starts the workers with every signal blocked, so signals go elsewhere. */
static int pool_start(struct risk_spray_pool *p, uint32_t threads)
{
    sigset_t all, old;
    int rc = LR_OK;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (uint32_t i = 0; i < threads; i++) {
        int err = pthread_create(&p->threads[i], NULL, spray_worker, p);

        if (err) {
            lr_log(LR_LOG_ERROR, "spray: starting a worker: %s", strerror(err));
            rc = err == EAGAIN ? LR_NOMEM : LR_INTERNAL;
            break;
        }
        p->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int risk_spray_pool_new(const struct cfg_spray *cfg, const uint8_t *pepper,
                        size_t pepper_len, struct risk_spray_pool **out)
{
    struct risk_spray_pool *p = NULL;
    int rc = LR_INVALID;

    if (!out || !pool_cfg_valid(cfg, pepper, pepper_len)) {
        goto out;
    }
    rc = LR_NOMEM;
    p = calloc(1, sizeof(*p));
    if (!p) {
        goto out;
    }
    p->t_cost = cfg->t_cost;
    p->m_cost_kib = cfg->m_cost_kib;
    p->queue = cfg->queue;
    memcpy(p->pepper, pepper, pepper_len);
    p->pepper_len = pepper_len;
    rc = pool_alloc(p, cfg->threads);
    if (rc) {
        goto out;
    }
    rc = pool_start(p, cfg->threads);
    if (rc) {
        goto out;
    }
    *out = p;
    p = NULL;
out:
    risk_spray_pool_free(p);
    return rc;
}

void risk_spray_pool_free(struct risk_spray_pool *p)
{
    if (!p) {
        return;
    }
    if (p->sync_ready) {
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (uint32_t i = 0; i < p->n_threads; i++) {
            pthread_join(p->threads[i], NULL);
        }
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    if (p->jobs) {
        lr_wipe(p->jobs, (size_t)p->n_jobs * sizeof(*p->jobs));
    }
    free(p->jobs);
    free(p->free_slots);
    free(p->fifo);
    free(p->threads);
    lr_wipe(p->pepper, sizeof(p->pepper));
    free(p);
}

static bool id_fits(const char *s, size_t cap)
{
    return !s || strnlen(s, cap) < cap;
}

/* The slot's own copy of @p a; @p a's ids were checked by id_fits(). */
static void job_set_attempt(struct spray_job *j, const struct risk_attempt *a)
{
    j->has_attempt = a != NULL;
    if (!a) {
        return;
    }
    lr_strlcpy(j->request_id, a->request_id ? a->request_id : "",
               sizeof(j->request_id));
    lr_strlcpy(j->account_id, a->account_id ? a->account_id : "",
               sizeof(j->account_id));
    lr_strlcpy(j->device_id, a->device_id ? a->device_id : "",
               sizeof(j->device_id));
    j->a = *a;
    j->a.request_id = j->request_id;
    j->a.account_id = j->account_id;
    j->a.device_id = j->device_id;
    j->a.user_agent = "";
    j->a.fingerprint = NULL;
}

int risk_spray_submit(struct risk_spray_pool *p, const uint8_t *password,
                      size_t len, const struct risk_attempt *a,
                      risk_spray_done_fn done, void *arg)
{
    int rc = LR_OK;

    if (!p || !done || (!password && len) || len > SPRAY_PASSWORD_MAX) {
        return LR_INVALID;
    }
    if (a && (!id_fits(a->request_id, RISK_REQUEST_ID_MAX) ||
              !id_fits(a->account_id, STORE_ID_MAX) ||
              !id_fits(a->device_id, STORE_ID_MAX))) {
        return LR_INVALID;
    }
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        rc = LR_SHUTDOWN;
    } else if (p->fifo_len >= p->queue) {
        rc = LR_BUSY;
    } else {
        /* pending < queue and running <= threads: a free slot exists */
        uint32_t slot = p->free_slots[--p->n_free];
        struct spray_job *j = &p->jobs[slot];

        if (len) {
            memcpy(j->pw, password, len);
        }
        j->len = len;
        job_set_attempt(j, a);
        j->done = done;
        j->arg = arg;
        p->fifo[(p->fifo_head + p->fifo_len) % p->n_jobs] = slot;
        p->fifo_len++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ---- the pepper file ---------------------------------------------------- */

static int errno_to_lr(int err)
{
    switch (err) {
    case ENOENT:
        return LR_NOTFOUND;
    case EACCES:
    case EPERM:
        return LR_DENIED;
    case EEXIST:
        return LR_EXISTS;
    case ENOMEM:
        return LR_NOMEM;
    default:
        return LR_IO;
    }
}

/* Refuses anything but a regular file that other users cannot touch. */
static int pepper_check_mode(const char *path, int fd)
{
    struct stat st;

    if (fstat(fd, &st)) {
        lr_log(LR_LOG_ERROR, "spray pepper %s: %s", path, strerror(errno));
        return LR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        lr_log(LR_LOG_ERROR, "spray pepper %s: not a regular file", path);
        return LR_CORRUPT;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        lr_log(LR_LOG_ERROR,
               "spray pepper %s: other users may read or write it "
               "(mode %04o); run chmod 600 on it",
               path, (unsigned)(st.st_mode & 07777));
        return LR_DENIED;
    }
    return LR_OK;
}

static int read_all(int fd, uint8_t *buf, size_t cap, size_t *n_out)
{
    size_t n = 0;

    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return LR_IO;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    *n_out = n;
    return LR_OK;
}

static int pepper_read(const char *path, uint8_t **out, size_t *len_out)
{
    uint8_t buf[SPRAY_PEPPER_MAX + 1];
    uint8_t *copy = NULL;
    size_t n = 0;
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        rc = errno_to_lr(errno);
        if (rc != LR_NOTFOUND) {
            lr_log(LR_LOG_ERROR, "spray pepper %s: %s", path, strerror(errno));
        }
        return rc;
    }
    rc = pepper_check_mode(path, fd);
    if (rc) {
        goto out;
    }
    rc = read_all(fd, buf, sizeof(buf), &n);
    if (rc) {
        lr_log(LR_LOG_ERROR, "spray pepper %s: %s", path, strerror(errno));
        goto out;
    }
    rc = LR_CORRUPT;
    if (n < SPRAY_PEPPER_MIN || n > SPRAY_PEPPER_MAX) {
        lr_log(LR_LOG_ERROR,
               "spray pepper %s: %zu bytes; it must hold %d to %d bytes", path,
               n, SPRAY_PEPPER_MIN, SPRAY_PEPPER_MAX);
        goto out;
    }
    rc = LR_NOMEM;
    copy = malloc(n);
    if (!copy) {
        goto out;
    }
    memcpy(copy, buf, n);
    *out = copy;
    *len_out = n;
    rc = LR_OK;
out:
    lr_wipe(buf, sizeof(buf));
    close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    size_t n = 0;

    while (n < len) {
        ssize_t w = write(fd, buf + n, len - n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return errno_to_lr(errno);
        }
        n += (size_t)w;
    }
    return LR_OK;
}

/* Makes the new name durable: fsync the directory holding @p path. */
static void sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (!slash) {
        lr_strlcpy(dir, ".", sizeof(dir));
    } else if (slash == path) {
        lr_strlcpy(dir, "/", sizeof(dir));
    } else {
        size_t n = (size_t)(slash - path);

        if (n >= sizeof(dir)) {
            return;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes a fresh pepper to the unique temporary file @p tmp, mode 0600. */
static int pepper_write_tmp(const char *tmp)
{
    uint8_t key[SPRAY_PEPPER_NEW];
    int rc = LR_IO;
    int fd = -1;

    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        lr_log(LR_LOG_ERROR, "spray pepper: getrandom: %s", strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = errno_to_lr(errno);
        lr_log(LR_LOG_ERROR, "spray pepper %s: %s", tmp, strerror(errno));
        goto out;
    }
    rc = fchmod(fd, 0600) ? errno_to_lr(errno) : LR_OK;
    if (!rc) {
        rc = write_all(fd, key, sizeof(key));
    }
    if (!rc && fsync(fd)) {
        rc = errno_to_lr(errno);
    }
    if (rc) {
        lr_log(LR_LOG_ERROR, "spray pepper %s: writing: %s", tmp,
               lr_strerror(rc));
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    lr_wipe(key, sizeof(key));
    return rc;
}

/* Creates the pepper at @p path; LR_EXISTS if another process was first. */
static int pepper_create(const char *path)
{
    char tmp[PATH_MAX];
    uint32_t nonce = 0;
    int rc;

    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) {
        return LR_IO;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%08x", path, (long)getpid(),
                 (unsigned)nonce) >= (int)sizeof(tmp)) {
        lr_log(LR_LOG_ERROR, "spray pepper %s: path too long", path);
        return LR_INVALID;
    }
    rc = pepper_write_tmp(tmp);
    if (rc) {
        goto out;
    }
    if (link(tmp, path)) {
        rc = errno_to_lr(errno);
        if (rc != LR_EXISTS) {
            lr_log(LR_LOG_ERROR, "spray pepper %s: %s", path, strerror(errno));
        }
        goto out;
    }
    sync_parent(path);
    lr_log(LR_LOG_INFO, "spray pepper %s: created (32 random bytes)", path);
out:
    (void)unlink(tmp);
    return rc;
}

int risk_spray_load_pepper(const char *path, uint8_t **out, size_t *len_out)
{
    int rc;

    if (!path || !*path || !out || !len_out) {
        return LR_INVALID;
    }
    rc = pepper_read(path, out, len_out);
    if (rc != LR_NOTFOUND) {
        return rc;
    }
    rc = pepper_create(path);
    if (rc && rc != LR_EXISTS) {
        return rc;
    }
    return pepper_read(path, out, len_out);
}

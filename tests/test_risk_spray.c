/*
 * test_risk_spray.c - password-spray fingerprints: Argon2id with the pepper,
 * the bounded pool (saturation, exactly-once callbacks, draining free, the
 * job's own copy of the attempt, the workers' lower priority) and
 * the pepper file (created 0600 and reused, refused when short or readable
 * by others). Real threads, real files in a fresh temporary directory.
 */
#include "risk/risk.h"

#include <argon2.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- allocation faults: linked with -Wl,--wrap=malloc,--wrap=calloc, so
 * the allocations of this binary's own objects (not libc's or the shared
 * libraries') come here; a test fails the Nth one, SQLite-style. ---------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);

static unsigned long fail_at; /* fail the fail_at-th allocation; 0 = off */

static bool fail_now(void)
{
    return fail_at && --fail_at == 0;
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

#define NJOBS 200

static const uint8_t pepper_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t pepper_b[32] = "fedcba9876543210fedcba9876543210";

/* Shared by a test and its callbacks; every field under mu. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int entered;
    int done;
    int calls[NJOBS];
    int failed[NJOBS];
};

struct job {
    struct gate *g;
    int id;
};

static struct cfg_spray spray_cfg(uint32_t threads, uint32_t queue,
                                  uint32_t m_cost_kib)
{
    struct cfg_spray c = {
        .enabled = true,
        .t_cost = 1,
        .m_cost_kib = m_cost_kib,
        .threads = threads,
        .queue = queue,
    };
    return c;
}

static struct risk_spray_pool *new_pool(uint32_t threads, uint32_t queue,
                                        uint32_t m_cost_kib,
                                        const uint8_t *pepper)
{
    struct cfg_spray c = spray_cfg(threads, queue, m_cost_kib);
    struct risk_spray_pool *p = NULL;

    assert_int_equal(risk_spray_pool_new(&c, pepper, 32, &p), LR_OK);
    assert_non_null(p);
    return p;
}

static void gate_init(struct gate *g, bool open)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = open;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_set(struct gate *g, bool open)
{
    pthread_mutex_lock(&g->mu);
    g->open = open;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until at least @p entered callbacks started and @p done ended. */
static void gate_wait(struct gate *g, int entered, int done)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < entered || g->done < done) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void on_done(const uint8_t *fp, const struct risk_attempt *a, void *arg)
{
    struct job *j = arg;
    struct gate *g = j->g;

    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    (void)a;
    g->calls[j->id]++;
    g->failed[j->id] += fp == NULL;
    g->done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int submit(struct risk_spray_pool *p, struct job *jobs, int id)
{
    char pw[32];
    int n = snprintf(pw, sizeof(pw), "hunter%d", id);

    return risk_spray_submit(p, (const uint8_t *)pw, (size_t)n, NULL, on_done,
                             &jobs[id]);
}

static void test_risk_spray_fingerprint_deterministic(void **state)
{
    struct risk_spray_pool *a = new_pool(1, 4, 1024, pepper_a);
    struct risk_spray_pool *b = new_pool(1, 4, 1024, pepper_b);
    uint8_t f1[RISK_FP_LEN], f2[RISK_FP_LEN], f3[RISK_FP_LEN];
    uint8_t f4[RISK_FP_LEN], ref[RISK_FP_LEN];
    const uint8_t pw[] = "Summer2024!";

    (void)state;
    assert_int_equal(risk_spray_fingerprint(a, pw, 11, f1), LR_OK);
    assert_int_equal(risk_spray_fingerprint(a, pw, 11, f2), LR_OK);
    assert_memory_equal(f1, f2, RISK_FP_LEN);
    assert_int_equal(risk_spray_fingerprint(b, pw, 11, f3), LR_OK);
    assert_memory_not_equal(f1, f3, RISK_FP_LEN);
    assert_int_equal(risk_spray_fingerprint(a, pw, 10, f4), LR_OK);
    assert_memory_not_equal(f1, f4, RISK_FP_LEN);
    /* the construction: Argon2id(t=1, m=1024 KiB, p=1, salt = pepper) */
    assert_int_equal(
        argon2id_hash_raw(1, 1024, 1, pw, 11, pepper_a, 32, ref, RISK_FP_LEN),
        ARGON2_OK);
    assert_memory_equal(f1, ref, RISK_FP_LEN);
    /* the empty password is a password too */
    assert_int_equal(risk_spray_fingerprint(a, NULL, 0, f4), LR_OK);
    assert_memory_not_equal(f1, f4, RISK_FP_LEN);
    risk_spray_pool_free(a);
    risk_spray_pool_free(b);
}

static void test_risk_spray_submit_busy_when_full(void **state)
{
    struct risk_spray_pool *p = new_pool(1, 2, 64, pepper_a);
    struct job jobs[NJOBS];
    struct gate g;
    int busy = 0;

    (void)state;
    gate_init(&g, false);
    for (int i = 0; i < NJOBS; i++) {
        jobs[i] = (struct job){&g, i};
    }
    /* job 0 runs and parks in its callback; 1 and 2 fill the queue */
    assert_int_equal(submit(p, jobs, 0), LR_OK);
    gate_wait(&g, 1, 0);
    assert_int_equal(submit(p, jobs, 1), LR_OK);
    assert_int_equal(submit(p, jobs, 2), LR_OK);
    for (int i = 3; i < 10; i++) {
        int rc = submit(p, jobs, i);

        assert_int_equal(rc, LR_BUSY);
        busy += rc == LR_BUSY;
    }
    assert_int_equal(busy, 7);
    gate_set(&g, true);
    gate_wait(&g, 3, 3);
    /* slots came back: the pool takes work again */
    assert_int_equal(submit(p, jobs, 10), LR_OK);
    risk_spray_pool_free(p);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(g.calls[i], (i < 3 || i == 10) ? 1 : 0);
        assert_int_equal(g.failed[i], 0);
    }
    gate_destroy(&g);
}

static void test_risk_spray_submit_done_once_per_job(void **state)
{
    struct risk_spray_pool *p = new_pool(2, 16, 64, pepper_a);
    struct job jobs[NJOBS];
    int accepted[NJOBS];
    struct gate g;
    int n_ok = 0;

    (void)state;
    gate_init(&g, true);
    for (int i = 0; i < NJOBS; i++) {
        jobs[i] = (struct job){&g, i};
        int rc = submit(p, jobs, i);

        assert_true(rc == LR_OK || rc == LR_BUSY);
        accepted[i] = rc == LR_OK;
        n_ok += accepted[i];
    }
    gate_wait(&g, n_ok, n_ok);
    risk_spray_pool_free(p);
    for (int i = 0; i < NJOBS; i++) {
        assert_int_equal(g.calls[i], accepted[i]);
    }
    assert_int_equal(g.done, n_ok);
    gate_destroy(&g);
}

/* What the callback saw of the attempt, under mu. */
struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    bool had_fp;
    bool had_attempt;
    char request_id[RISK_REQUEST_ID_MAX];
    char account_id[300];
    char device_id[300];
    struct geo_ip ip;
    int64_t ts;
    enum lr_credential cred;
    bool ua_empty;
    bool fp_null;
    int nice;
};

static void on_seen(const uint8_t *fp, const struct risk_attempt *a, void *arg)
{
    struct seen *w = arg;

    pthread_mutex_lock(&w->mu);
    w->had_fp = fp != NULL;
    w->had_attempt = a != NULL;
    if (a) {
        snprintf(w->request_id, sizeof(w->request_id), "%s", a->request_id);
        snprintf(w->account_id, sizeof(w->account_id), "%s", a->account_id);
        snprintf(w->device_id, sizeof(w->device_id), "%s", a->device_id);
        w->ip = a->ip;
        w->ts = a->timestamp_ms;
        w->cred = a->credential;
        w->ua_empty = a->user_agent && !a->user_agent[0];
        w->fp_null = a->fingerprint == NULL;
    }
    errno = 0;
    w->nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    w->done = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* The job owns a copy of the attempt: the caller's memory may go at once. */
static void test_risk_spray_submit_copies_attempt(void **state)
{
    struct risk_spray_pool *p = new_pool(1, 4, 64, pepper_a);
    static const uint8_t fp_in[RISK_FP_LEN] = {1};
    char *acct = strdup("alice");
    char *dev = strdup("dev-1");
    char *rid = strdup("req-42");
    char long_id[300];
    struct risk_attempt a = {0};
    struct seen w;
    int base;

    (void)state;
    assert_non_null(acct);
    assert_non_null(dev);
    assert_non_null(rid);
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    a.request_id = rid;
    a.account_id = acct;
    a.device_id = dev;
    a.user_agent = "curl/8";
    a.ip.family = 4;
    memcpy(a.ip.addr, "\xc0\x00\x02\x0a", 4);
    a.timestamp_ms = 1800000000000;
    a.credential = LR_CRED_INVALID;
    a.fingerprint = fp_in;
    pthread_mutex_lock(&w.mu); /* the callback waits until all is freed */
    assert_int_equal(
        risk_spray_submit(p, (const uint8_t *)"pw", 2, &a, on_seen, &w), LR_OK);
    free(acct);
    free(dev);
    free(rid);
    memset(&a, 0, sizeof(a));
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    assert_true(w.had_fp);
    assert_true(w.had_attempt);
    assert_string_equal(w.request_id, "req-42");
    assert_string_equal(w.account_id, "alice");
    assert_string_equal(w.device_id, "dev-1");
    assert_int_equal(w.ip.family, 4);
    assert_memory_equal(w.ip.addr, "\xc0\x00\x02\x0a", 4);
    assert_int_equal(w.ts, 1800000000000);
    assert_int_equal(w.cred, LR_CRED_INVALID);
    assert_true(w.ua_empty);
    assert_true(w.fp_null);
    /* the worker runs below the process's priority */
    errno = 0;
    base = getpriority(PRIO_PROCESS, 0);
    assert_int_equal(errno, 0);
    assert_int_equal(w.nice,
                     base + RISK_SPRAY_NICE > 19 ? 19 : base + RISK_SPRAY_NICE);
    /* ids longer than struct risk_attempt allows are refused */
    memset(long_id, 'x', sizeof(long_id));
    long_id[sizeof(long_id) - 1] = '\0';
    a.request_id = "r";
    a.account_id = long_id;
    a.ip.family = 4;
    a.timestamp_ms = 1;
    assert_int_equal(
        risk_spray_submit(p, (const uint8_t *)"pw", 2, &a, on_seen, &w),
        LR_INVALID);
    a.account_id = "alice";
    a.device_id = long_id;
    assert_int_equal(
        risk_spray_submit(p, (const uint8_t *)"pw", 2, &a, on_seen, &w),
        LR_INVALID);
    long_id[RISK_REQUEST_ID_MAX] = '\0'; /* 65 bytes */
    a.device_id = "";
    a.request_id = long_id;
    assert_int_equal(
        risk_spray_submit(p, (const uint8_t *)"pw", 2, &a, on_seen, &w),
        LR_INVALID);
    risk_spray_pool_free(p);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

static void test_risk_spray_pool_free_drains_queue(void **state)
{
    struct risk_spray_pool *p = new_pool(1, 8, 1024, pepper_a);
    struct job jobs[NJOBS];
    struct gate g;

    (void)state;
    gate_init(&g, true);
    for (int i = 0; i < 8; i++) {
        jobs[i] = (struct job){&g, i};
        assert_int_equal(submit(p, jobs, i), LR_OK);
    }
    /* at most one has started: free must finish the other seven first */
    risk_spray_pool_free(p);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(g.calls[i], 1);
    }
    gate_destroy(&g);
}

static void test_risk_spray_pool_new_rejects_bad_args(void **state)
{
    struct risk_spray_pool *p = NULL;
    struct cfg_spray c = spray_cfg(1, 4, 1024);
    uint8_t fp[RISK_FP_LEN];

    (void)state;
    assert_int_equal(risk_spray_pool_new(&c, pepper_a, 15, &p), LR_INVALID);
    assert_int_equal(risk_spray_pool_new(&c, NULL, 32, &p), LR_INVALID);
    c.threads = 0;
    assert_int_equal(risk_spray_pool_new(&c, pepper_a, 32, &p), LR_INVALID);
    c = spray_cfg(1, 0, 1024);
    assert_int_equal(risk_spray_pool_new(&c, pepper_a, 32, &p), LR_INVALID);
    c = spray_cfg(1, 4, 4);
    assert_int_equal(risk_spray_pool_new(&c, pepper_a, 32, &p), LR_INVALID);
    c = spray_cfg(1, 4, 1024);
    c.t_cost = 0;
    assert_int_equal(risk_spray_pool_new(&c, pepper_a, 32, &p), LR_INVALID);
    assert_null(p);
    risk_spray_pool_free(NULL);

    p = new_pool(1, 4, 64, pepper_a);
    uint8_t *big = calloc(1, 1025);

    assert_non_null(big);
    assert_int_equal(risk_spray_submit(p, big, 1025, NULL, NULL, NULL),
                     LR_INVALID);
    assert_int_equal(risk_spray_fingerprint(p, big, 1025, fp), LR_INVALID);
    assert_int_equal(risk_spray_fingerprint(p, big, 1024, fp), LR_OK);
    free(big);
    risk_spray_pool_free(p);
}

static void test_risk_spray_pool_new_out_of_memory(void **state)
{
    struct cfg_spray c = spray_cfg(2, 4, 64);

    (void)state;
    for (unsigned long k = 1;; k++) {
        struct risk_spray_pool *p = NULL;
        int rc;

        fail_at = k;
        rc = risk_spray_pool_new(&c, pepper_a, 32, &p);
        if (fail_at) { /* k is past the last allocation */
            fail_at = 0;
            assert_int_equal(rc, LR_OK);
            risk_spray_pool_free(p);
            break;
        }
        assert_int_equal(rc, LR_NOMEM);
        assert_null(p);
    }
}

/* ---- pepper file -------------------------------------------------------- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_risk_spray.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char path[512];

    (void)state;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
        if (unlink(path)) {
            rmdir(path);
        }
    }
    if (d) {
        closedir(d);
    }
    return rmdir(tmpdir);
}

static void write_file(const char *path, const void *data, size_t len,
                       mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d))) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_risk_spray_load_pepper_creates_0600_and_reuses(void **state)
{
    char path[128];
    uint8_t *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    struct stat st;

    (void)state;
    snprintf(path, sizeof(path), "%s/spray.pepper", tmpdir);
    assert_int_equal(risk_spray_load_pepper(path, &p1, &n1), LR_OK);
    assert_int_equal(n1, 32);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(count_entries(tmpdir), 1); /* no temporary left */
    assert_int_equal(risk_spray_load_pepper(path, &p2, &n2), LR_OK);
    assert_int_equal(n2, 32);
    assert_memory_equal(p1, p2, 32);
    /* out of memory while reading: an error, the out-params untouched */
    uint8_t *p3 = NULL;
    size_t n3 = 0;

    fail_at = 1;
    assert_int_equal(risk_spray_load_pepper(path, &p3, &n3), LR_NOMEM);
    fail_at = 0;
    assert_null(p3);
    assert_int_equal(n3, 0);
    lr_wipe(p1, n1);
    lr_wipe(p2, n2);
    free(p1);
    free(p2);
    unlink(path);
}

static void test_risk_spray_load_pepper_refuses_bad_files(void **state)
{
    char path[128];
    uint8_t *p = NULL;
    size_t n = 0;
    uint8_t bytes[40] = {1, 2, 3};

    (void)state;
    snprintf(path, sizeof(path), "%s/short.pepper", tmpdir);
    write_file(path, bytes, 15, 0600);
    assert_int_equal(risk_spray_load_pepper(path, &p, &n), LR_CORRUPT);
    write_file(path, bytes, 16, 0600);
    assert_int_equal(risk_spray_load_pepper(path, &p, &n), LR_OK);
    assert_int_equal(n, 16);
    free(p);
    p = NULL;
    snprintf(path, sizeof(path), "%s/open.pepper", tmpdir);
    write_file(path, bytes, 32, 0644);
    assert_int_equal(risk_spray_load_pepper(path, &p, &n), LR_DENIED);
    write_file(path, bytes, 32, 0602);
    assert_int_equal(risk_spray_load_pepper(path, &p, &n), LR_DENIED);
    assert_int_equal(risk_spray_load_pepper(tmpdir, &p, &n), LR_CORRUPT);
    snprintf(path, sizeof(path), "%s/no/such/dir/pepper", tmpdir);
    assert_int_not_equal(risk_spray_load_pepper(path, &p, &n), LR_OK);
    assert_int_equal(risk_spray_load_pepper("", &p, &n), LR_INVALID);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_spray_fingerprint_deterministic),
        cmocka_unit_test(test_risk_spray_submit_busy_when_full),
        cmocka_unit_test(test_risk_spray_submit_done_once_per_job),
        cmocka_unit_test(test_risk_spray_submit_copies_attempt),
        cmocka_unit_test(test_risk_spray_pool_free_drains_queue),
        cmocka_unit_test(test_risk_spray_pool_new_rejects_bad_args),
        cmocka_unit_test(test_risk_spray_pool_new_out_of_memory),
        cmocka_unit_test(test_risk_spray_load_pepper_creates_0600_and_reuses),
        cmocka_unit_test(test_risk_spray_load_pepper_refuses_bad_files),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}

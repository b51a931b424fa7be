/*
 * test_agent_declog.c - the decision log writer: every line is one decision
 * that risk_event_parse() reads back; pseudonyms replace account ids when
 * configured; logrotate (rename, or remove) followed by a reopen gives a new
 * file; a full disk (/dev/full), a missing directory and a stalled reader
 * (a FIFO nobody drains) never block the caller and are counted; many
 * threads at once lose nothing. Real files in a fresh temporary directory.
 */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_tmpdir.h"

#define FLUSH_MS 10000
#define THREADS 4
#define PER_THREAD 500

static char tmpdir[PATH_MAX];
static char logpath[PATH_MAX + 32];

static int setup_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_make(tmpdir, sizeof(tmpdir), "declog"), 0);
    snprintf(logpath, sizeof(logpath), "%s/decisions.jsonl", tmpdir);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    assert_int_equal(test_tmpdir_remove(tmpdir), 0);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

struct sample {
    struct risk_attempt a;
    struct risk_decision d;
    char request_id[RISK_REQUEST_ID_MAX];
    char account[64];
};

static void sample_fill(struct sample *s, int i)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->request_id, sizeof(s->request_id), "req-%d", i);
    snprintf(s->account, sizeof(s->account), "user%d@example.com", i % 7);
    s->a.request_id = s->request_id;
    s->a.account_id = s->account;
    assert_int_equal(geo_ip_parse("198.51.100.9", 12, &s->a.ip), LR_OK);
    s->a.device_id = "device";
    s->a.user_agent = "test";
    s->a.timestamp_ms = 1700000000000LL + i;
    s->a.credential = (enum lr_credential)(i % 4);
    lr_strlcpy(s->d.request_id, s->request_id, sizeof(s->d.request_id));
    s->d.action = (enum lr_action)(1 + i % 4);
    s->d.score = i % 101;
    lr_strlcpy(s->d.reasons[0].code, "NEW_DEVICE", RISK_CODE_MAX);
    s->d.reasons[0].points = 15;
    s->d.n_reasons = 1;
    lr_strlcpy(s->d.policy_version, "v1", sizeof(s->d.policy_version));
}

static void write_n(struct agent_declog *dl, int from, int n)
{
    struct sample s;

    for (int i = from; i < from + n; i++) {
        sample_fill(&s, i);
        agent_declog_write(dl, &s.a, &s.d);
    }
}

static struct agent_declog *open_log(const char *path, bool pseudo,
                                     uint32_t queue)
{
    static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
    struct agent_declog_opts o = {
        .path = path,
        .pseudonymize = pseudo,
        .key = key,
        .key_len = sizeof(key),
        .queue_cap = queue,
    };
    struct agent_declog *dl = NULL;
    char err[256] = "";

    assert_int_equal(agent_declog_open(&o, &dl, err, sizeof(err)), LR_OK);
    assert_non_null(dl);
    return dl;
}

/* Reads @p path, checks every line parses, returns how many there were. */
static int count_lines(const char *path, int first_ts_offset, bool pseudo)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int n = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    while ((len = getline(&line, &cap, f)) > 0) {
        struct risk_event ev;
        char err[256] = "";
        assert_int_equal(line[len - 1], '\n');
        if (risk_event_parse(line, (size_t)len, &ev, err, sizeof(err)))
            fail_msg("line %d: %s", n + 1, err);
        if (first_ts_offset >= 0)
            assert_int_equal(ev.timestamp_ms,
                             1700000000000LL + first_ts_offset + n);
        assert_int_equal(strncmp(ev.account_id, "p:", 2) == 0, pseudo);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

/* ---- tests --------------------------------------------------------------- */

static void test_agent_declog_write_lines_read_back(void **state)
{
    struct agent_declog_stats st;
    struct agent_declog *dl;
    struct stat sb;

    (void)state;
    dl = open_log(logpath, false, 0);
    write_n(dl, 0, 100);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_stats(dl, &st);
    assert_int_equal(st.written, 100);
    assert_int_equal(st.dropped + st.errors, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(count_lines(logpath, 0, false), 100);
    assert_int_equal(stat(logpath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777 & ~0640, 0);
    agent_declog_close(dl);
    /* appends, never truncates */
    dl = open_log(logpath, false, 0);
    write_n(dl, 100, 10);
    agent_declog_close(dl);
    assert_int_equal(count_lines(logpath, 0, false), 110);
}

static void test_agent_declog_write_pseudonymizes(void **state)
{
    static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
    char want[AGENT_PSEUDONYM_MAX], buf[4096];
    struct agent_declog *dl;
    struct agent_hmac h;
    struct sample s;
    FILE *f;

    (void)state;
    dl = open_log(logpath, true, 0);
    write_n(dl, 0, 20);
    agent_declog_close(dl);
    assert_int_equal(count_lines(logpath, 0, true), 20);
    agent_hmac_init(&h, key, sizeof(key));
    sample_fill(&s, 0);
    agent_pseudonym(&h, s.account, want);
    f = fopen(logpath, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_non_null(strstr(buf, want));
    assert_null(strstr(buf, "example.com"));
}

static void test_agent_declog_reopen_after_rename(void **state)
{
    char rotated[PATH_MAX + 64];
    struct agent_declog_stats st;
    struct agent_declog *dl;

    (void)state;
    snprintf(rotated, sizeof(rotated), "%s.1", logpath);
    dl = open_log(logpath, false, 0);
    write_n(dl, 0, 5);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    assert_int_equal(rename(logpath, rotated), 0);
    /* until the reopen, lines follow the renamed file */
    write_n(dl, 5, 2);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_reopen(dl);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    assert_int_equal(access(logpath, F_OK), 0);
    write_n(dl, 7, 3);
    agent_declog_close(dl);
    assert_int_equal(count_lines(rotated, 0, false), 7);
    assert_int_equal(count_lines(logpath, 7, false), 3);
    (void)st;
}

static void test_agent_declog_reopen_after_remove(void **state)
{
    struct agent_declog_stats st;
    struct agent_declog *dl;

    (void)state;
    dl = open_log(logpath, false, 0);
    write_n(dl, 0, 3);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    assert_int_equal(unlink(logpath), 0);
    agent_declog_reopen(dl);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    /* a new, empty file exists even before the next decision */
    assert_int_equal(count_lines(logpath, 0, false), 0);
    write_n(dl, 3, 4);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_stats(dl, &st);
    assert_int_equal(st.reopens, 1);
    assert_int_equal(st.written, 7);
    agent_declog_close(dl);
    assert_int_equal(count_lines(logpath, 3, false), 4);
}

static void test_agent_declog_write_full_disk_counted(void **state)
{
    struct agent_declog_stats st;
    struct agent_declog *dl;

    (void)state;
    /* /dev/full opens, and every write fails with ENOSPC */
    dl = open_log("/dev/full", false, 0);
    write_n(dl, 0, 50);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_stats(dl, &st);
    assert_int_equal(st.written, 0);
    assert_int_equal(st.errors, 50);
    assert_int_equal(st.dropped, 0);
    agent_declog_close(dl);
}

static void test_agent_declog_open_unwritable_counted(void **state)
{
    char path[PATH_MAX + 64], dir[PATH_MAX + 32];
    struct agent_declog_stats st;
    struct agent_declog *dl;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/later", tmpdir);
    snprintf(path, sizeof(path), "%s/decisions.jsonl", dir);
    /* the directory does not exist: open succeeds, lines are counted lost */
    dl = open_log(path, false, 0);
    write_n(dl, 0, 10);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_stats(dl, &st);
    assert_int_equal(st.written, 0);
    assert_int_equal(st.errors, 10);
    /* the directory appears; a reopen (SIGHUP) brings the log back */
    assert_int_equal(mkdir(dir, 0700), 0);
    agent_declog_reopen(dl);
    write_n(dl, 10, 5);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_stats(dl, &st);
    assert_int_equal(st.written, 5);
    agent_declog_close(dl);
    assert_int_equal(count_lines(path, 10, false), 5);
}

/* A FIFO with a reader that never reads: the writer blocks in writev. */
static void test_agent_declog_write_full_queue_drops(void **state)
{
    char fifo[PATH_MAX + 32], buf[65536];
    struct agent_declog_stats st;
    struct agent_declog *dl;
    int64_t t0;
    int rfd;

    (void)state;
    snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);
    dl = open_log(fifo, false, 16);
    t0 = lr_mono_ns();
    write_n(dl, 0, 2000); /* ~300 KB: far more than the pipe holds */
    /* the caller never waited on the stalled writer */
    assert_true(lr_mono_ns() - t0 < 2000000000LL);
    agent_declog_stats(dl, &st);
    assert_true(st.dropped > 0);
    assert_true(st.queued <= 16);
    /* drain the pipe until everything queued is handled */
    while (agent_declog_flush(dl, 5) == LR_TIMEOUT) {
        while (read(rfd, buf, sizeof(buf)) > 0)
            ;
    }
    agent_declog_stats(dl, &st);
    assert_int_equal(st.written + st.dropped, 2000);
    assert_int_equal(st.errors, 0);
    agent_declog_close(dl);
    close(rfd);
}

struct writer_arg {
    struct agent_declog *dl;
    int base;
};

static void *writer_main(void *arg)
{
    struct writer_arg *w = arg;

    write_n(w->dl, w->base, PER_THREAD);
    return NULL;
}

static void test_agent_declog_write_many_threads(void **state)
{
    struct writer_arg args[THREADS];
    pthread_t th[THREADS];
    struct agent_declog_stats st;
    struct agent_declog *dl;

    (void)state;
    dl = open_log(logpath, true, THREADS * PER_THREAD);
    for (int i = 0; i < THREADS; i++) {
        args[i].dl = dl;
        args[i].base = i * PER_THREAD;
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &args[i]),
                         0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(agent_declog_flush(dl, FLUSH_MS), LR_OK);
    agent_declog_stats(dl, &st);
    assert_int_equal(st.written, THREADS * PER_THREAD);
    agent_declog_close(dl);
    assert_int_equal(count_lines(logpath, -1, true), THREADS * PER_THREAD);
}

static void test_agent_declog_open_bad_options(void **state)
{
    struct agent_declog_opts o = {.path = logpath};
    struct agent_declog *dl = (struct agent_declog *)&o;
    char err[256] = "";

    (void)state;
    assert_int_equal(agent_declog_open(NULL, &dl, err, sizeof(err)),
                     LR_INVALID);
    o.path = "";
    assert_int_equal(agent_declog_open(&o, &dl, err, sizeof(err)), LR_INVALID);
    assert_string_equal(err, "decision log: no path");
    o.path = logpath;
    o.pseudonymize = true;
    o.key = (const uint8_t *)"short";
    o.key_len = 5;
    assert_int_equal(agent_declog_open(&o, &dl, err, sizeof(err)), LR_INVALID);
    assert_non_null(strstr(err, "key of at least 16"));
    o.pseudonymize = false;
    o.queue_cap = AGENT_DECLOG_QUEUE_MAX + 1;
    assert_int_equal(agent_declog_open(&o, &dl, err, sizeof(err)), LR_INVALID);
    assert_ptr_equal(dl, (struct agent_declog *)&o);
    assert_int_equal(access(logpath, F_OK), -1);
}

static void test_agent_declog_null_is_noop(void **state)
{
    struct agent_declog_stats st;
    struct sample s;

    (void)state;
    sample_fill(&s, 1);
    agent_declog_write(NULL, &s.a, &s.d);
    agent_declog_reopen(NULL);
    assert_int_equal(agent_declog_flush(NULL, 1), LR_OK);
    agent_declog_stats(NULL, &st);
    assert_int_equal(st.written + st.errors + st.dropped + st.queued, 0);
    agent_declog_close(NULL);
}

static void test_agent_declog_open_cfg(void **state)
{
    struct cfg cfg;
    struct agent_declog *dl = (struct agent_declog *)&cfg;
    char err[256] = "", key[PATH_MAX + 32];

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.state_dir = tmpdir;
    /* no path: the log is off */
    assert_int_equal(agent_declog_open_cfg(&cfg, NULL, &dl, err, sizeof(err)),
                     LR_OK);
    assert_null(dl);
    /* pseudonyms with the default key, made in the state dir */
    cfg.logging.decision_log = logpath;
    cfg.logging.account = CFG_ACCOUNT_LOG_PSEUDONYM;
    assert_int_equal(agent_declog_open_cfg(&cfg, NULL, &dl, err, sizeof(err)),
                     LR_OK);
    assert_non_null(dl);
    write_n(dl, 0, 3);
    agent_declog_close(dl);
    assert_int_equal(count_lines(logpath, 0, true), 3);
    snprintf(key, sizeof(key), "%s/pseudonym.key", tmpdir);
    assert_int_equal(access(key, R_OK), 0);
    /* the --decision-log override wins; a missing configured key fails */
    cfg.logging.pseudonym_key_file = "/nonexistent/pseudonym.key";
    assert_int_equal(
        agent_declog_open_cfg(&cfg, "/nonexistent/x", &dl, err, sizeof(err)),
        LR_NOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/pseudonym.key"));
    cfg.logging.account = CFG_ACCOUNT_LOG_CLEAR;
    snprintf(key, sizeof(key), "%s/override.jsonl", tmpdir);
    assert_int_equal(agent_declog_open_cfg(&cfg, key, &dl, err, sizeof(err)),
                     LR_OK);
    write_n(dl, 0, 2);
    agent_declog_close(dl);
    assert_int_equal(count_lines(key, 0, false), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_agent_declog_write_lines_read_back),
        T(test_agent_declog_write_pseudonymizes),
        T(test_agent_declog_reopen_after_rename),
        T(test_agent_declog_reopen_after_remove),
        T(test_agent_declog_write_full_disk_counted),
        T(test_agent_declog_open_unwritable_counted),
        T(test_agent_declog_write_full_queue_drops),
        T(test_agent_declog_write_many_threads),
        T(test_agent_declog_open_bad_options),
        T(test_agent_declog_null_is_noop),
        T(test_agent_declog_open_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

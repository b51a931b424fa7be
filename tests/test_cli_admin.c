/*
 * test_cli_admin.c - the pure parts of riskctl's admin commands: durations
 * and points in time, account-id files, the --resume state file, exit
 * codes, argument order, and the replay tallies (flow matrix, reasons).
 *
 * Files are real files in a temporary directory; the commands that talk to
 * an agent are covered end to end by integration/test_admin*.py.
 */
#include "cli/cli_admin.h"

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

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof(tmpdir), "cli-admin");
}

static int teardown_dir(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static void path_of(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- durations ------------------------------------------------------------
 */

static void test_cli_parse_duration_units(void **state)
{
    uint64_t s = 1;

    (void)state;
    assert_int_equal(cli_parse_duration("0", &s), LR_OK);
    assert_int_equal(s, 0);
    assert_int_equal(cli_parse_duration("90", &s), LR_OK);
    assert_int_equal(s, 90);
    assert_int_equal(cli_parse_duration("90s", &s), LR_OK);
    assert_int_equal(s, 90);
    assert_int_equal(cli_parse_duration("30m", &s), LR_OK);
    assert_int_equal(s, 1800);
    assert_int_equal(cli_parse_duration("12h", &s), LR_OK);
    assert_int_equal(s, 43200);
    assert_int_equal(cli_parse_duration("7d", &s), LR_OK);
    assert_int_equal(s, 604800);
    assert_int_equal(cli_parse_duration("2w", &s), LR_OK);
    assert_int_equal(s, 1209600);
}

static void test_cli_parse_duration_bad(void **state)
{
    const char *bad[] = {"",       "-1",   "5x",
                         "1.5h",   "h",    "12 h",
                         "12hh",   "0x10", "99999999999999999999999",
                         "36600d", NULL};
    uint64_t s = 7;

    (void)state;
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(cli_parse_duration(bad[i], &s), LR_INVALID);
        assert_int_equal(s, 7); /* untouched on failure */
    }
    assert_int_equal(cli_parse_duration(NULL, &s), LR_INVALID);
    /* the cap itself is fine */
    assert_int_equal(cli_parse_duration("36500d", &s), LR_OK);
    assert_int_equal(s, CLI_DURATION_MAX_S);
}

/* ---- points in time -------------------------------------------------------
 */

static void test_cli_parse_time_forms(void **state)
{
    const int64_t now = 1714600800000; /* 2024-05-01T22:00:00Z */
    int64_t t = 0;

    (void)state;
    assert_int_equal(cli_parse_time("1714600800000", now, &t), LR_OK);
    assert_int_equal(t, 1714600800000);
    assert_int_equal(cli_parse_time("now", now, &t), LR_OK);
    assert_int_equal(t, now);
    assert_int_equal(cli_parse_time("-12h", now, &t), LR_OK);
    assert_int_equal(t, now - 12 * 3600000LL);
    assert_int_equal(cli_parse_time("-30m", now, &t), LR_OK);
    assert_int_equal(t, now - 30 * 60000LL);
    assert_int_equal(cli_parse_time("+1h", now, &t), LR_OK);
    assert_int_equal(t, now + 3600000LL);
    assert_int_equal(cli_parse_time("2024-05-01T22:00:00Z", now, &t), LR_OK);
    assert_int_equal(t, 1714600800000);
    assert_int_equal(cli_parse_time("2024-05-01 22:00:00z", now, &t), LR_OK);
    assert_int_equal(t, 1714600800000);
    assert_int_equal(cli_parse_time("2024-05-01T22:00:00.5+02:00", now, &t),
                     LR_OK);
    assert_int_equal(t, 1714600800000 - 2 * 3600000LL + 500);
    assert_int_equal(
        cli_parse_time("2024-05-01T22:00:00.123456-01:30", now, &t), LR_OK);
    assert_int_equal(t, 1714600800000 + 90 * 60000LL + 123);
    assert_int_equal(cli_parse_time("2024-05-01", now, &t), LR_OK);
    assert_int_equal(t, 1714521600000);
    assert_int_equal(cli_parse_time("1970-01-01T00:00:00Z", now, &t), LR_OK);
    assert_int_equal(t, 0);
    assert_int_equal(cli_parse_time("2024-02-29", now, &t), LR_OK);
    assert_int_equal(cli_parse_time("2000-02-29", now, &t), LR_OK);
}

static void test_cli_parse_time_bad(void **state)
{
    const char *bad[] = {"",
                         "yesterday",
                         "-12x",
                         "-h",
                         "2023-02-29",
                         "1900-02-29",
                         "2024-13-01",
                         "2024-04-31",
                         "2024-05-01T25:00:00Z",
                         "2024-05-01T22:00:00",
                         "2024-05-01T22:00Z",
                         "2024-05-01T22:00:00.Z",
                         "2024-05-01T22:00:00+2:00",
                         "2024-05-01T22:00:00Zjunk",
                         "24-05-01",
                         "99999999999999999999999",
                         NULL};
    int64_t t = 42;

    (void)state;
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(cli_parse_time(bad[i], 0, &t), LR_INVALID);
        assert_int_equal(t, 42);
    }
}

static void test_cli_format_time_round_trip(void **state)
{
    char buf[40];
    int64_t t = 0;

    (void)state;
    cli_format_time(1714600800123, buf, sizeof(buf));
    assert_string_equal(buf, "2024-05-01T22:00:00.123Z");
    assert_int_equal(cli_parse_time(buf, 0, &t), LR_OK);
    assert_int_equal(t, 1714600800123);
}

/* ---- account ids ----------------------------------------------------------
 */

static void test_cli_ids_read_lines(void **state)
{
    static const char text[] = "alice\r\n\nbob\n   \ncarol@example.com\n"
                               "\xc3\xa9mile\n\r\nlast-no-newline";
    struct cli_ids ids = {0};
    char path[300], err[256] = "";
    FILE *f;

    (void)state;
    path_of("ids.txt", path, sizeof(path));
    write_file(path, text, sizeof(text) - 1);
    f = fopen(path, "r");
    assert_int_equal(cli_ids_read(f, path, &ids, err, sizeof(err)), LR_OK);
    fclose(f);
    /* blank lines skipped; "   " is an id (nothing else is trimmed) */
    assert_int_equal(ids.n, 6);
    assert_string_equal(cli_ids_get(&ids, 0), "alice");
    assert_string_equal(cli_ids_get(&ids, 1), "bob");
    assert_string_equal(cli_ids_get(&ids, 2), "   ");
    assert_string_equal(cli_ids_get(&ids, 3), "carol@example.com");
    assert_string_equal(cli_ids_get(&ids, 4), "\xc3\xa9mile");
    assert_string_equal(cli_ids_get(&ids, 5), "last-no-newline");
    cli_ids_free(&ids);
}

/* Reads @p text of @p len bytes and expects LR_INVALID naming @p where. */
static void expect_bad_file(const void *text, size_t len, const char *where,
                            const char *why)
{
    struct cli_ids ids = {0};
    char path[300], err[512] = "", want[400];
    FILE *f;

    path_of("bad.txt", path, sizeof(path));
    write_file(path, text, len);
    f = fopen(path, "r");
    assert_int_equal(cli_ids_read(f, "bad.txt", &ids, err, sizeof(err)),
                     LR_INVALID);
    fclose(f);
    snprintf(want, sizeof(want), "bad.txt:%s: ", where);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, why));
    cli_ids_free(&ids);
}

static void test_cli_ids_read_bad_lines(void **state)
{
    char text[6000];

    (void)state;
    /* 257 bytes on line 3 */
    memset(text, 'x', sizeof(text));
    memcpy(text, "a\nb\n", 4);
    text[4 + 257] = '\n';
    expect_bad_file(text, 4 + 258, "3", "longer than 256 bytes");
    /* a line past the reader's cap */
    text[4 + 257] = 'x';
    expect_bad_file(text, sizeof(text), "3", "line longer than");
    /* bad UTF-8 on line 2, and a NUL byte on line 2 */
    expect_bad_file("ok\nbad\xff\n", 8, "2", "UTF-8");
    expect_bad_file("ok\nn\0ul\n", 8, "2", "NUL");
}

static void test_cli_ids_add_checks(void **state)
{
    struct cli_ids ids = {0};
    char long_id[CLI_ID_MAX + 1], err[128];

    (void)state;
    memset(long_id, 'a', sizeof(long_id));
    assert_int_equal(cli_ids_add(&ids, "", 0, err, sizeof(err)), LR_INVALID);
    assert_int_equal(
        cli_ids_add(&ids, long_id, CLI_ID_MAX + 1, err, sizeof(err)),
        LR_INVALID);
    assert_int_equal(cli_ids_add(&ids, long_id, CLI_ID_MAX, err, sizeof(err)),
                     LR_OK);
    assert_int_equal(ids.n, 1);
    assert_int_equal(strlen(cli_ids_get(&ids, 0)), CLI_ID_MAX);
    cli_ids_free(&ids);
}

static void test_cli_ids_digest_identity(void **state)
{
    struct cli_ids a = {0}, b = {0};
    char err[64];
    uint64_t d;

    (void)state;
    assert_int_equal(cli_ids_add(&a, "x", 1, err, sizeof(err)), LR_OK);
    assert_int_equal(cli_ids_add(&a, "y", 1, err, sizeof(err)), LR_OK);
    assert_int_equal(cli_ids_add(&b, "y", 1, err, sizeof(err)), LR_OK);
    assert_int_equal(cli_ids_add(&b, "x", 1, err, sizeof(err)), LR_OK);
    d = cli_ids_digest(&a, "lock", 10);
    assert_int_equal(d, cli_ids_digest(&a, "lock", 10));
    assert_int_not_equal(d, cli_ids_digest(&b, "lock", 10));
    assert_int_not_equal(d, cli_ids_digest(&a, "unlock", 10));
    assert_int_not_equal(d, cli_ids_digest(&a, "lock", 11));
    cli_ids_free(&a);
    cli_ids_free(&b);
}

/* ---- resume state ---------------------------------------------------------
 */

static void test_cli_resume_skips_confirmed(void **state)
{
    struct cli_batch_result r0 = {10, 7, 3, 41}, r2 = {10, 10, 0, 42};
    struct cli_resume r;
    char path[300], err[512];

    (void)state;
    path_of("run.state", path, sizeof(path));
    unlink(path);
    assert_int_equal(
        cli_resume_open(path, "lock", 10, 35, 0xabcdef, &r, err, sizeof(err)),
        LR_OK);
    assert_int_equal(r.n_batches, 4);
    assert_int_equal(r.n_done, 0);
    assert_int_equal(cli_resume_mark(&r, 0, &r0), LR_OK);
    assert_int_equal(cli_resume_mark(&r, 2, &r2), LR_OK);
    assert_int_equal(cli_resume_mark(&r, 4, &r2), LR_INVALID);
    cli_resume_close(&r);

    assert_int_equal(
        cli_resume_open(path, "lock", 10, 35, 0xabcdef, &r, err, sizeof(err)),
        LR_OK);
    assert_int_equal(r.n_done, 2);
    assert_true(r.done[0] && !r.done[1] && r.done[2] && !r.done[3]);
    assert_int_equal(r.total.matched, 20);
    assert_int_equal(r.total.changed, 17);
    assert_int_equal(r.total.unchanged, 3);
    cli_resume_close(&r);
}

static void test_cli_resume_other_run_refused(void **state)
{
    struct cli_resume r;
    char path[300], err[512] = "";

    (void)state;
    path_of("other.state", path, sizeof(path));
    unlink(path);
    assert_int_equal(
        cli_resume_open(path, "lock", 10, 35, 1, &r, err, sizeof(err)), LR_OK);
    cli_resume_close(&r);
    assert_int_equal(
        cli_resume_open(path, "lock", 10, 35, 2, &r, err, sizeof(err)),
        LR_INVALID);
    assert_non_null(strstr(err, "belongs to another run"));
    assert_int_equal(
        cli_resume_open(path, "unlock", 10, 35, 1, &r, err, sizeof(err)),
        LR_INVALID);
    assert_int_equal(
        cli_resume_open(path, "lock", 20, 35, 1, &r, err, sizeof(err)),
        LR_INVALID);
}

static void test_cli_resume_ignores_cut_lines(void **state)
{
    struct cli_resume r;
    char path[300], err[512], header[200];
    FILE *f;

    (void)state;
    path_of("cut.state", path, sizeof(path));
    unlink(path);
    assert_int_equal(
        cli_resume_open(path, "lock", 5, 20, 9, &r, err, sizeof(err)), LR_OK);
    cli_resume_close(&r);
    f = fopen(path, "r");
    assert_non_null(fgets(header, sizeof(header), f));
    fclose(f);
    /* a good line, a duplicate, an index out of range, junk, a cut line */
    f = fopen(path, "a");
    fputs("batch 1 5 5 0 9\nbatch 1 5 5 0 9\nbatch 9 5 5 0 9\nhello\n"
          "batch 3 5 5",
          f);
    fclose(f);
    assert_int_equal(
        cli_resume_open(path, "lock", 5, 20, 9, &r, err, sizeof(err)), LR_OK);
    assert_int_equal(r.n_done, 1);
    assert_true(r.done[1] && !r.done[3]);
    assert_int_equal(r.total.changed, 5);
    cli_resume_close(&r);
}

static void test_cli_bulk_exit_code_cases(void **state)
{
    (void)state;
    assert_int_equal(cli_bulk_exit_code(10, 0, 0), CLI_EXIT_OK);
    assert_int_equal(cli_bulk_exit_code(0, 0, 10), CLI_EXIT_OK);
    assert_int_equal(cli_bulk_exit_code(9, 1, 0), CLI_EXIT_PARTIAL);
    assert_int_equal(cli_bulk_exit_code(0, 1, 9), CLI_EXIT_PARTIAL);
    assert_int_equal(cli_bulk_exit_code(0, 10, 0), CLI_EXIT_RPC);
}

/* ---- argument order -------------------------------------------------------
 */

static void test_cli_permute_args_options_first(void **state)
{
    static const struct option sub[] = {
        {"reason", required_argument, NULL, 0x200},
        {"dry-run", no_argument, NULL, 0x201},
        {NULL, 0, NULL, 0},
    };
    char *argv[] = {"lock",      "alice",  "--reason", "why", "bob",
                    "--dry-run", "--json", "-",        "--",  "--carol"};
    const char *want[] = {"lock", "--reason", "why", "--dry-run", "--json",
                          "--",   "alice",    "bob", "-",         "--carol"};

    (void)state;
    cli_permute_args(10, argv, sub);
    for (size_t i = 0; i < 10; i++)
        assert_string_equal(argv[i], want[i]);
}

static void test_cli_permute_args_global_value(void **state)
{
    char *argv[] = {"account", "alice", "--target", "unix:/x",
                    "--timeout-ms=5"};
    const char *want[] = {"account", "--target", "unix:/x", "--timeout-ms=5",
                          "alice"};

    (void)state;
    cli_permute_args(5, argv, NULL);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(argv[i], want[i]);
}

/* ---- replay tallies -------------------------------------------------------
 */

static void test_cli_flow_add_matrix(void **state)
{
    struct cli_flow f;

    (void)state;
    memset(&f, 0, sizeof(f));
    for (int i = 0; i < 90; i++)
        cli_flow_add(&f, LR_ACTION_ALLOW, LR_ACTION_ALLOW);
    for (int i = 0; i < 7; i++)
        cli_flow_add(&f, LR_ACTION_ALLOW, LR_ACTION_CAPTCHA);
    cli_flow_add(&f, LR_ACTION_CAPTCHA, LR_ACTION_ALLOW);
    cli_flow_add(&f, LR_ACTION_UNSPECIFIED, LR_ACTION_LOCK);
    cli_flow_add(&f, (enum lr_action)99, LR_ACTION_LOCK); /* out of range */
    assert_int_equal(f.events, 100);
    assert_int_equal(f.changed, 10);
    assert_int_equal(f.flow[LR_ACTION_ALLOW][LR_ACTION_ALLOW], 90);
    assert_int_equal(f.flow[LR_ACTION_ALLOW][LR_ACTION_CAPTCHA], 7);
    assert_int_equal(f.flow[LR_ACTION_CAPTCHA][LR_ACTION_ALLOW], 1);
    assert_int_equal(f.flow[LR_ACTION_UNSPECIFIED][LR_ACTION_LOCK], 2);
    assert_int_equal(f.baseline[LR_ACTION_ALLOW], 97);
    assert_int_equal(f.draft[LR_ACTION_ALLOW], 91);
    assert_int_equal(f.draft[LR_ACTION_CAPTCHA], 7);
    assert_int_equal(f.draft[LR_ACTION_LOCK], 2);
    assert_string_equal(cli_action_short(LR_ACTION_CHALLENGE_2FA), "2FA");
    assert_string_equal(cli_action_short((enum lr_action)99), "NONE");
}

static const struct cli_reason_tally *find_reason(const struct cli_reasons *r,
                                                  const char *code)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->t[i].code, code) == 0)
            return &r->t[i];
    }
    return NULL;
}

static void test_cli_reasons_add_tallies(void **state)
{
    const char *base[] = {"NEW_DEVICE", "IP_VELOCITY"};
    const char *draft[] = {"NEW_DEVICE", "IP_VELOCITY", "RULE:vpn", "RULE:vpn"};
    const char *draft2[] = {"NEW_DEVICE"};
    struct cli_reasons r = {0};
    const struct cli_reason_tally *t;

    (void)state;
    assert_int_equal(cli_reasons_add(&r, base, 2, draft, 4, true), LR_OK);
    assert_int_equal(cli_reasons_add(&r, base, 2, draft2, 1, false), LR_OK);
    cli_reasons_sort(&r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.t[0].code, "IP_VELOCITY"); /* 2, then by code */
    assert_string_equal(r.t[1].code, "NEW_DEVICE");
    t = find_reason(&r, "NEW_DEVICE");
    assert_int_equal(t->in_changed, 2);
    assert_int_equal(t->added + t->removed, 0);
    assert_int_equal(t->escalated, 1);
    t = find_reason(&r, "IP_VELOCITY");
    assert_int_equal(t->in_changed, 2);
    assert_int_equal(t->removed, 1);
    t = find_reason(&r, "RULE:vpn"); /* listed twice, counted once */
    assert_int_equal(t->in_changed, 1);
    assert_int_equal(t->added, 1);
    cli_reasons_free(&r);
}

static void test_cli_reasons_add_cap(void **state)
{
    struct cli_reasons r = {0};
    char code[32];
    const char *one[1] = {code};

    (void)state;
    for (int i = 0; i < CLI_REASONS_MAX + 5; i++) {
        snprintf(code, sizeof(code), "RULE:r%d", i);
        assert_int_equal(cli_reasons_add(&r, NULL, 0, one, 1, false), LR_OK);
    }
    assert_int_equal(r.n, CLI_REASONS_MAX);
    assert_int_equal(r.dropped, 5);
    cli_reasons_free(&r);
}

/* ---- token ----------------------------------------------------------------
 */

static void test_cli_token_load_sources(void **state)
{
    char path[300], buf[CLI_TOKEN_MAX + 2], err[256];

    (void)state;
    unsetenv("RISKCTL_TOKEN");
    assert_int_equal(cli_token_load(NULL, buf, sizeof(buf), err, sizeof(err)),
                     LR_NOTFOUND);
    setenv("RISKCTL_TOKEN", "from-env-token", 1);
    assert_int_equal(cli_token_load(NULL, buf, sizeof(buf), err, sizeof(err)),
                     LR_OK);
    assert_string_equal(buf, "from-env-token");
    /* a file wins over the environment; its first line only */
    path_of("tok", path, sizeof(path));
    write_file(path, "from-file-token\r\nsecond line\n", 29);
    chmod(path, 0600);
    assert_int_equal(cli_token_load(path, buf, sizeof(buf), err, sizeof(err)),
                     LR_OK);
    assert_string_equal(buf, "from-file-token");
    write_file(path, "has space\n", 10);
    assert_int_equal(cli_token_load(path, buf, sizeof(buf), err, sizeof(err)),
                     LR_INVALID);
    write_file(path, "\n", 1);
    assert_int_equal(cli_token_load(path, buf, sizeof(buf), err, sizeof(err)),
                     LR_INVALID);
    path_of("missing", path, sizeof(path));
    assert_int_equal(cli_token_load(path, buf, sizeof(buf), err, sizeof(err)),
                     LR_IO);
    unsetenv("RISKCTL_TOKEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_parse_duration_units),
        cmocka_unit_test(test_cli_parse_duration_bad),
        cmocka_unit_test(test_cli_parse_time_forms),
        cmocka_unit_test(test_cli_parse_time_bad),
        cmocka_unit_test(test_cli_format_time_round_trip),
        cmocka_unit_test(test_cli_ids_read_lines),
        cmocka_unit_test(test_cli_ids_read_bad_lines),
        cmocka_unit_test(test_cli_ids_add_checks),
        cmocka_unit_test(test_cli_ids_digest_identity),
        cmocka_unit_test(test_cli_resume_skips_confirmed),
        cmocka_unit_test(test_cli_resume_other_run_refused),
        cmocka_unit_test(test_cli_resume_ignores_cut_lines),
        cmocka_unit_test(test_cli_bulk_exit_code_cases),
        cmocka_unit_test(test_cli_permute_args_options_first),
        cmocka_unit_test(test_cli_permute_args_global_value),
        cmocka_unit_test(test_cli_flow_add_matrix),
        cmocka_unit_test(test_cli_reasons_add_tallies),
        cmocka_unit_test(test_cli_reasons_add_cap),
        cmocka_unit_test(test_cli_token_load_sources),
    };

    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

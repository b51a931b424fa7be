/*
 * test_lr.c - the base layer: error table, action and signal tables, UTF-8.
 */
#include "lr/lr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_lr_strerror_every_code_has_a_message(void **state)
{
    (void)state;
    for (int e = 0; e < LR_ERR_COUNT_; e++) {
        assert_non_null(lr_strerror(e));
        assert_true(strlen(lr_strerror(e)) > 0);
    }
    assert_string_equal(lr_strerror(LR_OK), "success");
    assert_string_equal(lr_errname(LR_NOMEM), "NOMEM");
    assert_string_equal(lr_strerror(-1), "unknown error");
    assert_string_equal(lr_strerror(LR_ERR_COUNT_), "unknown error");
}

static void test_lr_errf_formats_and_returns_rc(void **state)
{
    char err[16];

    (void)state;
    assert_int_equal(lr_errf(err, sizeof(err), LR_IO, "%s: %d", "file", 7),
                     LR_IO);
    assert_string_equal(err, "file: 7");
    /* cut to the buffer, always terminated */
    assert_int_equal(lr_errf(err, sizeof(err), LR_INVALID, "%s",
                             "a message longer than sixteen"),
                     LR_INVALID);
    assert_string_equal(err, "a message longe");
    /* no buffer: only the code */
    assert_int_equal(lr_errf(NULL, 0, LR_NOMEM, "x"), LR_NOMEM);
}

static void test_lr_grpc_status_names(void **state)
{
    (void)state;
    assert_string_equal(lr_grpc_status_name(0), "OK");
    assert_string_equal(lr_grpc_status_name(8), "RESOURCE_EXHAUSTED");
    assert_string_equal(lr_grpc_status_name(LR_GRPC_STATUS_COUNT - 1),
                        "UNAUTHENTICATED");
    assert_null(lr_grpc_status_name(-1));
    assert_null(lr_grpc_status_name(LR_GRPC_STATUS_COUNT));
}

static void test_lr_action_parse_round_trip(void **state)
{
    enum lr_action a;

    (void)state;
    for (int i = LR_ACTION_ALLOW; i <= LR_ACTION_MAX; i++) {
        assert_int_equal(lr_action_parse(lr_action_name(i), &a), LR_OK);
        assert_int_equal(a, i);
    }
    assert_int_equal(lr_action_parse("deny", &a), LR_INVALID);
    assert_int_equal(lr_action_parse("", &a), LR_INVALID);
}

static void test_lr_signal_table(void **state)
{
    enum lr_signal s;

    (void)state;
    for (int i = 0; i < LR_SIG_COUNT; i++) {
        assert_int_equal(lr_signal_parse(lr_signal_code(i), &s), LR_OK);
        assert_int_equal(s, i);
        assert_non_null(lr_signal_rule_id(i));
    }
    assert_string_equal(lr_signal_code(LR_SIG_IMPOSSIBLE_TRAVEL),
                        "IMPOSSIBLE_TRAVEL");
    assert_string_equal(lr_signal_rule_id(LR_SIG_IMPOSSIBLE_TRAVEL),
                        "R-TRAVEL-1");
    assert_int_equal(lr_signal_default_min_action(LR_SIG_IMPOSSIBLE_TRAVEL),
                     LR_ACTION_CHALLENGE_2FA);
    assert_int_equal(lr_signal_parse("NOPE", &s), LR_NOTFOUND);
    assert_null(lr_signal_code(LR_SIG_COUNT));
}

static void test_lr_utf8_valid_cases(void **state)
{
    (void)state;
    assert_true(lr_utf8_valid("alice", 5));
    assert_true(lr_utf8_valid("j\xc3\xbcrgen", 7));
    assert_true(lr_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_true(lr_utf8_valid("", 0));
    assert_false(lr_utf8_valid("a\0b", 3));
    assert_false(lr_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(lr_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(lr_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(lr_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(lr_utf8_valid("\xff", 1));
}

static void test_lr_strlcpy_truncates(void **state)
{
    char buf[4];

    (void)state;
    assert_int_equal(lr_strlcpy(buf, "abcdef", sizeof(buf)), 6);
    assert_string_equal(buf, "abc");
    assert_int_equal(lr_strlcpy(buf, "ab", sizeof(buf)), 2);
    assert_string_equal(buf, "ab");
}

static void test_lr_wipe_zeroes(void **state)
{
    char secret[8] = "hunter2";

    (void)state;
    lr_wipe(secret, sizeof(secret));
    for (size_t i = 0; i < sizeof(secret); i++)
        assert_int_equal(secret[i], 0);
    lr_wipe(NULL, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_strerror_every_code_has_a_message),
        cmocka_unit_test(test_lr_errf_formats_and_returns_rc),
        cmocka_unit_test(test_lr_grpc_status_names),
        cmocka_unit_test(test_lr_action_parse_round_trip),
        cmocka_unit_test(test_lr_signal_table),
        cmocka_unit_test(test_lr_utf8_valid_cases),
        cmocka_unit_test(test_lr_strlcpy_truncates),
        cmocka_unit_test(test_lr_wipe_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

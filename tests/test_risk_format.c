/*
 * test_risk_format.c - the text helpers behind reason details: thousands
 * separators, window spans, and the bounded appenders that build the
 * velocity details without snprintf (same text as snprintf, cut or not).
 */
#include "risk/risk_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_risk_fmt_count_groups(void **state)
{
    static const struct {
        uint64_t v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {999, "999"},
        {1000, "1,000"},
        {8072, "8,072"},
        {65535, "65,535"},
        {1234567, "1,234,567"},
        {UINT64_MAX, "18,446,744,073,709,551,615"},
    };
    char buf[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        risk_fmt_count(buf, sizeof(buf), cases[i].v);
        assert_string_equal(buf, cases[i].want);
    }
    risk_fmt_count(buf, 4, 1234567); /* cut, still terminated */
    assert_string_equal(buf, "1,2");
}

static void test_risk_fmt_span_units(void **state)
{
    char buf[RISK_SPAN_MAX];

    (void)state;
    risk_fmt_span(buf, sizeof(buf), 45);
    assert_string_equal(buf, "45 s");
    risk_fmt_span(buf, sizeof(buf), 60);
    assert_string_equal(buf, "1 min");
    risk_fmt_span(buf, sizeof(buf), 3600);
    assert_string_equal(buf, "1 h");
    risk_fmt_span(buf, sizeof(buf), 86400);
    assert_string_equal(buf, "1 d");
    risk_fmt_span(buf, sizeof(buf), -5);
    assert_string_equal(buf, "0 s");
}

/* The appenders against snprintf of the same pieces, at every cap. */
static void test_risk_text_add_same_as_snprintf(void **state)
{
    char want[64], got[64];

    (void)state;
    for (size_t cap = 1; cap <= sizeof(got); cap++) {
        struct risk_text t;

        snprintf(want, cap, "%s %s%s in %s (limit %u)", "12,345",
                 "distinct accounts", " from 2001:db8::1/64", "1 h",
                 4000000000u);
        memset(got, 'x', sizeof(got));
        risk_text_init(&t, got, cap);
        risk_text_count(&t, 12345);
        risk_text_add(&t, " ");
        risk_text_add(&t, "distinct accounts");
        risk_text_add(&t, " from 2001:db8::1/64");
        risk_text_add(&t, " in ");
        risk_text_add(&t, "1 h");
        risk_text_add(&t, " (limit ");
        risk_text_uint(&t, 4000000000u);
        risk_text_add(&t, ")");
        assert_string_equal(got, want);
        assert_int_equal(t.len, strlen(want));
    }
}

static void test_risk_text_uint_extremes(void **state)
{
    char buf[32];
    struct risk_text t;

    (void)state;
    risk_text_init(&t, buf, sizeof(buf));
    risk_text_uint(&t, 0);
    risk_text_add(&t, "/");
    risk_text_uint(&t, UINT64_MAX);
    assert_string_equal(buf, "0/18446744073709551615");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_fmt_count_groups),
        cmocka_unit_test(test_risk_fmt_span_units),
        cmocka_unit_test(test_risk_text_add_same_as_snprintf),
        cmocka_unit_test(test_risk_text_uint_extremes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

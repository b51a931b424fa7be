/*
 * test_risk_pfilter.c - the filter of accounts with a stored profile: built
 * from a real store, it never says "no" for a stored account or one added
 * later, and says "maybe" for few others.
 */
#include "risk/risk_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SEED UINT64_C(0x1234567887654321)

static uint64_t h_of(const char *id)
{
    return risk_hash64(id, strlen(id), SEED);
}

static struct store *open_store(char *dir, size_t cap)
{
    struct store_opts o = {.dir = dir};
    struct store *st = NULL;
    char err[256];

    snprintf(dir, cap, "/tmp/test_risk_pfilter.XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(store_open(&o, &st, err, sizeof(err)), LR_OK);
    return st;
}

static void close_store(struct store *st, const char *dir)
{
    char cmd[512];

    store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_risk_pfilter_new_no_false_negatives(void **state)
{
    struct store_profile *p = calloc(1, sizeof(*p));
    struct risk_pfilter *f = NULL;
    char dir[64], id[64];
    struct store *st = open_store(dir, sizeof(dir));
    size_t maybe = 0;

    (void)state;
    assert_non_null(p);
    for (int i = 0; i < 300; i++) {
        snprintf(p->account_id, sizeof(p->account_id), "stored-%d", i);
        p->last_success_ms = 1;
        assert_int_equal(store_profile_save(st, p), LR_OK);
    }
    assert_int_equal(store_flush(st), LR_OK);
    assert_int_equal(risk_pfilter_new(st, SEED, 1000, &f), LR_OK);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "stored-%d", i);
        assert_true(risk_pfilter_maybe(f, h_of(id)));
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "added-%d", i);
        risk_pfilter_add(f, h_of(id));
        assert_true(risk_pfilter_maybe(f, h_of(id)));
    }
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof(id), "never-%d", i);
        maybe += risk_pfilter_maybe(f, h_of(id));
    }
    assert_true(maybe < 1000); /* under 1% false positives */
    assert_true(risk_pfilter_bytes(f) >= 8192);
    risk_pfilter_free(f);
    free(p);
    close_store(st, dir);
}

static void test_risk_pfilter_new_empty_store(void **state)
{
    struct risk_pfilter *f = NULL;
    char dir[64];
    struct store *st = open_store(dir, sizeof(dir));

    (void)state;
    assert_int_equal(risk_pfilter_new(st, SEED, 0, &f), LR_OK);
    assert_false(risk_pfilter_maybe(f, h_of("anyone")));
    risk_pfilter_free(f);
    risk_pfilter_free(NULL);
    close_store(st, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_pfilter_new_no_false_negatives),
        cmocka_unit_test(test_risk_pfilter_new_empty_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

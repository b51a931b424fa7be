/*
 * test_risk_engine_util.c - the test bench of test_risk_engine*.c: config
 * from YAML, fixture databases, a real store in a temporary directory.
 */
#include "tests/test_risk_engine_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <unistd.h>

static const char base_yaml[] = "geo:\n"
                                "  high_risk_countries: [NG]\n"
                                "%s"
                                "state:\n"
                                "  dir: /tmp\n"
                                "policy:\n"
                                "  version: \"test-1\"\n"
                                "%s"
                                "%s";

struct tenv *tenv_new(const char *geo, const char *policy, const char *top)
{
    struct geo_paths paths = {
        .city = LR_TEST_DATA_DIR "/loginrisk-city.mmdb",
        .asn = LR_TEST_DATA_DIR "/loginrisk-asn.mmdb",
        .anonymous = LR_TEST_DATA_DIR "/loginrisk-anonymous.mmdb",
    };
    struct cfg_errors errs = {0};
    struct tenv *t = calloc(1, sizeof(*t));
    char err[256];
    char *text;
    int n, rc;

    assert_non_null(t);
    n = snprintf(NULL, 0, base_yaml, geo ? geo : "", policy ? policy : "",
                 top ? top : "");
    text = malloc((size_t)n + 1);
    assert_non_null(text);
    snprintf(text, (size_t)n + 1, base_yaml, geo ? geo : "",
             policy ? policy : "", top ? top : "");
    rc = cfg_load_string("test.yaml", text, (size_t)n, &t->cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "config: %s\n", errs.msgs[i]);
    cfg_errors_clear(&errs);
    free(text);
    assert_int_equal(rc, LR_OK);
    rc = geo_db_open(&paths, &t->geo, err, sizeof(err));
    if (rc)
        fprintf(stderr, "geo: %s\n", err);
    assert_int_equal(rc, LR_OK);
    return t;
}

void tenv_use_store(struct tenv *t)
{
    struct store_opts o = {0};
    char err[256];
    int rc;

    snprintf(t->dir, sizeof(t->dir), "/tmp/test_risk_engine.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    o.dir = t->dir;
    rc = store_open(&o, &t->store, err, sizeof(err));
    if (rc)
        fprintf(stderr, "store: %s\n", err);
    assert_int_equal(rc, LR_OK);
}

void tenv_start(struct tenv *t)
{
    struct cfg_errors errs = {0};
    int rc;

    rc = risk_engine_new(t->cfg, t->geo, t->store, &t->e, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "engine: %s\n", errs.msgs[i]);
    cfg_errors_clear(&errs);
    assert_int_equal(rc, LR_OK);
}

void tenv_reload(struct tenv *t)
{
    struct cfg_errors errs = {0};
    int rc;

    rc = risk_engine_set_policy(t->e, t->cfg, t->geo, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "engine: %s\n", errs.msgs[i]);
    cfg_errors_clear(&errs);
    assert_int_equal(rc, LR_OK);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tenv_free(struct tenv *t)
{
    if (!t)
        return;
    risk_engine_free(t->e);
    store_close(t->store);
    if (t->dir[0])
        nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    geo_db_free(t->geo);
    cfg_free(t->cfg);
    free(t);
}

struct geo_ip tip(const char *text)
{
    struct geo_ip ip;

    assert_int_equal(geo_ip_parse(text, strlen(text), &ip), LR_OK);
    return ip;
}

const struct risk_decision *ev_fp(struct tenv *t, const char *ip,
                                  const char *account, const char *device,
                                  int64_t ts, enum lr_credential cred,
                                  const uint8_t *fp)
{
    char id[RISK_REQUEST_ID_MAX];
    struct risk_attempt a = {0};
    int rc;

    snprintf(id, sizeof(id), "req-%d", ++t->seq);
    a.request_id = id;
    a.account_id = account;
    a.ip = tip(ip);
    a.device_id = device ? device : "";
    a.user_agent = "";
    a.timestamp_ms = ts;
    a.credential = cred;
    a.fingerprint = fp;
    rc = risk_evaluate(t->e, &a, &t->d);
    assert_int_equal(rc, LR_OK);
    assert_string_equal(t->d.request_id, id);
    return &t->d;
}

const struct risk_decision *ev(struct tenv *t, const char *ip,
                               const char *account, const char *device,
                               int64_t ts, enum lr_credential cred)
{
    return ev_fp(t, ip, account, device, ts, cred, NULL);
}

const char *last_id(const struct tenv *t)
{
    return t->d.request_id;
}

const struct risk_reason *reason(const struct risk_decision *d,
                                 const char *code)
{
    for (size_t i = 0; i < d->n_reasons; i++) {
        if (strcmp(d->reasons[i].code, code) == 0)
            return &d->reasons[i];
    }
    return NULL;
}

void dump(const struct risk_decision *d)
{
    printf("decision %s: %s score %d\n", d->request_id,
           lr_action_name(d->action), d->score);
    for (size_t i = 0; i < d->n_reasons; i++)
        printf("  %+4d %-26s %-11s %s\n", d->reasons[i].points,
               d->reasons[i].code,
               d->reasons[i].rule_id ? d->reasons[i].rule_id : "-",
               d->reasons[i].detail);
}

void cfg_replace(char **slot, const char *s)
{
    free(*slot);
    *slot = strdup(s);
    assert_non_null(*slot);
}

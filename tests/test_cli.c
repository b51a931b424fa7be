/*
 * test_cli.c - unit tests of the C client library and riskctl's shared
 * parts (option parsing, enum names, JSON output).
 *
 * Calls that need an agent are the integration tests' job; here the client
 * talks to a real loopback port that refuses connections, which is enough
 * to see status codes, deadlines and local errors come back right.
 */
#include "cli/cli_cmd.h"
#include "cli/client.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define GRPC_INVALID_ARGUMENT 3
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_INTERNAL 13
#define GRPC_UNAVAILABLE 14

/*
 * A loopback socket that is bound but not listening (connections are
 * refused), or listening but never accepting or answering (the HTTP/2
 * handshake never completes, so a call's deadline decides).
 */
struct refuser {
    int fd;
    char target[64];
};

static void refuser_open_mode(struct refuser *r, bool listening)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->fd >= 0);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(r->target, sizeof(r->target), "127.0.0.1:%u",
             (unsigned)ntohs(sa.sin_port));
    if (listening) {
        assert_int_equal(listen(r->fd, 16), 0);
    }
}

static void refuser_open(struct refuser *r)
{
    refuser_open_mode(r, false);
}

static void blackhole_open(struct refuser *r)
{
    refuser_open_mode(r, true);
}

static void test_cli_status_name_all(void **state)
{
    (void)state;
    assert_string_equal(cli_status_name(0), "OK");
    assert_string_equal(cli_status_name(3), "INVALID_ARGUMENT");
    assert_string_equal(cli_status_name(16), "UNAUTHENTICATED");
    assert_string_equal(cli_status_name(17), "UNKNOWN_CODE");
    assert_string_equal(cli_status_name(-1), "UNKNOWN_CODE");
}

static void test_cli_status_parse_names_and_numbers(void **state)
{
    (void)state;
    assert_int_equal(cli_status_parse("NOT_FOUND"), 5);
    assert_int_equal(cli_status_parse("14"), 14);
    assert_int_equal(cli_status_parse("17"), -1);
    assert_int_equal(cli_status_parse("not_found"), -1);
    assert_int_equal(cli_status_parse(""), -1);
}

static void test_cli_client_new_plaintext(void **state)
{
    struct cli_client *c = NULL;

    (void)state;
    assert_int_equal(cli_client_new("127.0.0.1:1", NULL, &c), LR_OK);
    assert_non_null(c);
    cli_client_free(c);
    cli_client_free(NULL);
}

static void test_cli_client_new_cert_without_key(void **state)
{
    struct cli_tls tls = {.cert_file = "/etc/hostname"};
    struct cli_client *c = NULL;

    (void)state;
    assert_int_equal(cli_client_new("127.0.0.1:1", &tls, &c), LR_INVALID);
    assert_null(c);
}

static void test_cli_client_new_missing_ca(void **state)
{
    struct cli_tls tls = {.ca_file = "/nonexistent/ca.pem"};
    struct cli_client *c = NULL;

    (void)state;
    assert_int_equal(cli_client_new("127.0.0.1:1", &tls, &c), LR_IO);
    assert_null(c);
}

static void test_cli_client_new_empty_ca(void **state)
{
    char path[] = "/tmp/test_cli_ca_XXXXXX";
    struct cli_tls tls = {.ca_file = path};
    struct cli_client *c = NULL;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cli_client_new("127.0.0.1:1", &tls, &c), LR_IO);
    unlink(path);
}

static void test_cli_health_check_refused(void **state)
{
    struct cli_client *c = NULL;
    struct cli_status st;
    struct refuser r;
    int serving = -7;

    (void)state;
    refuser_open(&r);
    assert_int_equal(cli_client_new(r.target, NULL, &c), LR_OK);
    assert_int_equal(cli_health_check(c, NULL, 5000, &st, &serving), LR_GRPC);
    assert_int_equal(st.code, GRPC_UNAVAILABLE);
    assert_true(st.message[0] != '\0');
    assert_int_equal(serving, -7); /* out param untouched on failure */
    cli_client_free(c);
    close(r.fd);
}

static void test_cli_evaluate_expired_deadline(void **state)
{
    Loginrisk__V1__LoginAttempt a = LOGINRISK__V1__LOGIN_ATTEMPT__INIT;
    Loginrisk__V1__Decision *d = NULL;
    struct cli_client *c = NULL;
    struct cli_status st;
    struct refuser r;

    (void)state;
    blackhole_open(&r);
    assert_int_equal(cli_client_new(r.target, NULL, &c), LR_OK);
    assert_int_equal(cli_evaluate(c, &a, 0, &st, &d), LR_GRPC);
    assert_int_equal(st.code, GRPC_DEADLINE_EXCEEDED);
    /* a short deadline, not yet expired when the call starts */
    assert_int_equal(cli_evaluate(c, &a, 50, &st, &d), LR_GRPC);
    assert_int_equal(st.code, GRPC_DEADLINE_EXCEEDED);
    assert_null(d);
    cli_client_free(c);
    close(r.fd);
}

static void test_cli_call_raw_bad_metadata_key(void **state)
{
    struct cli_md md[] = {{"Authorization", "Bearer x"}};
    struct cli_client *c = NULL;
    struct cli_status st;
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(cli_client_new("127.0.0.1:1", NULL, &c), LR_OK);
    assert_int_equal(cli_call_raw(c, CLI_METHOD_EVALUATE, NULL, 0, 1000, md, 1,
                                  &st, &buf, &len),
                     LR_INVALID);
    assert_int_equal(st.code, GRPC_INTERNAL);
    assert_non_null(strstr(st.message, "client:"));
    assert_null(buf);
    cli_client_free(c);
}

static void test_cli_call_raw_method_cache_full(void **state)
{
    struct cli_client *c = NULL;
    struct cli_status st;
    struct refuser r;
    uint8_t *buf = NULL;
    size_t len = 0;
    char method[64];
    int rc = LR_OK;

    (void)state;
    blackhole_open(&r);
    assert_int_equal(cli_client_new(r.target, NULL, &c), LR_OK);
    for (int i = 0; i < 40 && rc != LR_FULL; i++) {
        snprintf(method, sizeof(method), "/t.S/M%d", i);
        rc = cli_call_raw(c, method, NULL, 0, 0, NULL, 0, &st, &buf, &len);
        assert_true(rc == LR_GRPC || rc == LR_FULL);
    }
    assert_int_equal(rc, LR_FULL);
    /* a method already registered still works (fails on the deadline) */
    assert_int_equal(
        cli_call_raw(c, "/t.S/M0", NULL, 0, 0, NULL, 0, &st, &buf, &len),
        LR_GRPC);
    assert_int_equal(st.code, GRPC_DEADLINE_EXCEEDED);
    cli_client_free(c);
    close(r.fd);
}

static void test_cli_parse_enum_forms(void **state)
{
    const ProtobufCEnumDescriptor *cred =
        &loginrisk__v1__credential_result__descriptor;
    int v = -1;

    (void)state;
    assert_int_equal(cli_parse_enum(cred, "CREDENTIAL_", "valid", &v), LR_OK);
    assert_int_equal(v, 1);
    assert_int_equal(cli_parse_enum(cred, "CREDENTIAL_", "UNKNOWN_ACCOUNT", &v),
                     LR_OK);
    assert_int_equal(v, 3);
    assert_int_equal(
        cli_parse_enum(cred, "CREDENTIAL_", "CREDENTIAL_INVALID", &v), LR_OK);
    assert_int_equal(v, 2);
    assert_int_equal(cli_parse_enum(cred, "CREDENTIAL_", "9", &v), LR_OK);
    assert_int_equal(v, 9);
    v = -1;
    assert_int_equal(cli_parse_enum(cred, "CREDENTIAL_", "val", &v),
                     LR_INVALID);
    assert_int_equal(cli_parse_enum(cred, "CREDENTIAL_", "", &v), LR_INVALID);
    assert_int_equal(v, -1);
}

static void test_cli_parse_i64_edges(void **state)
{
    int64_t v = 5;

    (void)state;
    assert_int_equal(cli_parse_i64("-12", &v), LR_OK);
    assert_int_equal(v, -12);
    assert_int_equal(cli_parse_i64("9223372036854775807", &v), LR_OK);
    assert_int_equal(cli_parse_i64("9223372036854775808", &v), LR_INVALID);
    assert_int_equal(cli_parse_i64("12x", &v), LR_INVALID);
    assert_int_equal(cli_parse_i64("", &v), LR_INVALID);
    assert_int_equal(v, INT64_MAX);
}

static void test_cli_json_str_invalid_utf8(void **state)
{
    json_t *j;

    (void)state;
    j = cli_json_str("S\xc3\xa3o \xff");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "S??o ?");
    json_decref(j);
    j = cli_json_str("S\xc3\xa3o");
    assert_string_equal(json_string_value(j), "S\xc3\xa3o");
    json_decref(j);
}

static void test_cli_json_decision_fields(void **state)
{
    Loginrisk__V1__Decision d = LOGINRISK__V1__DECISION__INIT;
    Loginrisk__V1__GeoInfo g = LOGINRISK__V1__GEO_INFO__INIT;
    Loginrisk__V1__Reason r = LOGINRISK__V1__REASON__INIT;
    Loginrisk__V1__Reason *rs[] = {&r};
    json_t *j, *reason;

    (void)state;
    d.request_id = "req-1";
    d.action = LOGINRISK__V1__ACTION__ACTION_CAPTCHA;
    d.score = 40;
    d.n_reasons = 1;
    d.reasons = rs;
    d.geo = &g;
    r.code = "TOR_EXIT";
    r.points = 40;
    g.country = "DE";
    g.latitude = 52.52;
    g.asn = 64513;
    g.is_tor = 1;
    j = cli_json_decision(&d);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "action")),
                        "ACTION_CAPTCHA");
    assert_int_equal(json_integer_value(json_object_get(j, "score")), 40);
    reason = json_array_get(json_object_get(j, "reasons"), 0);
    assert_string_equal(json_string_value(json_object_get(reason, "code")),
                        "TOR_EXIT");
    assert_int_equal(json_integer_value(json_object_get(reason, "points")), 40);
    assert_true(
        json_is_true(json_object_get(json_object_get(j, "geo"), "is_tor")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "geo"), "asn")),
        64513);
    json_decref(j);
}

static void test_cli_json_decision_unknown_action_no_geo(void **state)
{
    Loginrisk__V1__Decision d = LOGINRISK__V1__DECISION__INIT;
    json_t *j;

    (void)state;
    d.action = (Loginrisk__V1__Action)42;
    j = cli_json_decision(&d);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "action")), 42);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "geo"), "country")),
                        "");
    json_decref(j);
}

static int test_opt_seen;

static int test_apply(void *ctx, int opt, char *arg)
{
    (void)arg;
    *(int *)ctx = opt;
    test_opt_seen++;
    return -1;
}

static void test_help(void)
{
}

static const struct option test_opts[] = {
    {"thing", required_argument, NULL, CLI_OPT_SUB},
    {NULL, 0, NULL, 0},
};

static int test_parse(bool positional, int argc, char **argv,
                      struct cli_globals *g, int *rest)
{
    const struct cli_command_spec spec = {
        .name = "t",
        .opts = test_opts,
        .apply = test_apply,
        .help = test_help,
        .positional = positional,
    };
    int seen = 0;

    cli_globals_init(g);
    return cli_parse_command(g, &spec, &seen, argc, argv, rest);
}

static void test_cli_parse_command_globals_after_name(void **state)
{
    char *argv[] = {"t",        "--thing", "x",
                    "--target", "unix:/s", "--timeout-ms",
                    "250",      "--json",  NULL};
    struct cli_globals g;
    int rest = -1;

    (void)state;
    test_opt_seen = 0;
    assert_int_equal(test_parse(false, 8, argv, &g, &rest), -1);
    assert_int_equal(test_opt_seen, 1);
    assert_string_equal(g.target, "unix:/s");
    assert_int_equal(g.timeout_ms, 250);
    assert_true(g.json);
    assert_int_equal(rest, 8);
}

static void test_cli_parse_command_usage_errors(void **state)
{
    char *unknown[] = {"t", "--nope", NULL};
    char *missing[] = {"t", "--thing", NULL};
    char *extra[] = {"t", "word", NULL};
    char *bad_timeout[] = {"t", "--timeout-ms", "-5", NULL};
    char *help[] = {"t", "--help", NULL};
    struct cli_globals g;
    int rest = -1;

    (void)state;
    assert_int_equal(test_parse(false, 2, unknown, &g, NULL), 2);
    assert_int_equal(test_parse(false, 2, missing, &g, NULL), 2);
    assert_int_equal(test_parse(false, 2, extra, &g, NULL), 2);
    assert_int_equal(test_parse(false, 3, bad_timeout, &g, NULL), 2);
    assert_int_equal(test_parse(false, 2, help, &g, NULL), 0);
    assert_int_equal(test_parse(true, 2, extra, &g, &rest), -1);
    assert_int_equal(rest, 1);
}

static void test_cli_globals_init_env(void **state)
{
    struct cli_globals g;

    (void)state;
    setenv("RISKCTL_TARGET", "unix:/run/lr.sock", 1);
    cli_globals_init(&g);
    assert_string_equal(g.target, "unix:/run/lr.sock");
    setenv("RISKCTL_TARGET", "", 1);
    cli_globals_init(&g);
    assert_string_equal(g.target, CLI_DEFAULT_TARGET);
    unsetenv("RISKCTL_TARGET");
    assert_int_equal(g.timeout_ms, CLI_DEFAULT_TIMEOUT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_status_name_all),
        cmocka_unit_test(test_cli_status_parse_names_and_numbers),
        cmocka_unit_test(test_cli_client_new_plaintext),
        cmocka_unit_test(test_cli_client_new_cert_without_key),
        cmocka_unit_test(test_cli_client_new_missing_ca),
        cmocka_unit_test(test_cli_client_new_empty_ca),
        cmocka_unit_test(test_cli_health_check_refused),
        cmocka_unit_test(test_cli_evaluate_expired_deadline),
        cmocka_unit_test(test_cli_call_raw_bad_metadata_key),
        cmocka_unit_test(test_cli_call_raw_method_cache_full),
        cmocka_unit_test(test_cli_parse_enum_forms),
        cmocka_unit_test(test_cli_parse_i64_edges),
        cmocka_unit_test(test_cli_json_str_invalid_utf8),
        cmocka_unit_test(test_cli_json_decision_fields),
        cmocka_unit_test(test_cli_json_decision_unknown_action_no_geo),
        cmocka_unit_test(test_cli_parse_command_globals_after_name),
        cmocka_unit_test(test_cli_parse_command_usage_errors),
        cmocka_unit_test(test_cli_globals_init_env),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

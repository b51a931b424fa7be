/*
 * test_risk_event.c - decision records (risk_event.c): a decision written as
 * one JSON line reads back as the same event; hostile lines (not JSON, wrong
 * types, huge strings, missing fields, nested junk, duplicate keys, NUL
 * bytes) are refused with an error that names the field, and the output
 * event is left untouched.
 */
#include "risk/risk.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------- */

static struct geo_ip ip_of(const char *text)
{
    struct geo_ip ip;

    assert_int_equal(geo_ip_parse(text, strlen(text), &ip), LR_OK);
    return ip;
}

static void sample(struct risk_attempt *a, struct risk_decision *d)
{
    memset(a, 0, sizeof(*a));
    memset(d, 0, sizeof(*d));
    a->request_id = "req-1";
    a->account_id = "alice@example.com";
    a->ip = ip_of("192.0.2.10");
    a->device_id = "dev-42";
    a->user_agent = "Mozilla/5.0 \"quoted\" \xc3\xa9t\xc3\xa9";
    a->timestamp_ms = 1764200000123;
    a->credential = LR_CRED_INVALID;
    lr_strlcpy(d->request_id, "req-1", sizeof(d->request_id));
    d->action = LR_ACTION_CHALLENGE_2FA;
    d->score = 65;
    lr_strlcpy(d->reasons[0].code, "NEW_DEVICE", RISK_CODE_MAX);
    d->reasons[0].rule_id = "R-DEVICE-1";
    d->reasons[0].points = 15;
    lr_strlcpy(d->reasons[0].detail, "first time seen", RISK_DETAIL_MAX);
    lr_strlcpy(d->reasons[1].code, "IMPOSSIBLE_TRAVEL", RISK_CODE_MAX);
    d->reasons[1].rule_id = "R-TRAVEL-1";
    d->reasons[1].points = 50;
    lr_strlcpy(d->reasons[1].detail, "8,072 km in 30 min", RISK_DETAIL_MAX);
    d->n_reasons = 2;
    lr_strlcpy(d->geo.country, "GB", sizeof(d->geo.country));
    lr_strlcpy(d->geo.city, "London", sizeof(d->geo.city));
    d->geo.has_location = true;
    d->geo.latitude = 51.5074;
    d->geo.longitude = -0.1278;
    d->geo.accuracy_radius_km = 20;
    d->geo.asn = 64500;
    lr_strlcpy(d->geo.as_org, "Example Net", sizeof(d->geo.as_org));
    d->geo.is_hosting = true;
    lr_strlcpy(d->policy_version, "2026-11-27a", sizeof(d->policy_version));
}

static json_t *encode(const struct risk_attempt *a,
                      const struct risk_decision *d, const char *account)
{
    static char buf[RISK_DECISION_JSON_MAX];
    json_error_t je;
    size_t len = 0;
    json_t *o;

    assert_int_equal(
        risk_decision_to_json(a, d, account, buf, sizeof(buf), &len), LR_OK);
    assert_int_equal(len, strlen(buf));
    assert_null(memchr(buf, '\n', len));
    o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(o);
    return o;
}

static const char *str_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* Parses @p line expecting failure; returns the message. */
static const char *parse_fail(const char *line)
{
    static char err[256];
    struct risk_event *ev = malloc(sizeof(*ev));
    struct risk_event *copy = malloc(sizeof(*ev));

    assert_non_null(ev);
    assert_non_null(copy);
    memset(ev, 0xa5, sizeof(*ev));
    memcpy(copy, ev, sizeof(*ev));
    err[0] = '\0';
    assert_int_equal(risk_event_parse(line, strlen(line), ev, err, sizeof(err)),
                     LR_INVALID);
    assert_memory_equal(ev, copy, sizeof(*ev));
    free(ev);
    free(copy);
    return err;
}

static void parse_ok(const char *line, struct risk_event *ev)
{
    char err[256] = "";
    int rc = risk_event_parse(line, strlen(line), ev, err, sizeof(err));

    if (rc != LR_OK)
        fail_msg("%s: %s", line, err);
}

/* A big JSON string value of @p n 'x' characters inside a valid event. */
static char *event_with(const char *key, size_t n)
{
    size_t cap = n + 256;
    char *line = malloc(cap);
    size_t o;

    assert_non_null(line);
    o = (size_t)snprintf(line, cap,
                         "{\"ip\":\"192.0.2.1\",\"timestamp_ms\":5,"
                         "\"account_id\":\"a\",\"%s\":\"",
                         key);
    memset(line + o, 'x', n);
    o += n;
    snprintf(line + o, cap - o, "\"}");
    return line;
}

/* ---- writing ------------------------------------------------------------- */

static void test_risk_decision_to_json_writes_every_key(void **state)
{
    struct risk_attempt a;
    struct risk_decision d;
    json_t *o, *geo, *reasons, *r;

    (void)state;
    sample(&a, &d);
    o = encode(&a, &d, "p:0123456789abcdef0123456789abcdef");
    assert_int_equal(json_integer_value(json_object_get(o, "timestamp_ms")),
                     1764200000123);
    assert_string_equal(str_at(o, "request_id"), "req-1");
    assert_string_equal(str_at(o, "account_id"),
                        "p:0123456789abcdef0123456789abcdef");
    assert_string_equal(str_at(o, "ip"), "192.0.2.10");
    assert_string_equal(str_at(o, "device_id"), "dev-42");
    assert_string_equal(str_at(o, "user_agent"), a.user_agent);
    assert_string_equal(str_at(o, "credential"), "CREDENTIAL_INVALID");
    assert_string_equal(str_at(o, "action"), "ACTION_CHALLENGE_2FA");
    assert_int_equal(json_integer_value(json_object_get(o, "score")), 65);
    assert_string_equal(str_at(o, "policy_version"), "2026-11-27a");
    reasons = json_object_get(o, "reasons");
    assert_int_equal(json_array_size(reasons), 2);
    r = json_array_get(reasons, 1);
    assert_string_equal(str_at(r, "code"), "IMPOSSIBLE_TRAVEL");
    assert_int_equal(json_integer_value(json_object_get(r, "points")), 50);
    assert_string_equal(str_at(r, "detail"), "8,072 km in 30 min");
    assert_string_equal(str_at(r, "rule_id"), "R-TRAVEL-1");
    geo = json_object_get(o, "geo");
    assert_string_equal(str_at(geo, "country"), "GB");
    assert_string_equal(str_at(geo, "city"), "London");
    assert_true(json_real_value(json_object_get(geo, "latitude")) == 51.5074);
    assert_true(json_real_value(json_object_get(geo, "longitude")) == -0.1278);
    assert_int_equal(
        json_integer_value(json_object_get(geo, "accuracy_radius_km")), 20);
    assert_int_equal(json_integer_value(json_object_get(geo, "asn")), 64500);
    assert_string_equal(str_at(geo, "as_org"), "Example Net");
    assert_true(json_is_false(json_object_get(geo, "is_anonymous")));
    assert_true(json_is_true(json_object_get(geo, "is_hosting")));
    assert_true(json_is_false(json_object_get(geo, "is_tor")));
    /* 12 keys, no more: nothing else (a password) can slip in */
    assert_int_equal(json_object_size(o), 12);
    json_decref(o);
}

static void test_risk_decision_to_json_null_location(void **state)
{
    struct risk_attempt a;
    struct risk_decision d;
    json_t *o, *geo;

    (void)state;
    sample(&a, &d);
    memset(&d.geo, 0, sizeof(d.geo));
    d.n_reasons = 0;
    a.ip = ip_of("2001:db8::1");
    o = encode(&a, &d, "alice");
    geo = json_object_get(o, "geo");
    assert_true(json_is_null(json_object_get(geo, "latitude")));
    assert_true(json_is_null(json_object_get(geo, "longitude")));
    assert_string_equal(str_at(geo, "country"), "");
    assert_string_equal(str_at(o, "ip"), "2001:db8::1");
    assert_int_equal(json_array_size(json_object_get(o, "reasons")), 0);
    json_decref(o);
}

static void test_risk_decision_to_json_fixes_bad_utf8(void **state)
{
    struct risk_attempt a;
    struct risk_decision d;
    json_t *o;

    (void)state;
    sample(&a, &d);
    /* a detail cut inside a two-byte sequence, a stray continuation byte */
    lr_strlcpy(d.reasons[0].detail, "caf\xc3", RISK_DETAIL_MAX);
    lr_strlcpy(d.geo.city, "\x80M\xc3\xbcnchen", sizeof(d.geo.city));
    a.device_id = "dev\xff";
    o = encode(&a, &d, "alice");
    assert_string_equal(
        str_at(json_array_get(json_object_get(o, "reasons"), 0), "detail"),
        "caf?");
    assert_string_equal(str_at(json_object_get(o, "geo"), "city"),
                        "?M\xc3\xbcnchen");
    assert_string_equal(str_at(o, "device_id"), "dev?");
    json_decref(o);
}

static void test_risk_decision_to_json_unterminated_fields(void **state)
{
    struct risk_attempt a;
    struct risk_decision d;
    json_t *o;

    (void)state;
    sample(&a, &d);
    memset(d.reasons[0].code, 'C', sizeof(d.reasons[0].code));
    memset(d.policy_version, 'v', sizeof(d.policy_version));
    d.n_reasons = 1000; /* clamped to RISK_REASONS_MAX */
    o = encode(&a, &d, "alice");
    assert_int_equal(
        strlen(
            str_at(json_array_get(json_object_get(o, "reasons"), 0), "code")),
        RISK_CODE_MAX);
    assert_int_equal(strlen(str_at(o, "policy_version")), RISK_VERSION_MAX);
    assert_int_equal(json_array_size(json_object_get(o, "reasons")),
                     RISK_REASONS_MAX);
    json_decref(o);
}

static void test_risk_decision_to_json_small_buffer(void **state)
{
    struct risk_attempt a;
    struct risk_decision d;
    char buf[64];
    size_t len = 7;

    (void)state;
    sample(&a, &d);
    assert_int_equal(
        risk_decision_to_json(&a, &d, "alice", buf, sizeof(buf), &len),
        LR_FULL);
    assert_int_equal(len, 7);
    assert_int_equal(risk_decision_to_json(&a, &d, "alice", buf, 0, &len),
                     LR_FULL);
}

static void test_risk_decision_to_json_null_args(void **state)
{
    struct risk_attempt a;
    struct risk_decision d;
    char buf[64];
    size_t len;

    (void)state;
    sample(&a, &d);
    assert_int_equal(
        risk_decision_to_json(NULL, &d, "x", buf, sizeof(buf), &len),
        LR_INVALID);
    assert_int_equal(
        risk_decision_to_json(&a, NULL, "x", buf, sizeof(buf), &len),
        LR_INVALID);
    assert_int_equal(
        risk_decision_to_json(&a, &d, NULL, buf, sizeof(buf), &len),
        LR_INVALID);
    assert_int_equal(risk_decision_to_json(&a, &d, "x", NULL, 1, &len),
                     LR_INVALID);
    assert_int_equal(risk_decision_to_json(&a, &d, "x", buf, sizeof(buf), NULL),
                     LR_INVALID);
}

/* ---- round trip ---------------------------------------------------------- */

static void test_risk_event_parse_round_trip(void **state)
{
    static char buf[RISK_DECISION_JSON_MAX];
    struct risk_attempt a, back;
    struct risk_decision d;
    struct risk_event ev;
    char err[128];
    size_t len;

    (void)state;
    sample(&a, &d);
    assert_int_equal(risk_decision_to_json(&a, &d, "alice@example.com", buf,
                                           sizeof(buf), &len),
                     LR_OK);
    assert_int_equal(risk_event_parse(buf, len, &ev, err, sizeof(err)), LR_OK);
    assert_string_equal(ev.request_id, "req-1");
    assert_string_equal(ev.account_id, "alice@example.com");
    assert_memory_equal(&ev.ip, &a.ip, sizeof(ev.ip));
    assert_string_equal(ev.device_id, "dev-42");
    assert_string_equal(ev.user_agent, a.user_agent);
    assert_int_equal(ev.timestamp_ms, a.timestamp_ms);
    assert_int_equal(ev.credential, LR_CRED_INVALID);
    assert_int_equal(ev.action, LR_ACTION_CHALLENGE_2FA);
    assert_int_equal(ev.score, 65);
    assert_string_equal(ev.policy_version, "2026-11-27a");
    risk_event_to_attempt(&ev, &back);
    assert_string_equal(back.account_id, a.account_id);
    assert_string_equal(back.request_id, "req-1");
    assert_int_equal(back.timestamp_ms, a.timestamp_ms);
    assert_int_equal(back.credential, a.credential);
    assert_memory_equal(&back.ip, &a.ip, sizeof(back.ip));
    assert_null(back.fingerprint);
}

static void test_risk_event_parse_round_trip_every_enum(void **state)
{
    static char buf[RISK_DECISION_JSON_MAX];
    struct risk_attempt a;
    struct risk_decision d;
    struct risk_event ev;
    char err[128];
    size_t len;

    (void)state;
    sample(&a, &d);
    for (int c = LR_CRED_UNSPECIFIED; c <= LR_CRED_UNKNOWN_ACCOUNT; c++) {
        for (int act = LR_ACTION_ALLOW; act <= LR_ACTION_MAX; act++) {
            a.credential = (enum lr_credential)c;
            d.action = (enum lr_action)act;
            assert_int_equal(
                risk_decision_to_json(&a, &d, "bob", buf, sizeof(buf), &len),
                LR_OK);
            assert_int_equal(risk_event_parse(buf, len, &ev, err, sizeof(err)),
                             LR_OK);
            assert_int_equal(ev.credential, c);
            assert_int_equal(ev.action, act);
        }
    }
}

/* ---- reading plain event lines ------------------------------------------- */

static void test_risk_event_parse_plain_line(void **state)
{
    struct risk_event ev;

    (void)state;
    parse_ok("{\"account_id\":\"carol\",\"ip\":\"::ffff:198.51.100.7\","
             "\"timestamp_ms\":1700000000000,\"credential\":\"invalid\"}\n",
             &ev);
    assert_string_equal(ev.account_id, "carol");
    assert_int_equal(ev.ip.family, 4);
    assert_memory_equal(ev.ip.addr, "\xc6\x33\x64\x07", 4);
    assert_string_equal(ev.request_id, "");
    assert_string_equal(ev.device_id, "");
    assert_string_equal(ev.user_agent, "");
    assert_int_equal(ev.credential, LR_CRED_INVALID);
    assert_int_equal(ev.action, LR_ACTION_UNSPECIFIED);
    assert_int_equal(ev.score, -1);
    assert_string_equal(ev.policy_version, "");
}

static void test_risk_event_parse_credential_forms(void **state)
{
    struct risk_event ev;

    (void)state;
    parse_ok("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\",\"timestamp_ms\":1,"
             "\"credential\":\"CREDENTIAL_UNKNOWN_ACCOUNT\"}",
             &ev);
    assert_int_equal(ev.credential, LR_CRED_UNKNOWN_ACCOUNT);
    parse_ok("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\",\"timestamp_ms\":1,"
             "\"credential\":1}",
             &ev);
    assert_int_equal(ev.credential, LR_CRED_VALID);
    parse_ok("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\",\"timestamp_ms\":1,"
             "\"credential\":null,\"device_id\":null}",
             &ev);
    assert_int_equal(ev.credential, LR_CRED_UNSPECIFIED);
    parse_ok("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\",\"timestamp_ms\":1,"
             "\"action\":\"lock\",\"score\":100}",
             &ev);
    assert_int_equal(ev.action, LR_ACTION_LOCK);
    assert_int_equal(ev.score, 100);
}

static void test_risk_event_parse_ignores_unknown_keys(void **state)
{
    struct risk_event ev;

    (void)state;
    parse_ok("{\"x\":{\"y\":[1,2,{\"z\":[[[]]]}]},\"account_id\":\"a\","
             "\"reasons\":[{\"code\":7}],\"geo\":\"junk\","
             "\"ip\":\"2001:db8::5\",\"timestamp_ms\":9}",
             &ev);
    assert_int_equal(ev.ip.family, 6);
    assert_int_equal(ev.timestamp_ms, 9);
}

/* ---- hostile lines ------------------------------------------------------- */

static void test_risk_event_parse_bad_json(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_fail(""), "json: "));
    assert_non_null(strstr(parse_fail("{"), "json: "));
    assert_non_null(strstr(parse_fail("not json"), "json: "));
    assert_non_null(strstr(parse_fail("{\"a\":1}{}"), "json: "));
    assert_non_null(strstr(parse_fail("{\"a\":1,}"), "json: "));
    assert_non_null(strstr(parse_fail("{\"a\":\"\xff\"}"), "json: "));
    assert_non_null(strstr(parse_fail("{\"a\":\"x\\u0000y\"}"), "json: "));
    assert_string_equal(parse_fail("[1,2]"), "line: not a JSON object");
    /* jansson itself refuses a bare value at the top */
    assert_non_null(strstr(parse_fail("\"text\""), "json: "));
    assert_non_null(strstr(parse_fail("42"), "json: "));
}

static void test_risk_event_parse_duplicate_keys(void **state)
{
    (void)state;
    assert_non_null(
        strstr(parse_fail("{\"account_id\":\"a\",\"account_id\":\"b\","
                          "\"ip\":\"192.0.2.1\",\"timestamp_ms\":1}"),
               "json: "));
}

static void test_risk_event_parse_missing_fields(void **state)
{
    (void)state;
    assert_string_equal(parse_fail("{\"ip\":\"192.0.2.1\",\"timestamp_ms\":1}"),
                        "account_id: missing");
    assert_string_equal(parse_fail("{\"account_id\":\"\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1}"),
                        "account_id: empty");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"timestamp_ms\":1}"),
                        "ip: missing");
    assert_string_equal(
        parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\"}"),
        "timestamp_ms: missing");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":null}"),
                        "timestamp_ms: missing");
    assert_string_equal(parse_fail("{}"), "account_id: missing");
}

static void test_risk_event_parse_wrong_types(void **state)
{
    (void)state;
    assert_string_equal(parse_fail("{\"account_id\":5}"),
                        "account_id: must be a string");
    assert_string_equal(parse_fail("{\"request_id\":[],\"account_id\":\"a\"}"),
                        "request_id: must be a string");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":7}"),
                        "ip: must be a string");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"device_id\":{}}"),
                        "device_id: must be a string");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"user_agent\":true}"),
                        "user_agent: must be a string");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":\"1700000000000\"}"),
                        "timestamp_ms: must be an integer");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1.5}"),
                        "timestamp_ms: must be an integer");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1,\"credential\":true}"),
                        "credential: must be a name or a number");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1,\"score\":\"high\"}"),
                        "score: must be an integer");
}

static void test_risk_event_parse_bad_values(void **state)
{
    (void)state;
    assert_string_equal(
        parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.300\"}"),
        "ip: not an IPv4 or IPv6 address");
    assert_string_equal(
        parse_fail("{\"account_id\":\"a\",\"ip\":\" 192.0.2.1\"}"),
        "ip: not an IPv4 or IPv6 address");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":0}"),
                        "timestamp_ms: 0 is out of range (1..253402300799999)");
    assert_string_equal(
        parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                   "\"timestamp_ms\":-5}"),
        "timestamp_ms: -5 is out of range (1..253402300799999)");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1,\"credential\":9}"),
                        "credential: 9 is not a known value");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1,\"credential\":-1}"),
                        "credential: -1 is not a known value");
    assert_string_equal(
        parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                   "\"timestamp_ms\":1,\"credential\":\"BOGUS\"}"),
        "credential: unknown value");
    assert_string_equal(
        parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                   "\"timestamp_ms\":1,\"action\":\"ACTION_BAN\"}"),
        "action: unknown value");
    assert_string_equal(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                                   "\"timestamp_ms\":1,\"score\":101}"),
                        "score: 101 is out of range (0..100)");
    assert_non_null(
        strstr(parse_fail("{\"account_id\":\"a\",\"ip\":\"192.0.2.1\","
                          "\"timestamp_ms\":99999999999999999999999}"),
               "json: "));
}

static void test_risk_event_parse_huge_strings(void **state)
{
    struct risk_event ev;
    char *line;

    (void)state;
    line = event_with("device_id", 256);
    parse_ok(line, &ev);
    assert_int_equal(strlen(ev.device_id), 256);
    free(line);
    line = event_with("device_id", 257);
    assert_string_equal(parse_fail(line), "device_id: longer than 256 bytes");
    free(line);
    line = event_with("user_agent", 1025);
    assert_string_equal(parse_fail(line), "user_agent: longer than 1024 bytes");
    free(line);
    line = event_with("request_id", 65);
    assert_string_equal(parse_fail(line), "request_id: longer than 64 bytes");
    free(line);
    line = event_with("policy_version", 65);
    assert_string_equal(parse_fail(line),
                        "policy_version: longer than 64 bytes");
    free(line);
    /* ignored keys still count towards the line cap */
    line = event_with("junk", RISK_EVENT_LINE_MAX);
    assert_string_equal(parse_fail(line), "line: longer than 65536 bytes");
    free(line);
}

static void test_risk_event_parse_huge_account(void **state)
{
    char line[512];
    char id[258];

    (void)state;
    memset(id, 'a', 257);
    id[257] = '\0';
    snprintf(line, sizeof(line),
             "{\"account_id\":\"%s\",\"ip\":\"192.0.2.1\","
             "\"timestamp_ms\":1}",
             id);
    assert_string_equal(parse_fail(line), "account_id: longer than 256 bytes");
}

static void test_risk_event_parse_deep_nesting(void **state)
{
    size_t depth = 30000;
    char *line = malloc(2 * depth + 64);
    size_t o;

    (void)state;
    assert_non_null(line);
    o = (size_t)sprintf(line, "{\"x\":");
    memset(line + o, '[', depth);
    o += depth;
    memset(line + o, ']', depth);
    o += depth;
    sprintf(line + o, "}");
    assert_non_null(strstr(parse_fail(line), "json: "));
    free(line);
}

static void test_risk_event_parse_embedded_nul_in_line(void **state)
{
    static const char line[] = "{\"account_id\":\"a\"}\0garbage";
    struct risk_event ev;
    char err[128];

    (void)state;
    assert_int_equal(
        risk_event_parse(line, sizeof(line) - 1, &ev, err, sizeof(err)),
        LR_INVALID);
    assert_non_null(strstr(err, "json: "));
}

static void test_risk_event_parse_null_err_buffer(void **state)
{
    struct risk_event ev;

    (void)state;
    assert_int_equal(risk_event_parse("{", 1, &ev, NULL, 0), LR_INVALID);
}

static void test_risk_wire_names(void **state)
{
    (void)state;
    assert_string_equal(risk_action_wire_name(LR_ACTION_LOCK), "ACTION_LOCK");
    assert_string_equal(risk_action_wire_name((enum lr_action)99),
                        "ACTION_UNSPECIFIED");
    assert_string_equal(risk_credential_wire_name(LR_CRED_VALID),
                        "CREDENTIAL_VALID");
    assert_string_equal(risk_credential_wire_name((enum lr_credential) - 1),
                        "CREDENTIAL_UNSPECIFIED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_risk_decision_to_json_writes_every_key),
        cmocka_unit_test(test_risk_decision_to_json_null_location),
        cmocka_unit_test(test_risk_decision_to_json_fixes_bad_utf8),
        cmocka_unit_test(test_risk_decision_to_json_unterminated_fields),
        cmocka_unit_test(test_risk_decision_to_json_small_buffer),
        cmocka_unit_test(test_risk_decision_to_json_null_args),
        cmocka_unit_test(test_risk_event_parse_round_trip),
        cmocka_unit_test(test_risk_event_parse_round_trip_every_enum),
        cmocka_unit_test(test_risk_event_parse_plain_line),
        cmocka_unit_test(test_risk_event_parse_credential_forms),
        cmocka_unit_test(test_risk_event_parse_ignores_unknown_keys),
        cmocka_unit_test(test_risk_event_parse_bad_json),
        cmocka_unit_test(test_risk_event_parse_duplicate_keys),
        cmocka_unit_test(test_risk_event_parse_missing_fields),
        cmocka_unit_test(test_risk_event_parse_wrong_types),
        cmocka_unit_test(test_risk_event_parse_bad_values),
        cmocka_unit_test(test_risk_event_parse_huge_strings),
        cmocka_unit_test(test_risk_event_parse_huge_account),
        cmocka_unit_test(test_risk_event_parse_deep_nesting),
        cmocka_unit_test(test_risk_event_parse_embedded_nul_in_line),
        cmocka_unit_test(test_risk_event_parse_null_err_buffer),
        cmocka_unit_test(test_risk_wire_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

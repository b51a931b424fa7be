/*
 * test_agent_validate.c - the agent's request validation (every rule and its
 * message), the wire-level string check, duration wording, and the per-call
 * arena the unpacked requests live in.
 */
#include "agent/agent.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW_MS 1700000000000LL
#define DAY_MS 86400000LL

static const struct agent_time_limits lim = {
    .now_ms = NOW_MS,
    .past_s = 7 * 86400,
    .future_s = 300,
};

static char big[2048];

/* A string of @p n 'a's (n < sizeof(big)). */
static char *repeat(size_t n)
{
    memset(big, 'a', n);
    big[n] = '\0';
    return big;
}

static Loginrisk__V1__LoginAttempt attempt(void)
{
    Loginrisk__V1__LoginAttempt m = LOGINRISK__V1__LOGIN_ATTEMPT__INIT;

    m.account_id = "alice";
    m.ip = "192.0.2.10";
    return m;
}

/* Runs the validator and checks the message (NULL = must pass). */
static void expect_attempt(const Loginrisk__V1__LoginAttempt *m,
                           const char *want)
{
    struct agent_attempt_check out;
    char msg[AGENT_STATUS_MSG_MAX] = "";
    int rc = agent_validate_attempt(m, &lim, &out, msg, sizeof(msg));

    if (want == NULL) {
        if (rc != LR_OK)
            fail_msg("unexpected error: %s", msg);
    } else {
        assert_int_equal(rc, LR_INVALID);
        assert_string_equal(msg, want);
    }
}

static void test_agent_validate_attempt_minimal_ok(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();
    struct agent_attempt_check out;
    char msg[128];

    (void)state;
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, sizeof(msg)),
                     LR_OK);
    assert_int_equal(out.ip.family, 4);
    assert_int_equal(out.ip.addr[0], 192);
    assert_int_equal(out.ip.addr[3], 10);
    assert_int_equal(out.timestamp_ms, NOW_MS); /* 0 = now */
}

static void test_agent_validate_attempt_account_id(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();

    (void)state;
    m.account_id = "";
    expect_attempt(&m, "account_id: required");
    m.account_id = repeat(257);
    expect_attempt(&m, "account_id: longer than 256 bytes");
    m.account_id = repeat(256);
    expect_attempt(&m, NULL);
    m.account_id = "bad\xff";
    expect_attempt(&m, "account_id: not valid UTF-8");
    m.account_id = "\xc3\xa9lodie"; /* élodie */
    expect_attempt(&m, NULL);
}

static void test_agent_validate_attempt_ip(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();
    struct agent_attempt_check out;
    char msg[128];

    (void)state;
    m.ip = "";
    expect_attempt(&m, "ip: required");
    m.ip = "not-an-ip";
    expect_attempt(&m, "ip: not an IPv4 or IPv6 address");
    m.ip = "192.0.2.1:80";
    expect_attempt(&m, "ip: not an IPv4 or IPv6 address");
    m.ip = "256.1.1.1";
    expect_attempt(&m, "ip: not an IPv4 or IPv6 address");
    m.ip = "2001:db8::1";
    expect_attempt(&m, NULL);
    m.ip = "::ffff:192.0.2.7";
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, sizeof(msg)),
                     LR_OK);
    assert_int_equal(out.ip.family, 4); /* IPv4-mapped folded */
    assert_int_equal(out.ip.addr[3], 7);
}

static void test_agent_validate_attempt_device_and_user_agent(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();

    (void)state;
    m.device_id = repeat(257);
    expect_attempt(&m, "device_id: longer than 256 bytes");
    m.device_id = repeat(256);
    expect_attempt(&m, NULL);
    m.device_id = "\xc0\xaf"; /* overlong '/' */
    expect_attempt(&m, "device_id: not valid UTF-8");
    m.device_id = "";
    m.user_agent = repeat(1025);
    expect_attempt(&m, "user_agent: longer than 1024 bytes");
    m.user_agent = repeat(1024);
    expect_attempt(&m, NULL);
    m.user_agent = "Mozilla\xed\xa0\x80"; /* surrogate */
    expect_attempt(&m, "user_agent: not valid UTF-8");
}

static void test_agent_validate_attempt_request_id(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();

    (void)state;
    m.request_id = repeat(65);
    expect_attempt(&m, "request_id: longer than 64 bytes");
    m.request_id = repeat(64);
    expect_attempt(&m, NULL);
    m.request_id = "id\twith tab";
    expect_attempt(&m, "request_id: not printable ASCII");
    m.request_id = "caf\xc3\xa9";
    expect_attempt(&m, "request_id: not printable ASCII");
    m.request_id = "req-1 ok";
    expect_attempt(&m, NULL);
}

static void test_agent_validate_attempt_timestamp(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();
    struct agent_attempt_check out;
    char msg[128];

    (void)state;
    m.timestamp_ms = NOW_MS - 9 * DAY_MS;
    expect_attempt(&m, "timestamp_ms: 9 days in the past (limit 7 days)");
    m.timestamp_ms = NOW_MS + 12 * 60000;
    expect_attempt(&m,
                   "timestamp_ms: 12 minutes in the future (limit 5 minutes)");
    m.timestamp_ms = NOW_MS - 7 * DAY_MS - 1000;
    expect_attempt(&m,
                   "timestamp_ms: more than 7 days in the past (limit 7 days)");
    m.timestamp_ms = NOW_MS - 7 * DAY_MS - DAY_MS / 2;
    expect_attempt(&m, "timestamp_ms: 7.5 days in the past (limit 7 days)");
    m.timestamp_ms = INT64_MIN;
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, sizeof(msg)),
                     LR_INVALID);
    assert_non_null(strstr(msg, "in the past (limit 7 days)"));
    m.timestamp_ms = INT64_MAX;
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, sizeof(msg)),
                     LR_INVALID);
    assert_non_null(strstr(msg, "in the future (limit 5 minutes)"));
    /* the edges are inside the window */
    m.timestamp_ms = NOW_MS - 7 * DAY_MS;
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, sizeof(msg)),
                     LR_OK);
    assert_int_equal(out.timestamp_ms, NOW_MS - 7 * DAY_MS);
    m.timestamp_ms = NOW_MS + 300000;
    expect_attempt(&m, NULL);
}

static void test_agent_validate_attempt_credential(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();

    (void)state;
    m.credential = (Loginrisk__V1__CredentialResult)9;
    expect_attempt(&m, "credential: unknown value 9");
    m.credential = (Loginrisk__V1__CredentialResult)-1;
    expect_attempt(&m, "credential: unknown value -1");
    m.credential = LOGINRISK__V1__CREDENTIAL_RESULT__CREDENTIAL_UNKNOWN_ACCOUNT;
    expect_attempt(&m, NULL);
}

static void test_agent_validate_attempt_password(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();
    uint8_t pw[1025];

    (void)state;
    memset(pw, 'p', sizeof(pw));
    m.attempted_password.data = pw;
    m.attempted_password.len = 8;
    m.credential = LOGINRISK__V1__CREDENTIAL_RESULT__CREDENTIAL_VALID;
    expect_attempt(&m,
                   "attempted_password: only allowed with CREDENTIAL_INVALID");
    m.credential = LOGINRISK__V1__CREDENTIAL_RESULT__CREDENTIAL_UNSPECIFIED;
    expect_attempt(&m,
                   "attempted_password: only allowed with CREDENTIAL_INVALID");
    m.credential = LOGINRISK__V1__CREDENTIAL_RESULT__CREDENTIAL_INVALID;
    expect_attempt(&m, NULL);
    m.attempted_password.len = 1025;
    expect_attempt(&m, "attempted_password: longer than 1024 bytes");
    m.attempted_password.len = 1024;
    expect_attempt(&m, NULL);
}

static void test_agent_validate_attempt_first_error_wins(void **state)
{
    Loginrisk__V1__LoginAttempt m = attempt();
    struct agent_attempt_check out = {.timestamp_ms = 42};
    char msg[128];

    (void)state;
    m.account_id = "";
    m.ip = "nope";
    expect_attempt(&m, "account_id: required");
    /* out is untouched on failure */
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, sizeof(msg)),
                     LR_INVALID);
    assert_int_equal(out.timestamp_ms, 42);
    /* a tiny message buffer is cut, never overrun */
    assert_int_equal(agent_validate_attempt(&m, &lim, &out, msg, 5),
                     LR_INVALID);
    assert_string_equal(msg, "acco");
}

/* ---- Outcome ------------------------------------------------------------ */

static Loginrisk__V1__Outcome outcome(void)
{
    Loginrisk__V1__Outcome m = LOGINRISK__V1__OUTCOME__INIT;

    m.request_id = "req-1";
    m.account_id = "alice";
    m.kind = LOGINRISK__V1__OUTCOME_KIND__OUTCOME_CHALLENGE_PASSED;
    return m;
}

static void expect_outcome(const Loginrisk__V1__Outcome *m, const char *want)
{
    char msg[AGENT_STATUS_MSG_MAX] = "";
    int64_t ts = 0;
    int rc = agent_validate_outcome(m, &lim, &ts, msg, sizeof(msg));

    if (want == NULL) {
        if (rc != LR_OK)
            fail_msg("unexpected error: %s", msg);
    } else {
        assert_int_equal(rc, LR_INVALID);
        assert_string_equal(msg, want);
    }
}

static void test_agent_validate_outcome_rules(void **state)
{
    Loginrisk__V1__Outcome m = outcome();
    char msg[128];
    int64_t ts = 0;

    (void)state;
    assert_int_equal(agent_validate_outcome(&m, &lim, &ts, msg, sizeof(msg)),
                     LR_OK);
    assert_int_equal(ts, NOW_MS);
    m.request_id = "";
    expect_outcome(&m, "request_id: required");
    m.request_id = repeat(65);
    expect_outcome(&m, "request_id: longer than 64 bytes");
    m = outcome();
    m.account_id = "";
    expect_outcome(&m, "account_id: required");
    m.account_id = repeat(257);
    expect_outcome(&m, "account_id: longer than 256 bytes");
    m = outcome();
    m.kind = LOGINRISK__V1__OUTCOME_KIND__OUTCOME_UNSPECIFIED;
    expect_outcome(&m, "kind: required");
    m.kind = (Loginrisk__V1__OutcomeKind)9;
    expect_outcome(&m, "kind: unknown value 9");
    m.kind = (Loginrisk__V1__OutcomeKind)-3;
    expect_outcome(&m, "kind: unknown value -3");
    m = outcome();
    m.timestamp_ms = NOW_MS - 30 * DAY_MS;
    expect_outcome(&m, "timestamp_ms: 30 days in the past (limit 7 days)");
    m.timestamp_ms = NOW_MS - 1000;
    assert_int_equal(agent_validate_outcome(&m, &lim, &ts, msg, sizeof(msg)),
                     LR_OK);
    assert_int_equal(ts, NOW_MS - 1000);
    m.kind = LOGINRISK__V1__OUTCOME_KIND__OUTCOME_CONFIRMED_FRAUD;
    expect_outcome(&m, NULL);
}

/* ---- wire-level strings ------------------------------------------------- */

static size_t pack_attempt(const Loginrisk__V1__LoginAttempt *m, uint8_t *buf)
{
    assert_true(loginrisk__v1__login_attempt__get_packed_size(m) < 4096);
    return loginrisk__v1__login_attempt__pack(m, buf);
}

static void test_agent_validate_wire_strings_nul(void **state)
{
    const ProtobufCMessageDescriptor *d =
        &loginrisk__v1__login_attempt__descriptor;
    Loginrisk__V1__LoginAttempt m = attempt();
    uint8_t buf[4096];
    char msg[128];
    size_t n;
    uint8_t *p;

    (void)state;
    n = pack_attempt(&m, buf);
    assert_int_equal(agent_validate_wire_strings(d, buf, n, msg, sizeof(msg)),
                     LR_OK);
    /* "alice" -> "al\0ce": protobuf-c would hand us "al" */
    p = memmem(buf, n, "alice", 5);
    assert_non_null(p);
    p[2] = '\0';
    assert_int_equal(agent_validate_wire_strings(d, buf, n, msg, sizeof(msg)),
                     LR_INVALID);
    assert_string_equal(msg, "account_id: contains a NUL byte");
}

static void test_agent_validate_wire_strings_bytes_may_hold_nul(void **state)
{
    const ProtobufCMessageDescriptor *d =
        &loginrisk__v1__login_attempt__descriptor;
    Loginrisk__V1__LoginAttempt m = attempt();
    uint8_t pw[4] = {'a', 0, 'b', 0};
    uint8_t buf[4096];
    char msg[128];
    size_t n;

    (void)state;
    m.credential = LOGINRISK__V1__CREDENTIAL_RESULT__CREDENTIAL_INVALID;
    m.attempted_password.data = pw;
    m.attempted_password.len = sizeof(pw);
    m.timestamp_ms = NOW_MS;
    n = pack_attempt(&m, buf);
    assert_int_equal(agent_validate_wire_strings(d, buf, n, msg, sizeof(msg)),
                     LR_OK);
}

static void test_agent_validate_wire_strings_malformed(void **state)
{
    const ProtobufCMessageDescriptor *d =
        &loginrisk__v1__login_attempt__descriptor;
    /* field 2, length 10, only 3 bytes follow */
    const uint8_t cut[] = {0x12, 0x0a, 'a', 'b', 'c'};
    /* field 0 is not a field */
    const uint8_t zero[] = {0x02, 0x00};
    /* field 9, wire type 3 (start group) */
    const uint8_t group[] = {0x4b, 0x4c};
    /* a varint that never ends */
    const uint8_t endless[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    /* unknown field 15 (length-delimited) with a NUL: not a string, fine */
    const uint8_t unknown[] = {0x7a, 0x02, 'x', 0x00};
    char msg[128];

    (void)state;
    assert_int_equal(
        agent_validate_wire_strings(d, cut, sizeof(cut), msg, sizeof(msg)),
        LR_INVALID);
    assert_string_equal(msg, "request: malformed message");
    assert_int_equal(
        agent_validate_wire_strings(d, zero, sizeof(zero), msg, sizeof(msg)),
        LR_INVALID);
    assert_int_equal(
        agent_validate_wire_strings(d, group, sizeof(group), msg, sizeof(msg)),
        LR_INVALID);
    assert_int_equal(agent_validate_wire_strings(d, endless, sizeof(endless),
                                                 msg, sizeof(msg)),
                     LR_INVALID);
    assert_int_equal(agent_validate_wire_strings(d, unknown, sizeof(unknown),
                                                 msg, sizeof(msg)),
                     LR_OK);
    assert_int_equal(agent_validate_wire_strings(d, NULL, 0, msg, sizeof(msg)),
                     LR_OK);
}

static void test_agent_format_duration_units(void **state)
{
    char buf[64];

    (void)state;
    agent_format_duration(9 * 86400, 7 * 86400, buf, sizeof(buf));
    assert_string_equal(buf, "9 days");
    agent_format_duration(86400, 7 * 86400, buf, sizeof(buf));
    assert_string_equal(buf, "1 day");
    agent_format_duration(720, 300, buf, sizeof(buf));
    assert_string_equal(buf, "12 minutes");
    agent_format_duration(7200, 3600, buf, sizeof(buf));
    assert_string_equal(buf, "2 hours");
    agent_format_duration(90, 45, buf, sizeof(buf));
    assert_string_equal(buf, "90 seconds");
    agent_format_duration(5, 0, buf, sizeof(buf));
    assert_string_equal(buf, "5 seconds");
    agent_format_duration(UINT64_MAX, 86400, buf, sizeof(buf));
    assert_non_null(strstr(buf, "days"));
}

/* ---- arena -------------------------------------------------------------- */

static void test_agent_arena_alloc_inline_then_chunks(void **state)
{
    struct agent_arena *a = malloc(sizeof(*a));
    unsigned char *p, *q, *big_p;

    (void)state;
    assert_non_null(a);
    agent_arena_init(a, 64 * 1024);
    p = agent_arena_alloc(a, 3);
    q = agent_arena_alloc(a, 5);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_int_equal((uintptr_t)q % 16, 0);
    assert_ptr_equal(q, p + 16);
    big_p = agent_arena_alloc(a, 10000); /* past the inline buffer */
    assert_non_null(big_p);
    memset(big_p, 1, 10000);
    assert_null(agent_arena_alloc(a, 60 * 1024)); /* over the cap */
    assert_non_null(agent_arena_alloc(a, 100));   /* still usable */
    agent_arena_reset(a);
    assert_int_equal(a->total, 0);
    assert_ptr_equal(agent_arena_alloc(a, 1), a->inline_buf);
    agent_arena_reset(a);
    free(a);
}

static void test_agent_arena_reset_wipes_secrets(void **state)
{
    struct agent_arena *a = malloc(sizeof(*a));
    char *s;

    (void)state;
    assert_non_null(a);
    agent_arena_init(a, 1 << 20);
    s = agent_arena_alloc(a, 16);
    memcpy(s, "hunter2", 8);
    a->wipe = true;
    agent_arena_reset(a);
    assert_false(a->wipe);
    assert_int_equal(memcmp(a->inline_buf, "\0\0\0\0\0\0\0\0", 8), 0);
    free(a);
}

static void test_agent_arena_pb_allocator_unpacks(void **state)
{
    struct agent_arena *a = malloc(sizeof(*a));
    Loginrisk__V1__LoginAttempt m = attempt(), *u;
    ProtobufCAllocator alloc;
    uint8_t buf[4096];
    size_t n;

    (void)state;
    assert_non_null(a);
    m.device_id = "dev-1";
    n = pack_attempt(&m, buf);
    agent_arena_init(a, 1 << 16);
    agent_arena_pb_allocator(a, &alloc);
    u = loginrisk__v1__login_attempt__unpack(&alloc, n, buf);
    assert_non_null(u);
    assert_string_equal(u->account_id, "alice");
    assert_string_equal(u->device_id, "dev-1");
    assert_true((unsigned char *)u >= a->inline_buf &&
                (unsigned char *)u < a->inline_buf + sizeof(a->inline_buf));
    agent_arena_reset(a);
    /* a cap too small for the message makes unpack fail cleanly */
    agent_arena_init(a, 64);
    assert_null(loginrisk__v1__login_attempt__unpack(&alloc, n, buf));
    agent_arena_reset(a);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_validate_attempt_minimal_ok),
        cmocka_unit_test(test_agent_validate_attempt_account_id),
        cmocka_unit_test(test_agent_validate_attempt_ip),
        cmocka_unit_test(test_agent_validate_attempt_device_and_user_agent),
        cmocka_unit_test(test_agent_validate_attempt_request_id),
        cmocka_unit_test(test_agent_validate_attempt_timestamp),
        cmocka_unit_test(test_agent_validate_attempt_credential),
        cmocka_unit_test(test_agent_validate_attempt_password),
        cmocka_unit_test(test_agent_validate_attempt_first_error_wins),
        cmocka_unit_test(test_agent_validate_outcome_rules),
        cmocka_unit_test(test_agent_validate_wire_strings_nul),
        cmocka_unit_test(test_agent_validate_wire_strings_bytes_may_hold_nul),
        cmocka_unit_test(test_agent_validate_wire_strings_malformed),
        cmocka_unit_test(test_agent_format_duration_units),
        cmocka_unit_test(test_agent_arena_alloc_inline_then_chunks),
        cmocka_unit_test(test_agent_arena_reset_wipes_secrets),
        cmocka_unit_test(test_agent_arena_pb_allocator_unpacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

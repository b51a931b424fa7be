/*
 * test_agent_auth.c - AdminService bearer tokens (agent_auth.c): parsing
 * the header, throttling keys, Argon2id verification against every
 * configured token, the cache of verified tokens (expiry, revocation and
 * role changes at reload) and per-peer failure throttling. The clock is
 * injected: nothing sleeps.
 *
 * Hashes are real Argon2id PHC strings made here with libargon2 at the
 * lowest cost, so the tests stay fast.
 */
#include "agent/agent_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <cmocka.h>

#define TOK_A "responder-token-aaaaaaaa"
#define TOK_B "analyst-token-bbbbbbbbbb"

struct fixture {
    char hash_a[128];
    char hash_b[128];
    char hash_a2[128]; /* TOK_A under another salt */
    struct cfg_token tokens[2];
    struct cfg_admin admin;
    struct agent_auth *auth;
};

static void make_hash(const char *tok, uint8_t salt_byte, char *out, size_t cap)
{
    uint8_t salt[16];

    memset(salt, salt_byte, sizeof(salt));
    assert_int_equal(argon2id_hash_encoded(1, 8, 1, tok, strlen(tok), salt,
                                           sizeof(salt), 32, out, cap),
                     ARGON2_OK);
}

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    make_hash(TOK_A, 1, f.hash_a, sizeof(f.hash_a));
    make_hash(TOK_B, 2, f.hash_b, sizeof(f.hash_b));
    make_hash(TOK_A, 3, f.hash_a2, sizeof(f.hash_a2));
    f.tokens[0] = (struct cfg_token){"oncall", CFG_ROLE_RESPONDER, f.hash_a, 1};
    f.tokens[1] = (struct cfg_token){"tuner", CFG_ROLE_ANALYST, f.hash_b, 2};
    f.admin = (struct cfg_admin){f.tokens, 2, 60, 3};
    if (agent_auth_new(&f.auth) != LR_OK)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    agent_auth_free(f->auth);
    return 0;
}

/* ---- parsing --------------------------------------------------------------
 */

static void test_agent_auth_bearer_shapes(void **state)
{
    const char *tok = NULL;
    size_t len = 0;
    char big[AGENT_TOKEN_MAX + 20];

    (void)state;
    assert_int_equal(agent_auth_bearer("Bearer abc", &tok, &len), LR_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(tok, "abc", 3);
    assert_int_equal(agent_auth_bearer("bearer   abc  ", &tok, &len), LR_OK);
    assert_int_equal(len, 3);
    assert_int_equal(agent_auth_bearer("Basic abc", &tok, &len), LR_UNAUTH);
    assert_int_equal(agent_auth_bearer("Bearer", &tok, &len), LR_UNAUTH);
    assert_int_equal(agent_auth_bearer("Bearer ", &tok, &len), LR_UNAUTH);
    assert_int_equal(agent_auth_bearer("Bearerabc", &tok, &len), LR_UNAUTH);
    assert_int_equal(agent_auth_bearer("Bearer a b", &tok, &len), LR_UNAUTH);
    assert_int_equal(agent_auth_bearer("Bearer a\x01", &tok, &len), LR_UNAUTH);
    assert_int_equal(agent_auth_bearer(NULL, &tok, &len), LR_UNAUTH);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'x', AGENT_TOKEN_MAX + 1);
    big[7 + AGENT_TOKEN_MAX + 1] = '\0';
    assert_int_equal(agent_auth_bearer(big, &tok, &len), LR_UNAUTH);
    big[7 + AGENT_TOKEN_MAX] = '\0';
    assert_int_equal(agent_auth_bearer(big, &tok, &len), LR_OK);
    assert_int_equal(len, AGENT_TOKEN_MAX);
}

static void test_agent_auth_peer_key_drops_port(void **state)
{
    char k[AGENT_AUTH_PEER_MAX];

    (void)state;
    agent_auth_peer_key("ipv4:192.0.2.1:5555", k, sizeof(k));
    assert_string_equal(k, "ipv4:192.0.2.1");
    agent_auth_peer_key("ipv6:[2001:db8::1]:443", k, sizeof(k));
    assert_string_equal(k, "ipv6:[2001:db8::1]");
    agent_auth_peer_key("ipv6:%5B::1%5D:80", k, sizeof(k));
    assert_string_equal(k, "ipv6:%5B::1%5D:80"); /* not our shape: kept */
    agent_auth_peer_key("unix:/run/loginrisk/admin.sock", k, sizeof(k));
    assert_string_equal(k, "unix:/run/loginrisk/admin.sock");
    agent_auth_peer_key(NULL, k, sizeof(k));
    assert_string_equal(k, "unknown");
    agent_auth_peer_key("ipv4:10.0.0.1:1", k, 5);
    assert_string_equal(k, "ipv4");
}

/* ---- verification and cache -----------------------------------------------
 */

static void test_agent_auth_verify_roles(void **state)
{
    struct fixture *f = *state;
    struct agent_principal p;

    assert_int_equal(agent_auth_verify(f->auth, &f->admin, "peer", TOK_A,
                                       strlen(TOK_A), 1000, &p),
                     LR_OK);
    assert_string_equal(p.name, "oncall");
    assert_int_equal(p.role, CFG_ROLE_RESPONDER);
    assert_int_equal(agent_auth_verify(f->auth, &f->admin, "peer", TOK_B,
                                       strlen(TOK_B), 1000, &p),
                     LR_OK);
    assert_string_equal(p.name, "tuner");
    assert_int_equal(p.role, CFG_ROLE_ANALYST);
    assert_int_equal(
        agent_auth_verify(f->auth, &f->admin, "peer", "nope", 4, 1000, &p),
        LR_UNAUTH);
    /* a prefix of a good token is not the token */
    assert_int_equal(agent_auth_verify(f->auth, &f->admin, "peer", TOK_A,
                                       strlen(TOK_A) - 1, 1000, &p),
                     LR_UNAUTH);
}

static void test_agent_auth_cached_expires(void **state)
{
    struct fixture *f = *state;
    struct agent_principal p;

    assert_int_equal(
        agent_auth_cached(f->auth, &f->admin, TOK_A, strlen(TOK_A), 0, &p),
        LR_NOTFOUND);
    assert_int_equal(agent_auth_verify(f->auth, &f->admin, "peer", TOK_A,
                                       strlen(TOK_A), 10000, &p),
                     LR_OK);
    memset(&p, 0, sizeof(p));
    assert_int_equal(
        agent_auth_cached(f->auth, &f->admin, TOK_A, strlen(TOK_A), 69999, &p),
        LR_OK);
    assert_string_equal(p.name, "oncall");
    /* another token is not a hit */
    assert_int_equal(
        agent_auth_cached(f->auth, &f->admin, TOK_B, strlen(TOK_B), 20000, &p),
        LR_NOTFOUND);
    /* auth_cache_s = 60 */
    assert_int_equal(
        agent_auth_cached(f->auth, &f->admin, TOK_A, strlen(TOK_A), 70000, &p),
        LR_NOTFOUND);
}

static void test_agent_auth_cached_follows_reload(void **state)
{
    struct fixture *f = *state;
    struct cfg_token changed[2];
    struct cfg_admin admin = f->admin;
    struct agent_principal p;

    assert_int_equal(agent_auth_verify(f->auth, &f->admin, "peer", TOK_A,
                                       strlen(TOK_A), 0, &p),
                     LR_OK);
    /* a role change takes effect at once */
    memcpy(changed, f->tokens, sizeof(changed));
    changed[0].role = CFG_ROLE_ANALYST;
    admin.tokens = changed;
    assert_int_equal(
        agent_auth_cached(f->auth, &admin, TOK_A, strlen(TOK_A), 1, &p), LR_OK);
    assert_int_equal(p.role, CFG_ROLE_ANALYST);
    /* a new hash for the name (the token was rotated) drops the entry */
    changed[0].hash = f->hash_a2;
    assert_int_equal(
        agent_auth_cached(f->auth, &admin, TOK_A, strlen(TOK_A), 2, &p),
        LR_NOTFOUND);
    /* and a removed token is gone too */
    assert_int_equal(agent_auth_verify(f->auth, &f->admin, "peer", TOK_A,
                                       strlen(TOK_A), 3, &p),
                     LR_OK);
    admin.tokens = &f->tokens[1];
    admin.n_tokens = 1;
    assert_int_equal(
        agent_auth_cached(f->auth, &admin, TOK_A, strlen(TOK_A), 4, &p),
        LR_NOTFOUND);
}

static void test_agent_auth_cache_off(void **state)
{
    struct fixture *f = *state;
    struct cfg_admin admin = f->admin;
    struct agent_principal p;

    admin.auth_cache_s = 0;
    assert_int_equal(
        agent_auth_verify(f->auth, &admin, "peer", TOK_B, strlen(TOK_B), 0, &p),
        LR_OK);
    assert_int_equal(
        agent_auth_cached(f->auth, &admin, TOK_B, strlen(TOK_B), 1, &p),
        LR_NOTFOUND);
}

static void test_agent_auth_cache_bounded(void **state)
{
    struct fixture *f = *state;
    struct cfg_token many[1];
    struct cfg_admin admin = f->admin;
    struct agent_principal p;
    char tok[32], hash[128];

    /* more distinct good tokens than the cache holds: the oldest go */
    for (int i = 0; i < AGENT_AUTH_CACHE_MAX + 8; i++) {
        snprintf(tok, sizeof(tok), "token-number-%04d", i);
        make_hash(tok, (uint8_t)i, hash, sizeof(hash));
        many[0] = (struct cfg_token){"t", CFG_ROLE_ANALYST, hash, 1};
        admin.tokens = many;
        admin.n_tokens = 1;
        assert_int_equal(agent_auth_verify(f->auth, &admin, "p", tok,
                                           strlen(tok), 100 + i, &p),
                         LR_OK);
    }
    assert_int_equal(
        agent_auth_cached(f->auth, &admin, tok, strlen(tok), 200, &p), LR_OK);
    snprintf(tok, sizeof(tok), "token-number-%04d", 0);
    assert_int_equal(
        agent_auth_cached(f->auth, &admin, tok, strlen(tok), 200, &p),
        LR_NOTFOUND);
}

/* ---- throttling -----------------------------------------------------------
 */

static void test_agent_auth_throttled_per_peer(void **state)
{
    struct fixture *f = *state;
    struct agent_principal p;
    uint32_t retry = 0;

    /* max_failures_per_min = 3 */
    for (int i = 0; i < 3; i++) {
        assert_false(agent_auth_throttled(f->auth, &f->admin,
                                          "ipv4:198.51.100.9", 1000 + i, NULL));
        assert_int_equal(agent_auth_verify(f->auth, &f->admin,
                                           "ipv4:198.51.100.9", "bad", 3,
                                           1000 + i, &p),
                         LR_UNAUTH);
    }
    assert_true(agent_auth_throttled(f->auth, &f->admin, "ipv4:198.51.100.9",
                                     1010, &retry));
    assert_int_equal(retry, 60);
    assert_true(agent_auth_throttled(f->auth, &f->admin, "ipv4:198.51.100.9",
                                     60999, &retry));
    assert_int_equal(retry, 1);
    /* other peers are not affected; the window ends */
    assert_false(agent_auth_throttled(f->auth, &f->admin, "ipv4:198.51.100.10",
                                      1010, NULL));
    assert_false(agent_auth_throttled(f->auth, &f->admin, "ipv4:198.51.100.9",
                                      61000, NULL));
    /* a new window starts counting from zero */
    agent_auth_fail(f->auth, "ipv4:198.51.100.9", 61000);
    assert_false(agent_auth_throttled(f->auth, &f->admin, "ipv4:198.51.100.9",
                                      61001, NULL));
}

static void test_agent_auth_throttle_table_bounded(void **state)
{
    struct fixture *f = *state;
    char peer[64];

    /* far more peers than the table holds: no growth, no crash */
    for (int i = 0; i < AGENT_AUTH_PEERS_MAX * 4; i++) {
        snprintf(peer, sizeof(peer), "ipv6:[2001:db8::%x]", i);
        for (int k = 0; k < 3; k++)
            agent_auth_fail(f->auth, peer, 5000);
    }
    /* the most recent peer is still throttled */
    assert_true(agent_auth_throttled(f->auth, &f->admin, peer, 5001, NULL));
}

static void test_agent_auth_verify_slots(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < AGENT_AUTH_VERIFY_MAX; i++)
        assert_true(agent_auth_verify_begin(f->auth));
    assert_false(agent_auth_verify_begin(f->auth));
    agent_auth_verify_done(f->auth);
    assert_true(agent_auth_verify_begin(f->auth));
    for (int i = 0; i < AGENT_AUTH_VERIFY_MAX; i++)
        agent_auth_verify_done(f->auth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_auth_bearer_shapes),
        cmocka_unit_test(test_agent_auth_peer_key_drops_port),
        cmocka_unit_test_setup_teardown(test_agent_auth_verify_roles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_cached_expires, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_cached_follows_reload,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_cache_off, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_cache_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_throttled_per_peer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_throttle_table_bounded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_auth_verify_slots, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

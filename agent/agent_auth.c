/*
 * agent_auth.c - AdminService bearer tokens (see agent_auth.h).
 *
 * Two small fixed tables under one mutex, so nothing grows with what
 * clients send:
 *
 *   cache   AGENT_AUTH_CACHE_MAX verified tokens, keyed by
 *           HMAC-SHA256(process key, token); scanned whole with a
 *           constant-time compare; the oldest entry makes room
 *   peers   AGENT_AUTH_PEERS_MAX failure counters in 4-way buckets chosen
 *           by the keyed hash of the peer, so a client cannot aim its
 *           addresses at one bucket; a full bucket evicts its oldest window
 *
 * Argon2id (libargon2) is the slow part and runs outside the mutex.
 */
#include "agent/agent_auth.h"
#include "agent/agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <argon2.h>

#define AGENT_AUTH_WAYS 4
#define AGENT_AUTH_BUCKETS (AGENT_AUTH_PEERS_MAX / AGENT_AUTH_WAYS)

struct agent_auth_entry {
    bool used;
    uint8_t mac[AGENT_SHA256_LEN];     /* HMAC of the token */
    uint8_t phc_sum[AGENT_SHA256_LEN]; /* SHA-256 of the PHC string */
    char name[AGENT_AUTH_NAME_MAX];
    int64_t verified_ms;
};

struct agent_auth_peer {
    bool used;
    uint8_t key[16]; /* keyed hash of the peer key */
    int64_t window_ms;
    uint32_t failures;
};

struct agent_auth {
    pthread_mutex_t mu;
    struct agent_hmac key;
    struct agent_auth_entry cache[AGENT_AUTH_CACHE_MAX];
    struct agent_auth_peer peers[AGENT_AUTH_PEERS_MAX];
    atomic_uint verifying;
};

int agent_auth_new(struct agent_auth **out)
{
    uint8_t key[32];
    struct agent_auth *a;

    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
        return LR_CRYPTO;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        lr_wipe(key, sizeof(key));
        return LR_NOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    agent_hmac_init(&a->key, key, sizeof(key));
    lr_wipe(key, sizeof(key));
    atomic_init(&a->verifying, 0);
    *out = a;
    return LR_OK;
}

void agent_auth_free(struct agent_auth *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    lr_wipe(a, sizeof(*a));
    free(a);
}

/* ---- parsing ------------------------------------------------------------- */

int agent_auth_bearer(const char *value, const char **tok, size_t *len)
{
    const char *p;
    size_t n;

    if (value == NULL || strncasecmp(value, "bearer", 6) != 0 ||
        value[6] != ' ')
        return LR_UNAUTH;
    p = value + 6;
    while (*p == ' ')
        p++;
    n = strlen(p);
    while (n > 0 && p[n - 1] == ' ')
        n--;
    if (n == 0 || n > AGENT_TOKEN_MAX)
        return LR_UNAUTH;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c > 0x7e)
            return LR_UNAUTH;
    }
    *tok = p;
    *len = n;
    return LR_OK;
}

void agent_auth_peer_key(const char *peer, char *out, size_t cap)
{
    const char *colon;
    size_t n;

    if (cap == 0)
        return;
    if (peer == NULL) {
        lr_strlcpy(out, "unknown", cap);
        return;
    }
    n = strlen(peer);
    if (strncmp(peer, "ipv4:", 5) == 0 || strncmp(peer, "ipv6:", 5) == 0) {
        colon = strrchr(peer, ':');
        /* "ipv6:[::1]:5555": the last ':' follows ']' */
        if (colon != NULL && colon > peer + 4 &&
            (peer[3] == '4' || colon[-1] == ']'))
            n = (size_t)(colon - peer);
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, peer, n);
    out[n] = '\0';
}

/* ---- helpers ------------------------------------------------------------- */

static bool agent_ct_equal(const uint8_t *x, const uint8_t *y, size_t n)
{
    volatile uint8_t diff = 0;

    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

static void agent_phc_sum(const char *phc, uint8_t out[AGENT_SHA256_LEN])
{
    struct agent_sha256 c;

    agent_sha256_init(&c);
    agent_sha256_update(&c, phc, strlen(phc));
    agent_sha256_final(&c, out);
}

/* The configured token @p e stands for, or NULL when it is gone. */
static const struct cfg_token *
agent_auth_still_valid(const struct cfg_admin *cfg,
                       const struct agent_auth_entry *e)
{
    uint8_t sum[AGENT_SHA256_LEN];

    for (size_t i = 0; i < cfg->n_tokens; i++) {
        const struct cfg_token *t = &cfg->tokens[i];
        if (t->name == NULL || t->hash == NULL || strcmp(t->name, e->name))
            continue;
        agent_phc_sum(t->hash, sum);
        if (memcmp(sum, e->phc_sum, sizeof(sum)) == 0)
            return t;
    }
    return NULL;
}

static bool agent_entry_fresh(const struct agent_auth_entry *e,
                              const struct cfg_admin *cfg, int64_t now_ms)
{
    return e->used && now_ms >= e->verified_ms &&
           now_ms - e->verified_ms < (int64_t)cfg->auth_cache_s * 1000;
}

/* ---- cache --------------------------------------------------------------- */

int agent_auth_cached(struct agent_auth *a, const struct cfg_admin *cfg,
                      const char *tok, size_t len, int64_t now_ms,
                      struct agent_principal *out)
{
    uint8_t mac[AGENT_SHA256_LEN];
    const struct cfg_token *t = NULL;
    int hit = -1;

    if (cfg->auth_cache_s == 0)
        return LR_NOTFOUND;
    agent_hmac_mac(&a->key, tok, len, mac);
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < AGENT_AUTH_CACHE_MAX; i++) {
        struct agent_auth_entry *e = &a->cache[i];
        bool eq = agent_ct_equal(e->mac, mac, sizeof(mac));
        if (e->used && eq && hit < 0)
            hit = i;
    }
    if (hit >= 0) {
        struct agent_auth_entry *e = &a->cache[hit];
        if (agent_entry_fresh(e, cfg, now_ms))
            t = agent_auth_still_valid(cfg, e);
        if (t == NULL) {
            lr_wipe(e, sizeof(*e)); /* expired or revoked */
        } else {
            lr_strlcpy(out->name, e->name, sizeof(out->name));
            out->role = t->role;
        }
    }
    pthread_mutex_unlock(&a->mu);
    lr_wipe(mac, sizeof(mac));
    return t != NULL ? LR_OK : LR_NOTFOUND;
}

static void agent_auth_remember(struct agent_auth *a, const uint8_t *mac,
                                const struct cfg_token *t, int64_t now_ms)
{
    struct agent_auth_entry *slot = &a->cache[0];

    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < AGENT_AUTH_CACHE_MAX; i++) {
        struct agent_auth_entry *e = &a->cache[i];
        if (e->used && agent_ct_equal(e->mac, mac, AGENT_SHA256_LEN)) {
            slot = e; /* refresh */
            break;
        }
        if (!e->used || (slot->used && e->verified_ms < slot->verified_ms))
            slot = e;
    }
    slot->used = true;
    memcpy(slot->mac, mac, AGENT_SHA256_LEN);
    agent_phc_sum(t->hash, slot->phc_sum);
    lr_strlcpy(slot->name, t->name, sizeof(slot->name));
    slot->verified_ms = now_ms;
    pthread_mutex_unlock(&a->mu);
}

/* ---- throttling ---------------------------------------------------------- */

/* The peer's counter, or a fresh one in its bucket when @p create. */
static struct agent_auth_peer *agent_peer_find(struct agent_auth *a,
                                               const char *peer, bool create)
{
    uint8_t mac[AGENT_SHA256_LEN];
    struct agent_auth_peer *b, *victim;
    uint32_t h;

    agent_hmac_mac(&a->key, peer, strlen(peer), mac);
    memcpy(&h, mac + 16, sizeof(h));
    b = &a->peers[(h % AGENT_AUTH_BUCKETS) * AGENT_AUTH_WAYS];
    victim = &b[0];
    for (int i = 0; i < AGENT_AUTH_WAYS; i++) {
        if (b[i].used && memcmp(b[i].key, mac, sizeof(b[i].key)) == 0)
            return &b[i];
        if (!b[i].used || (victim->used && b[i].window_ms < victim->window_ms))
            victim = &b[i];
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    memcpy(victim->key, mac, sizeof(victim->key));
    return victim;
}

bool agent_auth_throttled(struct agent_auth *a, const struct cfg_admin *cfg,
                          const char *peer, int64_t now_ms, uint32_t *retry_s)
{
    struct agent_auth_peer *p;
    bool throttled = false;
    int64_t left;

    pthread_mutex_lock(&a->mu);
    p = agent_peer_find(a, peer, false);
    if (p != NULL && now_ms - p->window_ms < AGENT_AUTH_WINDOW_MS &&
        p->failures >= cfg->max_failures_per_min) {
        throttled = true;
        left = p->window_ms + AGENT_AUTH_WINDOW_MS - now_ms;
        if (retry_s != NULL)
            *retry_s = (uint32_t)((left + 999) / 1000);
    }
    pthread_mutex_unlock(&a->mu);
    return throttled;
}

void agent_auth_fail(struct agent_auth *a, const char *peer, int64_t now_ms)
{
    struct agent_auth_peer *p;

    pthread_mutex_lock(&a->mu);
    p = agent_peer_find(a, peer, true);
    if (p->failures == 0 || now_ms - p->window_ms >= AGENT_AUTH_WINDOW_MS ||
        now_ms < p->window_ms) {
        p->window_ms = now_ms;
        p->failures = 0;
    }
    if (p->failures < UINT32_MAX)
        p->failures++;
    pthread_mutex_unlock(&a->mu);
}

/* ---- verification -------------------------------------------------------- */

bool agent_auth_verify_begin(struct agent_auth *a)
{
    unsigned n = atomic_fetch_add(&a->verifying, 1);

    if (n < AGENT_AUTH_VERIFY_MAX)
        return true;
    atomic_fetch_sub(&a->verifying, 1);
    return false;
}

void agent_auth_verify_done(struct agent_auth *a)
{
    atomic_fetch_sub(&a->verifying, 1);
}

/* One Argon2id check; broken hashes are logged (config checked shape). */
static int agent_argon2_check(const struct cfg_token *t, const char *tok,
                              size_t len)
{
    int rc = argon2id_verify(t->hash, tok, len);

    if (rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH)
        lr_log(LR_LOG_WARN, "admin token %s: hash cannot be checked: %s",
               t->name, argon2_error_message(rc));
    return rc;
}

int agent_auth_verify(struct agent_auth *a, const struct cfg_admin *cfg,
                      const char *peer, const char *tok, size_t len,
                      int64_t now_ms, struct agent_principal *out)
{
    const struct cfg_token *match = NULL;
    uint8_t mac[AGENT_SHA256_LEN];

    /* every token, whatever matched first: the time tells nothing */
    for (size_t i = 0; i < cfg->n_tokens; i++) {
        const struct cfg_token *t = &cfg->tokens[i];
        bool ok;
        if (t->hash == NULL || t->name == NULL)
            continue;
        ok = agent_argon2_check(t, tok, len) == ARGON2_OK;
        if (ok && match == NULL)
            match = t;
    }
    if (match == NULL) {
        agent_auth_fail(a, peer, now_ms);
        return LR_UNAUTH;
    }
    if (cfg->auth_cache_s > 0) {
        agent_hmac_mac(&a->key, tok, len, mac);
        agent_auth_remember(a, mac, match, now_ms);
        lr_wipe(mac, sizeof(mac));
    }
    lr_strlcpy(out->name, match->name, sizeof(out->name));
    out->role = match->role;
    return LR_OK;
}

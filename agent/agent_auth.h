/*
 * agent_auth.h - bearer tokens for AdminService: verification, the cache of
 * verified tokens and per-peer failure throttling.
 *
 * Shared by agent_admin.c (the handlers) and agent_auth.c; the unit tests
 * link it through agent_core. The split follows the cost of each step:
 *
 *   agent_auth_cached()     HMAC of the token and a scan of a small table:
 *                           microseconds, safe on a completion-queue thread
 *   agent_auth_throttled()  a table lookup, same
 *   agent_auth_verify()     Argon2id against every configured PHC string:
 *                           tens of milliseconds each, only on the
 *                           blocking-work pool
 *
 * Tokens are never kept: the cache holds HMAC-SHA256(process key, token),
 * the key is random per process and wiped at free. A cached entry names its
 * token by name and by a digest of the PHC string it matched, so a reload
 * that removes a token or changes its hash drops it at the next lookup, and
 * a role change takes effect at once.
 *
 * Clocks are the caller's (monotonic milliseconds), so tests move time.
 */
#ifndef LR_AGENT_AUTH_H
#define LR_AGENT_AUTH_H

#include "config/config.h"
#include "lr/lr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_TOKEN_MAX 512        /* bytes of a bearer token */
#define AGENT_AUTH_CACHE_MAX 64    /* verified tokens remembered */
#define AGENT_AUTH_PEERS_MAX 4096  /* peers with recent failures */
#define AGENT_AUTH_VERIFY_MAX 8    /* Argon2 verifications queued or running */
#define AGENT_AUTH_NAME_MAX 65     /* token name (config allows 64) + NUL */
#define AGENT_AUTH_PEER_MAX 128    /* peer key text */
#define AGENT_AUTH_WINDOW_MS 60000 /* failure counting window */

/** Who a verified token belongs to. */
struct agent_principal {
    char name[AGENT_AUTH_NAME_MAX];
    enum cfg_role role;
};

struct agent_auth;

/**
 * A new authenticator with a fresh random cache key. LR_NOMEM, LR_CRYPTO
 * when no randomness is available. Free with agent_auth_free().
 */
LR_WUR int agent_auth_new(struct agent_auth **out);

/** Wipes the key and the cache and frees @p a. NULL is a no-op. */
void agent_auth_free(struct agent_auth *a);

/**
 * Finds the token in an "authorization" metadata value: "Bearer <token>"
 * (scheme case-insensitive, one or more spaces). *@p tok points into
 * @p value. LR_UNAUTH when the value has another shape, an empty token or
 * one longer than AGENT_TOKEN_MAX.
 */
LR_WUR int agent_auth_bearer(const char *value, const char **tok, size_t *len);

/**
 * The throttling key of a gRPC peer: "ipv4:192.0.2.1:5555" and
 * "ipv6:[2001:db8::1]:5555" lose the port (each connection has its own),
 * anything else ("unix:...") is kept as it is. Always NUL-terminated.
 */
void agent_auth_peer_key(const char *peer, char *out, size_t cap);

/**
 * Looks the token up among those verified in the last @p cfg->auth_cache_s
 * seconds. LR_OK with *@p out when it is cached and @p cfg still has a
 * token of that name and PHC string (the role is taken from @p cfg);
 * LR_NOTFOUND otherwise (never cached, expired, revoked, caching off).
 */
LR_WUR int agent_auth_cached(struct agent_auth *a, const struct cfg_admin *cfg,
                             const char *tok, size_t len, int64_t now_ms,
                             struct agent_principal *out);

/**
 * True when @p peer has failed @p cfg->max_failures_per_min times in its
 * current one-minute window; *@p retry_s (may be NULL) then gets the
 * seconds until the window ends.
 */
bool agent_auth_throttled(struct agent_auth *a, const struct cfg_admin *cfg,
                          const char *peer, int64_t now_ms, uint32_t *retry_s);

/** Counts one failed authentication for @p peer. */
void agent_auth_fail(struct agent_auth *a, const char *peer, int64_t now_ms);

/**
 * Takes one of the AGENT_AUTH_VERIFY_MAX verification slots; false when
 * all are taken (the caller refuses with RESOURCE_EXHAUSTED). Give it back
 * with agent_auth_verify_done().
 */
bool agent_auth_verify_begin(struct agent_auth *a);

/** Returns a slot taken by agent_auth_verify_begin(). */
void agent_auth_verify_done(struct agent_auth *a);

/**
 * Checks the token against every token of @p cfg with argon2id_verify(),
 * all of them whatever matches, so the time does not tell which one did.
 * On a match caches it (unless caching is off) and fills *@p out: LR_OK.
 * No match: counts a failure for @p peer and returns LR_UNAUTH. Slow: call
 * it on the blocking-work pool only.
 */
LR_WUR int agent_auth_verify(struct agent_auth *a, const struct cfg_admin *cfg,
                             const char *peer, const char *tok, size_t len,
                             int64_t now_ms, struct agent_principal *out);

#endif

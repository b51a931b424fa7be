/*
 * agent_admin.c - loginrisk.v1.AdminService: the token gate, the method
 * table, LockAccounts, UnlockAccounts and ReloadConfig.
 *
 * Every call passes the same gate before its method runs:
 *
 *   completion-queue thread   read "authorization: Bearer <token>"; a token
 *                             verified recently is recognised from the
 *                             cache (an HMAC, microseconds); otherwise a
 *                             throttled peer is refused and the check is
 *                             queued - never Argon2 on this thread
 *   blocking-work pool        Argon2id against every configured token, the
 *                             role, then the request is decoded, validated
 *                             and the method runs and answers
 *
 * So admin authentication never stalls Evaluate, and the locks (each
 * batch a durable SQLite transaction with its audit row, see store.h) are
 * written off the gRPC threads too. The token is wiped from the call as
 * soon as it has been checked; messages never echo it.
 *
 * Bulk calls are idempotent (store_lock_accounts reports changed 0 for a
 * resent batch), so a client may retry a batch whose answer it lost.
 */
#include "agent/agent_admin.h"
#include "agent/agent_jobs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AGENT_AUTH_VALUE_MAX (AGENT_TOKEN_MAX + 64) /* "Bearer " + token */

static const char *agent_role_name(enum cfg_role role)
{
    return role == CFG_ROLE_RESPONDER ? "responder" : "analyst";
}

static int64_t agent_mono_ms(void)
{
    return lr_mono_ns() / 1000000;
}

/* ---- shared checks and answers ------------------------------------------- */

static int agent_admin_invalid(char *msg, size_t cap, const char *fmt, ...)
    LR_PRINTF(3, 4);

static int agent_admin_invalid(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, cap, fmt, ap) < 0 && cap > 0)
        msg[0] = '\0';
    va_end(ap);
    return LR_INVALID;
}

int agent_admin_check_text(const char *field, const char *s, bool required,
                           char *msg, size_t cap)
{
    size_t len = strlen(s);

    if (required && len == 0)
        return agent_admin_invalid(msg, cap, "%s: required", field);
    if (len > STORE_TEXT_MAX - 1)
        return agent_admin_invalid(msg, cap, "%s: longer than %d bytes", field,
                                   STORE_TEXT_MAX - 1);
    if (!lr_utf8_valid(s, len))
        return agent_admin_invalid(msg, cap, "%s: not valid UTF-8", field);
    return LR_OK;
}

int agent_admin_check_id(const char *field, long index, const char *s,
                         char *msg, size_t cap)
{
    char name[64];
    size_t len = strlen(s);

    if (index >= 0)
        snprintf(name, sizeof(name), "%s[%ld]", field, index);
    else
        lr_strlcpy(name, field, sizeof(name));
    if (len == 0)
        return agent_admin_invalid(msg, cap, "%s: empty account id", name);
    if (len > AGENT_ID_MAX)
        return agent_admin_invalid(msg, cap, "%s: longer than %d bytes", name,
                                   AGENT_ID_MAX);
    if (!lr_utf8_valid(s, len))
        return agent_admin_invalid(msg, cap, "%s: not valid UTF-8", name);
    return LR_OK;
}

void agent_admin_reply_bulk(struct agent_call *call,
                            struct store_bulk_result *res, char *audit_ids)
{
    Loginrisk__V1__BulkResult b = LOGINRISK__V1__BULK_RESULT__INIT;
    char *sample[STORE_SAMPLE_MAX];
    size_t n =
        res->n_sample < STORE_SAMPLE_MAX ? res->n_sample : STORE_SAMPLE_MAX;

    for (size_t i = 0; i < n; i++)
        sample[i] = res->sample[i];
    b.matched = res->matched;
    b.changed = res->changed;
    b.unchanged = res->unchanged;
    b.n_sample = n;
    b.sample = n > 0 ? sample : NULL;
    b.audit_id = audit_ids;
    agent_call_reply(call, &b.base);
}

void agent_admin_fail_store(struct agent_call *call, const char *what, int rc)
{
    if (rc == LR_INVALID) {
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT, "%s: %s", what,
                        lr_strerror(rc));
        return;
    }
    lr_log(LR_LOG_ERROR, "admin: %s failed: %s", what, lr_strerror(rc));
    agent_call_fail(call, agent_status_from_err(rc),
                    "%s failed, nothing changed: %s (see the agent's log)",
                    what, lr_strerror(rc));
}

uint64_t agent_admin_duration(struct agent_state *st, uint64_t duration_s)
{
    struct agent_snapshot *snap;

    if (duration_s != 0)
        return duration_s;
    snap = agent_state_get(st);
    duration_s = snap->cfg->locks.default_duration_s;
    agent_snapshot_put(snap);
    return duration_s;
}

/* ---- LockAccounts / UnlockAccounts --------------------------------------- */

/* The fields LockRequest and UnlockRequest share. */
struct agent_bulk_args {
    bool lock;
    char **ids;
    size_t n;
    const char *reason;
    const char *ticket;
    uint64_t duration_s;
    bool dry_run;
};

static int agent_bulk_check(const struct agent_bulk_args *b, char *msg,
                            size_t cap)
{
    int rc;

    if (b->n == 0)
        return agent_admin_invalid(msg, cap, "account_ids: required");
    if (b->n > STORE_BULK_MAX)
        return agent_admin_invalid(msg, cap,
                                   "account_ids: %zu ids, at most %d per "
                                   "call (send them in batches)",
                                   b->n, STORE_BULK_MAX);
    for (size_t i = 0; i < b->n; i++) {
        rc = agent_admin_check_id("account_ids", (long)i, b->ids[i], msg, cap);
        if (rc)
            return rc;
    }
    rc = agent_admin_check_text("reason", b->reason, true, msg, cap);
    if (rc == LR_OK)
        rc = agent_admin_check_text("ticket", b->ticket, true, msg, cap);
    if (rc == LR_OK && b->duration_s > AGENT_LOCK_DURATION_MAX_S)
        rc = agent_admin_invalid(msg, cap, "duration_s: longer than 100 years");
    return rc;
}

static void agent_bulk_run(struct agent_admin_req *r,
                           const struct agent_bulk_args *b)
{
    struct store_actor who = {
        .actor = r->who.name,
        .reason = b->reason,
        .ticket = b->ticket,
    };
    struct store_bulk_result res;
    char msg[AGENT_STATUS_MSG_MAX];
    char audit[32] = "";
    const char *const *ids = (const char *const *)b->ids;
    int rc;

    if (agent_bulk_check(b, msg, sizeof(msg))) {
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT, "%s", msg);
        return;
    }
    if (b->lock)
        rc = store_lock_accounts(r->st->store, ids, b->n, b->duration_s,
                                 STORE_SCOPE_ALL, &who, b->dry_run, &res);
    else
        rc = store_unlock_accounts(r->st->store, ids, b->n, &who, b->dry_run,
                                   &res);
    if (rc) {
        agent_admin_fail_store(r->call, b->lock ? "lock" : "unlock", rc);
        return;
    }
    if (!b->dry_run)
        agent_metrics_admin(r->st->metrics,
                            b->lock ? AGENT_ADMIN_LOCK : AGENT_ADMIN_UNLOCK,
                            res.changed);
    if (res.audit_id != 0)
        snprintf(audit, sizeof(audit), "%" PRId64, res.audit_id);
    agent_admin_reply_bulk(r->call, &res, audit);
}

static void agent_admin_lock(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__LockRequest *m = (Loginrisk__V1__LockRequest *)msg;
    struct agent_bulk_args b = {
        .lock = true,
        .ids = m->account_ids,
        .n = m->n_account_ids,
        .reason = m->reason,
        .ticket = m->ticket,
        .duration_s = agent_admin_duration(r->st, m->duration_s),
        .dry_run = m->dry_run,
    };

    agent_bulk_run(r, &b);
}

static void agent_admin_unlock(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__UnlockRequest *m = (Loginrisk__V1__UnlockRequest *)msg;
    struct agent_bulk_args b = {
        .lock = false,
        .ids = m->account_ids,
        .n = m->n_account_ids,
        .reason = m->reason,
        .ticket = m->ticket,
        .dry_run = m->dry_run,
    };

    agent_bulk_run(r, &b);
}

/* ---- ReloadConfig -------------------------------------------------------- */

char *agent_admin_text(struct agent_call *call, const char *s, size_t max)
{
    static char empty[1];
    size_t len = strnlen(s, max);
    char *out = agent_call_alloc(call, len + 1);

    if (out == NULL)
        return empty;
    memcpy(out, s, len);
    out[len] = '\0';
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (k <= 4 && i + k <= len && !lr_utf8_valid(out + i, k))
            k++;
        if (k > 4 || i + k > len) {
            out[i] = '?';
            k = 1;
        }
        i += k;
    }
    return out;
}

static void agent_reload_audit(struct agent_admin_req *r, int rc,
                               const struct cfg_errors *errs,
                               const char *version)
{
    char reason[STORE_TEXT_MAX];
    struct store_actor who = {.actor = r->who.name, .reason = reason};
    int64_t id = 0;
    char *fixed;

    if (rc == LR_OK)
        snprintf(reason, sizeof(reason), "policy %s", version);
    else
        snprintf(reason, sizeof(reason), "refused: %s",
                 errs->n > 0 ? errs->msgs[0] : lr_strerror(rc));
    fixed = agent_admin_text(r->call, reason, sizeof(reason) - 1);
    who.reason = fixed;
    if (store_audit_add(r->st->store, &who, "reload", 1, rc == LR_OK ? 1 : 0,
                        &id) != LR_OK)
        lr_log(LR_LOG_ERROR, "admin: reload by %s: audit row not written",
               r->who.name);
}

static void agent_admin_reload(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__ReloadConfigRequest *m =
        (Loginrisk__V1__ReloadConfigRequest *)msg;
    Loginrisk__V1__ReloadConfigResponse resp =
        LOGINRISK__V1__RELOAD_CONFIG_RESPONSE__INIT;
    struct cfg_errors errs = {0};
    struct agent_snapshot *snap;
    char version[RISK_VERSION_MAX];
    char *errv[CFG_ERRORS_MAX + 1];
    int rc;

    rc = agent_state_reload(r->st, m->dry_run, &errs);
    snap = agent_state_get(r->st);
    lr_strlcpy(version,
               snap->cfg->policy_version ? snap->cfg->policy_version : "",
               sizeof(version));
    agent_snapshot_put(snap);
    for (size_t i = 0; i < errs.n && resp.n_errors < CFG_ERRORS_MAX; i++)
        errv[resp.n_errors++] = agent_admin_text(r->call, errs.msgs[i], 1024);
    if (rc && resp.n_errors == 0)
        errv[resp.n_errors++] = agent_admin_text(r->call, lr_strerror(rc), 256);
    lr_log(rc ? LR_LOG_WARN : LR_LOG_INFO, "admin: %sreload by %s: %s%s",
           m->dry_run ? "dry-run " : "", r->who.name,
           rc ? "refused: " : "ok, policy ", rc ? lr_strerror(rc) : version);
    if (!m->dry_run)
        agent_reload_audit(r, rc, &errs, version);
    if (!m->dry_run && rc == LR_OK)
        agent_metrics_admin(r->st->metrics, AGENT_ADMIN_RELOAD, 0);
    resp.applied = !m->dry_run && rc == LR_OK;
    resp.policy_version = agent_admin_text(r->call, version, sizeof(version));
    resp.errors = resp.n_errors > 0 ? errv : NULL;
    agent_call_reply(r->call, &resp.base);
    cfg_errors_clear(&errs);
}

/* ---- the gate ------------------------------------------------------------ */

static void agent_admin_forget(struct agent_admin_req *r)
{
    lr_wipe(r->token, sizeof(r->token));
    r->token_len = 0;
    if (r->has_slot) {
        agent_auth_verify_done(r->st->auth);
        r->has_slot = false;
    }
}

/* Pool thread: Argon2 unless the cache vouched. Fails the call itself. */
static int agent_admin_authenticate(struct agent_admin_req *r)
{
    struct agent_snapshot *snap;
    int rc = LR_OK;

    if (!r->authed) {
        snap = agent_state_get(r->st);
        rc =
            agent_auth_verify(r->st->auth, &snap->cfg->admin, r->peer, r->token,
                              r->token_len, agent_mono_ms(), &r->who);
        agent_snapshot_put(snap);
    }
    agent_admin_forget(r);
    if (rc) {
        lr_log(LR_LOG_WARN, "admin: %s from %s refused: token not accepted",
               r->op->name, r->peer);
        agent_call_fail(r->call, AGENT_ST_UNAUTHENTICATED,
                        "authorization: token not accepted");
        return rc;
    }
    if (r->op->responder && r->who.role != CFG_ROLE_RESPONDER) {
        lr_log(LR_LOG_WARN, "admin: %s by %s (%s) refused: role", r->op->name,
               r->who.name, agent_role_name(r->who.role));
        agent_call_fail(r->call, AGENT_ST_PERMISSION_DENIED,
                        "%s needs the responder role; token \"%s\" has the "
                        "%s role",
                        r->op->name, r->who.name, agent_role_name(r->who.role));
        return LR_DENIED;
    }
    return LR_OK;
}

static ProtobufCMessage *agent_admin_decode(struct agent_admin_req *r)
{
    char msg[AGENT_STATUS_MSG_MAX];
    ProtobufCMessage *m;

    if (agent_validate_wire_strings(r->op->desc, r->data, r->len, msg,
                                    sizeof(msg))) {
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT, "%s", msg);
        return NULL;
    }
    m = protobuf_c_message_unpack(r->op->desc, agent_call_pb_allocator(r->call),
                                  r->len, r->data);
    if (m == NULL)
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT,
                        "request: not a valid %s", r->op->desc->name);
    return m;
}

static void agent_admin_job(void *arg)
{
    struct agent_admin_req *r = arg;
    ProtobufCMessage *m;

    if (agent_call_expired(r->call)) {
        agent_admin_forget(r);
        agent_call_fail(r->call, AGENT_ST_DEADLINE_EXCEEDED,
                        "deadline passed before the call was handled");
        return;
    }
    if (agent_admin_authenticate(r))
        return;
    m = agent_admin_decode(r);
    if (m != NULL)
        r->op->run(r, m);
}

/* Copies the bearer token out of the metadata. LR_NOTFOUND when absent. */
static int agent_admin_token(struct agent_admin_req *r)
{
    char value[AGENT_AUTH_VALUE_MAX];
    const char *tok = NULL;
    size_t len = 0;
    int rc;

    rc = agent_call_metadata(r->call, "authorization", value, sizeof(value));
    if (rc == LR_FULL)
        rc = LR_UNAUTH;
    if (rc == LR_OK)
        rc = agent_auth_bearer(value, &tok, &len);
    if (rc == LR_OK) {
        memcpy(r->token, tok, len);
        r->token[len] = '\0';
        r->token_len = len;
    }
    lr_wipe(value, sizeof(value));
    return rc;
}

/*
 * Completion-queue thread: everything cheap. Returns LR_OK when the request
 * may go to the pool; otherwise the call has been failed.
 */
static int agent_admin_admit(struct agent_admin_req *r)
{
    struct agent_auth *auth = r->st->auth;
    struct agent_snapshot *snap = agent_state_get(r->st);
    const struct cfg_admin *cfg = &snap->cfg->admin;
    int64_t now = agent_mono_ms();
    uint32_t retry = 0;
    int rc = agent_admin_token(r);

    if (rc == LR_NOTFOUND) {
        agent_call_fail(r->call, AGENT_ST_UNAUTHENTICATED,
                        "authorization: missing; send \"authorization: "
                        "Bearer <token>\" metadata");
    } else if (rc) {
        agent_call_fail(r->call, AGENT_ST_UNAUTHENTICATED,
                        "authorization: not \"Bearer <token>\"");
    } else if (agent_auth_cached(auth, cfg, r->token, r->token_len, now,
                                 &r->who) == LR_OK) {
        r->authed = true;
    } else if (agent_auth_throttled(auth, cfg, r->peer, now, &retry)) {
        rc = LR_BUSY;
        agent_call_fail(r->call, AGENT_ST_RESOURCE_EXHAUSTED,
                        "authentication throttled: too many rejected tokens "
                        "from this address; retry in %" PRIu32 " s",
                        retry);
    } else if (!agent_auth_verify_begin(auth)) {
        rc = LR_BUSY;
        agent_call_fail(r->call, AGENT_ST_RESOURCE_EXHAUSTED,
                        "authentication busy: too many token checks in "
                        "progress; retry shortly");
    } else {
        r->has_slot = true;
    }
    agent_snapshot_put(snap);
    if (rc)
        agent_admin_forget(r);
    return rc;
}

static void agent_admin_handle(struct agent_call *call, struct agent_state *st,
                               const struct agent_admin_op *op)
{
    struct agent_admin_req *r = agent_call_alloc(call, sizeof(*r));
    char peer[AGENT_AUTH_PEER_MAX * 2];
    int rc;

    if (r == NULL) {
        agent_call_fail(call, AGENT_ST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    memset(r, 0, sizeof(*r));
    r->st = st;
    r->call = call;
    r->op = op;
    agent_call_request(call, &r->data, &r->len);
    agent_call_peer(call, peer, sizeof(peer));
    agent_auth_peer_key(peer, r->peer, sizeof(r->peer));
    if (agent_admin_admit(r))
        return;
    rc = agent_jobs_submit(st->jobs, agent_admin_job, r);
    if (rc) {
        agent_admin_forget(r);
        agent_call_fail(call, agent_status_from_err(rc),
                        "admin work queue: %s; retry shortly", lr_strerror(rc));
    }
}

/* ---- method table -------------------------------------------------------- */

static const struct agent_admin_op agent_op_lock = {
    "LockAccounts", &loginrisk__v1__lock_request__descriptor, true,
    agent_admin_lock};
static const struct agent_admin_op agent_op_unlock = {
    "UnlockAccounts", &loginrisk__v1__unlock_request__descriptor, true,
    agent_admin_unlock};
static const struct agent_admin_op agent_op_query = {
    "LockByQuery", &loginrisk__v1__lock_by_query_request__descriptor, true,
    agent_admin_lock_by_query};
static const struct agent_admin_op agent_op_account = {
    "GetAccount", &loginrisk__v1__get_account_request__descriptor, false,
    agent_admin_get_account};
static const struct agent_admin_op agent_op_locks = {
    "ListLocks", &loginrisk__v1__list_locks_request__descriptor, false,
    agent_admin_list_locks};
static const struct agent_admin_op agent_op_reload = {
    "ReloadConfig", &loginrisk__v1__reload_config_request__descriptor, false,
    agent_admin_reload};
static const struct agent_admin_op agent_op_audit = {
    "ListAudit", &loginrisk__v1__list_audit_request__descriptor, false,
    agent_admin_list_audit};

#define AGENT_ADMIN_HANDLER(fn, op)                                            \
    static void fn(struct agent_call *call, void *ctx)                         \
    {                                                                          \
        agent_admin_handle(call, ctx, &op);                                    \
    }

AGENT_ADMIN_HANDLER(agent_h_lock, agent_op_lock)
AGENT_ADMIN_HANDLER(agent_h_unlock, agent_op_unlock)
AGENT_ADMIN_HANDLER(agent_h_query, agent_op_query)
AGENT_ADMIN_HANDLER(agent_h_account, agent_op_account)
AGENT_ADMIN_HANDLER(agent_h_locks, agent_op_locks)
AGENT_ADMIN_HANDLER(agent_h_reload, agent_op_reload)
AGENT_ADMIN_HANDLER(agent_h_audit, agent_op_audit)

#define AGENT_ADMIN(m, h)                                                      \
    {                                                                          \
        .path = "/loginrisk.v1.AdminService/" m, .service = CFG_SVC_ADMIN,     \
        .handler = h, .posted = 1, .bulk = true,                               \
    }

static const struct agent_method agent_admin_table[] = {
    AGENT_ADMIN("LockAccounts", agent_h_lock),
    AGENT_ADMIN("UnlockAccounts", agent_h_unlock),
    AGENT_ADMIN("LockByQuery", agent_h_query),
    AGENT_ADMIN("GetAccount", agent_h_account),
    AGENT_ADMIN("ListLocks", agent_h_locks),
    AGENT_ADMIN("ReloadConfig", agent_h_reload),
    AGENT_ADMIN("ListAudit", agent_h_audit),
};

size_t agent_admin_methods(const struct agent_method **out)
{
    *out = agent_admin_table;
    return LR_ARRAY_LEN(agent_admin_table);
}

/*
 * agent_admin.h - internals shared by the AdminService files.
 *
 *   agent_admin.c        the token gate, the method table, LockAccounts,
 *                        UnlockAccounts, ReloadConfig
 *   agent_admin_query.c  LockByQuery
 *   agent_admin_read.c   GetAccount, ListLocks, ListAudit
 *
 * Every admin call goes through the same gate (agent_admin.c): the token is
 * checked (from the cache on the completion-queue thread, else with Argon2id
 * on the blocking-work pool), the role is checked, and only then is the
 * request decoded and the method's run function called - on the pool
 * thread, which finishes the call. Nothing here runs on a gRPC thread.
 */
#ifndef LR_AGENT_ADMIN_H
#define LR_AGENT_ADMIN_H

#include "agent/agent.h"
#include "agent/agent_auth.h"

/* Hard caps of the admin requests. */
#define AGENT_QUERY_ACCOUNTS_MAX 1000000 /* accounts one LockByQuery locks */
#define AGENT_CIDR_TEXT_MAX 64           /* bytes of one CIDR */
#define AGENT_LOGINS_DEFAULT 20          /* GetAccount recent logins */
#define AGENT_LOGINS_MAX 200
#define AGENT_PAGE_DEFAULT 100 /* ListLocks */
#define AGENT_PAGE_MAX 1000
#define AGENT_AUDIT_DEFAULT 20 /* ListAudit */
#define AGENT_AUDIT_MAX 1000
#define AGENT_LOCK_DURATION_MAX_S (100ull * 365 * 86400)

struct agent_admin_op;

/** One admin call from arrival to its answer; lives in the call's arena. */
struct agent_admin_req {
    struct agent_state *st;
    struct agent_call *call;
    const struct agent_admin_op *op;
    char peer[AGENT_AUTH_PEER_MAX];
    char token[AGENT_TOKEN_MAX + 1]; /* wiped once checked */
    size_t token_len;
    bool authed;   /* the cache vouched for the token */
    bool has_slot; /* holds a verification slot */
    struct agent_principal who;
    const uint8_t *data; /* the request bytes */
    size_t len;
};

/** A method of the service: its request type, its role and its work. */
struct agent_admin_op {
    const char *name;                       /* "LockAccounts" */
    const ProtobufCMessageDescriptor *desc; /* request type */
    bool responder;                         /* needs the responder role */
    void (*run)(struct agent_admin_req *r, ProtobufCMessage *msg);
};

/**
 * Checks a required text field (reason, ticket): non-empty, at most 256
 * bytes, UTF-8. LR_INVALID with "field: ..." in @p msg.
 */
LR_WUR int agent_admin_check_text(const char *field, const char *s,
                                  bool required, char *msg, size_t cap);

/**
 * Checks one account id the way Evaluate checks account_id; @p index >= 0
 * names the element ("account_ids[17]: ..."), -1 a single field.
 */
LR_WUR int agent_admin_check_id(const char *field, long index, const char *s,
                                char *msg, size_t cap);

/**
 * The lock duration to apply: @p duration_s, or locks.default_duration_s of
 * the running config when the request says 0 (which is itself 0, "until
 * unlocked", unless configured).
 */
uint64_t agent_admin_duration(struct agent_state *st, uint64_t duration_s);

/** Answers with a BulkResult built from @p res; @p audit_ids may be "". */
void agent_admin_reply_bulk(struct agent_call *call,
                            struct store_bulk_result *res, char *audit_ids);

/** Answers a failed store call: INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ... */
void agent_admin_fail_store(struct agent_call *call, const char *what, int rc);

/**
 * A copy of @p s (at most @p max bytes) in the call's arena, with bytes that
 * are not UTF-8 replaced by '?' (strict clients refuse a whole message for
 * one bad string). "" when the arena is exhausted, never NULL.
 */
char *agent_admin_text(struct agent_call *call, const char *s, size_t max);

/* Run functions of the methods outside agent_admin.c. */
void agent_admin_lock_by_query(struct agent_admin_req *r,
                               ProtobufCMessage *msg);
void agent_admin_get_account(struct agent_admin_req *r, ProtobufCMessage *msg);
void agent_admin_list_locks(struct agent_admin_req *r, ProtobufCMessage *msg);
void agent_admin_list_audit(struct agent_admin_req *r, ProtobufCMessage *msg);

#endif

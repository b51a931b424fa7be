/*
 * risk_outcome.c - ReportOutcome: what the caller learned after a decision.
 *
 * Joined to its Evaluate through the recent-decision table (R-OUT-1):
 *  - CHALLENGE_PASSED, CONFIRMED_LEGITIMATE: the owner proved themselves;
 *    the account's failure counters are cleared and the login is learned
 *    (device and place become familiar) when its password was valid or not
 *    yet checked (a pre-check followed by 2FA).
 *  - CAPTCHA_PASSED: a human, not necessarily the owner; the login is
 *    learned only when its password was valid. Failures stay.
 *  - CHALLENGE_FAILED, CAPTCHA_FAILED: count as failed logins for the
 *    account and the IP.
 *  - CONFIRMED_FRAUD: marks the IP and device (FRAUD_IP, FRAUD_DEVICE for
 *    30 days), forgets the device as known, and locks the account when
 *    locks.lock_on_confirmed_fraud (actor "auto:CONFIRMED_FRAUD", scope
 *    locks.auto_scope, duration locks.auto_duration_s).
 * A decision that answered ACTION_LOCK is not learned from a passed
 * challenge or captcha: the caller should not have challenged it; only an
 * analyst's CONFIRMED_LEGITIMATE overrides that.
 * Each kind applies once per request: a resent outcome reports applied=false.
 */
#include "risk/risk_internal.h"

#include <string.h>

static bool learns(enum lr_outcome kind, const struct risk_recent_rec *rec)
{
    bool valid = rec->credential == LR_CRED_VALID;
    bool precheck = rec->credential == LR_CRED_UNSPECIFIED;

    switch (kind) {
    case LR_OUTCOME_CONFIRMED_LEGITIMATE:
        return valid || precheck;
    case LR_OUTCOME_CHALLENGE_PASSED:
        return (valid || precheck) && rec->action != LR_ACTION_LOCK;
    case LR_OUTCOME_CAPTCHA_PASSED:
        return valid && rec->action != LR_ACTION_LOCK;
    default:
        return false;
    }
}

static int outcome_passed(struct risk_engine *e, const struct risk_policy *p,
                          const struct risk_recent_rec *rec,
                          enum lr_outcome kind)
{
    struct risk_pkey pk;
    struct risk_keys k;

    if (kind != LR_OUTCOME_CAPTCHA_PASSED) {
        risk_keys_make(e->seed, &rec->ip, rec->account_id, rec->device_id, &k);
        pthread_mutex_lock(&e->vt[RISK_VT_ACCOUNT].mu);
        risk_vtable_clear_failures_id(e->vt[RISK_VT_ACCOUNT].t, &k.acct);
        pthread_mutex_unlock(&e->vt[RISK_VT_ACCOUNT].mu);
    }
    if (!learns(kind, rec))
        return LR_OK;
    /* Learned at the decision's time: that is where and when the login
     * happened; the outcome's own time only says when it was reported. */
    risk_pkey_make(e->profiles, rec->account_id, rec->device_id, &pk);
    return risk_profile_learn(e, p, &pk, &rec->place, rec->ts_ms);
}

static int outcome_failed(struct risk_engine *e,
                          const struct risk_recent_rec *rec, int64_t now_ms)
{
    struct risk_vcounts vc;
    struct risk_keys k;
    int rc;

    risk_keys_make(e->seed, &rec->ip, rec->account_id, rec->device_id, &k);
    rc = risk_vt_hit(e, RISK_VT_ACCOUNT, &k.acct, now_ms, true, k.ip_h, 0, &vc);
    if (rc == LR_OK)
        rc = risk_vt_hit(e, RISK_VT_IP, &k.ip, now_ms, true, k.acct_h, 0, &vc);
    return rc;
}

static int outcome_fraud(struct risk_engine *e, const struct risk_policy *p,
                         const struct risk_recent_rec *rec,
                         const char *request_id, int64_t now_ms)
{
    struct risk_vcounts vc;
    struct risk_vid mark;
    struct risk_keys k;
    int rc;

    risk_keys_make(e->seed, &rec->ip, rec->account_id, rec->device_id, &k);
    risk_vid_of_mark(k.ip_h, &mark);
    rc = risk_vt_hit(e, RISK_VT_FRAUD, &mark, now_ms, false, 0, 0, &vc);
    if (rc == LR_OK && k.has_dev) {
        risk_vid_of_mark(k.dev_h, &mark);
        rc = risk_vt_hit(e, RISK_VT_FRAUD, &mark, now_ms, false, 0, 0, &vc);
    }
    if (rc == LR_OK)
        rc = risk_profile_forget_device(e, p, rec->account_id, rec->device_id);
    if (rc == LR_OK && p->cfg->locks.lock_on_confirmed_fraud)
        rc = risk_auto_lock(e, p, rec->account_id, "auto:CONFIRMED_FRAUD",
                            "confirmed fraud", request_id, now_ms);
    return rc;
}

static int outcome_apply(struct risk_engine *e, const struct risk_policy *p,
                         const struct risk_recent_rec *rec,
                         const char *request_id, enum lr_outcome kind,
                         int64_t now_ms)
{
    switch (kind) {
    case LR_OUTCOME_CHALLENGE_PASSED:
    case LR_OUTCOME_CAPTCHA_PASSED:
    case LR_OUTCOME_CONFIRMED_LEGITIMATE:
        return outcome_passed(e, p, rec, kind);
    case LR_OUTCOME_CHALLENGE_FAILED:
    case LR_OUTCOME_CAPTCHA_FAILED:
        return outcome_failed(e, rec, now_ms);
    case LR_OUTCOME_CONFIRMED_FRAUD:
        return outcome_fraud(e, p, rec, request_id, now_ms);
    default:
        return LR_INVALID;
    }
}

int risk_report_outcome(struct risk_engine *e, const char *request_id,
                        const char *account_id, enum lr_outcome kind,
                        int64_t timestamp_ms, bool *applied)
{
    struct risk_recent_rec rec;
    struct risk_policy *p;
    bool first = false;
    int64_t now;
    int rc;

    if (!e || !request_id || !account_id || !applied)
        return LR_INVALID;
    if (kind < LR_OUTCOME_CHALLENGE_PASSED || kind > LR_OUTCOME_CONFIRMED_FRAUD)
        return LR_INVALID;
    rc = risk_recent_claim(e->recent, request_id, account_id, kind, &rec,
                           &first);
    if (rc)
        return rc;
    if (!first) {
        *applied = false;
        return LR_OK;
    }
    now = timestamp_ms > 0 ? timestamp_ms : rec.ts_ms;
    p = risk_policy_acquire(e);
    rc = outcome_apply(e, p, &rec, request_id, kind, now);
    risk_policy_release(e, p);
    if (rc) {
        risk_recent_unclaim(e->recent, request_id, kind);
        return rc;
    }
    *applied = true;
    return LR_OK;
}

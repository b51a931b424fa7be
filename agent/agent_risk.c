/*
 * agent_risk.c - loginrisk.v1.RiskService: Evaluate and ReportOutcome.
 *
 * Each handler decodes the request into the call's arena, refuses anything
 * invalid with INVALID_ARGUMENT naming the field, calls the engine and
 * encodes the answer from stack storage.
 *
 * A failed password arrives with CREDENTIAL_INVALID. The attempt is
 * evaluated and answered at once, without the password's fingerprint: the
 * password and a copy of the attempt (ids, address, time; nothing in the
 * call's arena) go to the spray pool's preallocated job slot, and every copy
 * the agent holds is wiped before the answer is sent. When the pool has run
 * Argon2id (about 0.5 ms at the default cost, on low-priority threads), its
 * thread hands the fingerprint to risk_note_fingerprint(): the fingerprint
 * then counts for later attempts and marks its sources when it is sprayed
 * (docs/signals.md, R-SPRAY-1), with no second decision and no second reply.
 * Waiting for it would put Argon2 and its queue on every failed login's
 * latency, for a credential that failed anyway. When the pool is full the
 * fingerprint is skipped (and counted), so a burst of failed passwords never
 * queues without bound.
 */
#include "agent/agent.h"
#include "agent/agent_jobs.h"

#include <stdio.h>
#include <string.h>

#include "loginrisk/v1/risk.pb-c.h"

_Static_assert((int)LR_ACTION_LOCK == (int)LOGINRISK__V1__ACTION__ACTION_LOCK &&
                   (int)LR_ACTION_ALLOW ==
                       (int)LOGINRISK__V1__ACTION__ACTION_ALLOW,
               "lr_action must match loginrisk.v1.Action");
_Static_assert((int)LR_OUTCOME_CONFIRMED_FRAUD ==
                   (int)LOGINRISK__V1__OUTCOME_KIND__OUTCOME_CONFIRMED_FRAUD,
               "lr_outcome must match loginrisk.v1.OutcomeKind");
_Static_assert(
    (int)LR_CRED_UNKNOWN_ACCOUNT ==
        (int)LOGINRISK__V1__CREDENTIAL_RESULT__CREDENTIAL_UNKNOWN_ACCOUNT,
    "lr_credential must match loginrisk.v1.CredentialResult");

/* One Evaluate in progress, on the handler's stack: it is answered before
 * the handler returns (the spray pool takes its own copy of the attempt). */
struct agent_eval {
    struct agent_state *st;
    struct agent_call *call;
    struct risk_attempt a;
    char request_id[RISK_REQUEST_ID_MAX];
};

/* ---- decision -> protobuf ------------------------------------------------ */

/*
 * Engine strings are cut to fixed sizes and geo names come from a database
 * file; a cut inside a UTF-8 sequence would make strict clients (Python)
 * refuse the whole message, so invalid bytes become '?'.
 */
static char *agent_utf8_fix(char *s, size_t cap)
{
    size_t len;

    s[cap - 1] = '\0';
    len = strlen(s);
    if (lr_utf8_valid(s, len))
        return s;
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (k <= 4 && i + k <= len && !lr_utf8_valid(s + i, k))
            k++;
        if (k > 4 || i + k > len) {
            s[i] = '?';
            k = 1;
        }
        i += k;
    }
    return s;
}

static void agent_geo_to_pb(struct geo_info *g, Loginrisk__V1__GeoInfo *pb)
{
    Loginrisk__V1__GeoInfo init = LOGINRISK__V1__GEO_INFO__INIT;

    *pb = init;
    pb->country = agent_utf8_fix(g->country, sizeof(g->country));
    pb->city = agent_utf8_fix(g->city, sizeof(g->city));
    pb->as_org = agent_utf8_fix(g->as_org, sizeof(g->as_org));
    pb->has_location = g->has_location;
    if (g->has_location) {
        pb->latitude = g->latitude;
        pb->longitude = g->longitude;
    }
    pb->accuracy_radius_km = g->accuracy_radius_km;
    pb->asn = g->asn;
    pb->is_anonymous = g->is_anonymous;
    pb->is_hosting = g->is_hosting;
    pb->is_tor = g->is_tor;
}

void agent_decision_to_pb(struct risk_decision *d, struct agent_decision_pb *pb)
{
    Loginrisk__V1__Decision init = LOGINRISK__V1__DECISION__INIT;
    Loginrisk__V1__Reason rinit = LOGINRISK__V1__REASON__INIT;
    size_t n =
        d->n_reasons < RISK_REASONS_MAX ? d->n_reasons : RISK_REASONS_MAX;

    pb->msg = init;
    pb->msg.request_id = agent_utf8_fix(d->request_id, sizeof(d->request_id));
    pb->msg.action = (Loginrisk__V1__Action)d->action;
    pb->msg.score = d->score < 0     ? 0
                    : d->score > 100 ? 100
                                     : (uint32_t)d->score;
    pb->msg.policy_version =
        agent_utf8_fix(d->policy_version, sizeof(d->policy_version));
    agent_geo_to_pb(&d->geo, &pb->geo);
    pb->msg.geo = &pb->geo;
    for (size_t i = 0; i < n; i++) {
        struct risk_reason *r = &d->reasons[i];
        pb->reasons[i] = rinit;
        pb->reasons[i].code = agent_utf8_fix(r->code, sizeof(r->code));
        pb->reasons[i].points = r->points;
        pb->reasons[i].detail = agent_utf8_fix(r->detail, sizeof(r->detail));
        lr_strlcpy(pb->rule_ids[i], r->rule_id != NULL ? r->rule_id : "",
                   sizeof(pb->rule_ids[i]));
        pb->reasons[i].rule_id = pb->rule_ids[i];
        pb->ptrs[i] = &pb->reasons[i];
    }
    pb->msg.n_reasons = n;
    pb->msg.reasons = n > 0 ? pb->ptrs : NULL;
}

/* ---- Evaluate ------------------------------------------------------------ */

/*
 * Runs on a spray pool thread once the fingerprint is ready, after the call
 * was answered (and maybe freed): @p a is the job's own copy, @p arg the
 * agent's state, which outlives the pool (agent_state_free() frees the pool
 * before the engine).
 */
static void agent_spray_done(const uint8_t *fp, const struct risk_attempt *a,
                             void *arg)
{
    struct agent_state *st = arg;
    int rc;

    if (fp == NULL || a == NULL) {
        atomic_fetch_add(&st->spray_failed, 1);
        return;
    }
    rc = risk_note_fingerprint(st->engine, a, fp);
    if (rc) {
        lr_log(LR_LOG_WARN, "spray: counting the fingerprint of %s failed: %s",
               a->request_id, lr_strerror(rc));
        atomic_fetch_add(&st->spray_failed, 1);
    }
}

/*
 * Hands the password and a copy of the attempt to the spray pool (which
 * keeps no pointer into the call) and wipes the agent's copies. Called after
 * the evaluation, so the attempt's own fingerprint never races its answer:
 * it counts for later attempts only.
 */
static void agent_eval_spray(struct agent_eval *ev,
                             Loginrisk__V1__LoginAttempt *m, bool spray_on)
{
    ProtobufCBinaryData *pw = &m->attempted_password;
    int rc = LR_SHUTDOWN;

    if (spray_on)
        rc = risk_spray_submit(ev->st->spray, pw->data, pw->len, &ev->a,
                               agent_spray_done, ev->st);
    lr_wipe(pw->data, pw->len);
    agent_call_wipe_request(ev->call);
    if (rc == LR_BUSY)
        atomic_fetch_add(&ev->st->spray_skipped, 1);
    else if (rc != LR_OK && spray_on)
        atomic_fetch_add(&ev->st->spray_failed, 1);
}

/*
 * Evaluates and answers. A password is handed to the spray pool (or only
 * wiped, when the attempt was not evaluated) before the answer goes out:
 * the call's memory is not touched after agent_call_reply().
 */
static void agent_eval_finish(struct agent_eval *ev,
                              Loginrisk__V1__LoginAttempt *m, bool spray_on)
{
    struct risk_decision d;
    struct agent_decision_pb pb;
    bool has_pw = m->attempted_password.len > 0;
    int rc;

    if (agent_call_expired(ev->call)) {
        if (has_pw)
            agent_eval_spray(ev, m, false);
        agent_call_fail(ev->call, AGENT_ST_DEADLINE_EXCEEDED,
                        "deadline passed before the evaluation");
        return;
    }
    rc = risk_evaluate(ev->st->engine, &ev->a, &d);
    if (has_pw)
        agent_eval_spray(ev, m, spray_on && rc == LR_OK);
    if (rc) {
        lr_log(LR_LOG_WARN, "evaluate %s failed: %s", ev->request_id,
               lr_strerror(rc));
        agent_call_fail(ev->call, agent_status_from_err(rc),
                        "evaluation failed: %s", lr_strerror(rc));
        return;
    }
    /* counters and the log line before the strings are fixed for the wire;
     * neither blocks (atomics; a bounded queue to the log's writer) */
    agent_metrics_decision(ev->st->metrics, &d);
    agent_declog_write(ev->st->declog, &ev->a, &d);
    agent_decision_to_pb(&d, &pb);
    agent_call_reply(ev->call, &pb.msg.base);
}

static void agent_eval_fill(struct agent_eval *ev,
                            const Loginrisk__V1__LoginAttempt *m,
                            const struct agent_attempt_check *chk)
{
    if (m->request_id[0] == '\0')
        agent_request_id_new(ev->st, ev->request_id, sizeof(ev->request_id));
    else
        lr_strlcpy(ev->request_id, m->request_id, sizeof(ev->request_id));
    ev->a.request_id = ev->request_id;
    ev->a.account_id = m->account_id;
    ev->a.ip = chk->ip;
    ev->a.device_id = m->device_id;
    ev->a.user_agent = m->user_agent;
    ev->a.timestamp_ms = chk->timestamp_ms;
    ev->a.credential = (enum lr_credential)m->credential;
    ev->a.fingerprint = NULL;
}

/* The time window from the current config. */
static void agent_limits(struct agent_state *st, struct agent_time_limits *lim,
                         bool *spray_on)
{
    struct agent_snapshot *snap = agent_state_get(st);

    lim->now_ms = lr_now_ms();
    lim->past_s = snap->cfg->timestamp_past_s;
    lim->future_s = snap->cfg->timestamp_future_s;
    if (spray_on != NULL)
        *spray_on = snap->cfg->spray.enabled && st->spray != NULL;
    agent_snapshot_put(snap);
}

static void agent_evaluate(struct agent_call *call, void *ctx)
{
    struct agent_state *st = ctx;
    Loginrisk__V1__LoginAttempt *m;
    struct agent_attempt_check chk;
    struct agent_time_limits lim;
    struct agent_eval ev;
    char msg[AGENT_STATUS_MSG_MAX];
    const uint8_t *data;
    size_t len;
    bool spray_on;

    agent_call_request(call, &data, &len);
    m = loginrisk__v1__login_attempt__unpack(agent_call_pb_allocator(call), len,
                                             data);
    if (m == NULL) {
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT,
                        "request: not a valid loginrisk.v1.LoginAttempt");
        return;
    }
    agent_limits(st, &lim, &spray_on);
    if (agent_validate_wire_strings(&loginrisk__v1__login_attempt__descriptor,
                                    data, len, msg, sizeof(msg)) ||
        agent_validate_attempt(m, &lim, &chk, msg, sizeof(msg))) {
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT, "%s", msg);
        return;
    }
    ev.st = st;
    ev.call = call;
    agent_eval_fill(&ev, m, &chk);
    agent_eval_finish(&ev, m, spray_on);
}

/* ---- ReportOutcome ------------------------------------------------------- */

static void agent_outcome_done(struct agent_call *call, char *request_id,
                               int rc, bool applied)
{
    Loginrisk__V1__OutcomeAck ack = LOGINRISK__V1__OUTCOME_ACK__INIT;

    switch (rc) {
    case LR_OK:
        break;
    case LR_NOTFOUND:
        agent_call_fail(call, AGENT_ST_NOT_FOUND,
                        "request_id: no recent decision with this id");
        return;
    case LR_INVALID:
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT,
                        "account_id: does not match the decision");
        return;
    default:
        lr_log(LR_LOG_WARN, "report outcome %s failed: %s", request_id,
               lr_strerror(rc));
        agent_call_fail(call, agent_status_from_err(rc),
                        "outcome not applied: %s", lr_strerror(rc));
        return;
    }
    ack.request_id = request_id;
    ack.applied = applied;
    agent_call_reply(call, &ack.base);
}

/* One ReportOutcome handed to the blocking-work pool. */
struct agent_outcome {
    struct agent_state *st;
    struct agent_call *call;
    Loginrisk__V1__Outcome *m;
    int64_t ts;
};

/* Pool thread: an outcome may lock the account, durably (fsync). */
static void agent_outcome_run(void *arg)
{
    struct agent_outcome *o = arg;
    bool applied = false;
    int rc;

    if (agent_call_expired(o->call)) {
        agent_call_fail(o->call, AGENT_ST_DEADLINE_EXCEEDED,
                        "deadline passed before the outcome was applied");
        return;
    }
    rc = risk_report_outcome(o->st->engine, o->m->request_id, o->m->account_id,
                             (enum lr_outcome)o->m->kind, o->ts, &applied);
    agent_outcome_done(o->call, o->m->request_id, rc, applied);
}

static void agent_report_outcome(struct agent_call *call, void *ctx)
{
    struct agent_state *st = ctx;
    struct agent_outcome *o;
    struct agent_time_limits lim;
    char msg[AGENT_STATUS_MSG_MAX];
    const uint8_t *data;
    size_t len;
    int rc;

    o = agent_call_alloc(call, sizeof(*o));
    if (o == NULL) {
        agent_call_fail(call, AGENT_ST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    agent_call_request(call, &data, &len);
    o->m = loginrisk__v1__outcome__unpack(agent_call_pb_allocator(call), len,
                                          data);
    if (o->m == NULL) {
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT,
                        "request: not a valid loginrisk.v1.Outcome");
        return;
    }
    agent_limits(st, &lim, NULL);
    if (agent_validate_wire_strings(&loginrisk__v1__outcome__descriptor, data,
                                    len, msg, sizeof(msg)) ||
        agent_validate_outcome(o->m, &lim, &o->ts, msg, sizeof(msg))) {
        agent_call_fail(call, AGENT_ST_INVALID_ARGUMENT, "%s", msg);
        return;
    }
    o->st = st;
    o->call = call;
    rc = agent_jobs_submit(st->jobs, agent_outcome_run, o);
    if (rc)
        agent_call_fail(call, agent_status_from_err(rc),
                        "outcome not applied: %s", lr_strerror(rc));
}

/* ---- method table -------------------------------------------------------- */

static const struct agent_method agent_risk_table[] = {
    {
        .path = "/loginrisk.v1.RiskService/Evaluate",
        .service = CFG_SVC_RISK,
        .handler = agent_evaluate,
        .posted = 4,
        .secret = true,
    },
    {
        .path = "/loginrisk.v1.RiskService/ReportOutcome",
        .service = CFG_SVC_RISK,
        .handler = agent_report_outcome,
        .posted = 2,
    },
};

size_t agent_risk_methods(const struct agent_method **out)
{
    *out = agent_risk_table;
    return LR_ARRAY_LEN(agent_risk_table);
}

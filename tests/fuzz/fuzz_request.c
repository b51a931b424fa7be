/*
 * fuzz_request.c - libFuzzer target: one gRPC request body, from bytes to a
 * decision, the way the agent handles it.
 *
 * The input is the request message as it arrives on the wire. It is decoded
 * twice, as a loginrisk.v1.LoginAttempt and as a loginrisk.v1.Outcome, each
 * into a per-call arena with the agent's cap (agent_arena.c), then checked by
 * the agent's validation (agent_validate.c) exactly as agent_risk.c does.
 * A valid attempt is scored by risk_evaluate() on one engine built at start
 * from the embedded default config and the fixture GeoIP databases of the
 * build (no store, as in replay); the decision is then written as a
 * decision-log line. (The reply encoding, agent_decision_to_pb, lives with
 * the gRPC handlers and is left to the integration tests.) A valid outcome
 * goes to risk_report_outcome(), so the fuzzer can join outcomes to its own
 * earlier decisions.
 *
 * The engine's hot state persists between inputs, as it does in the agent;
 * its tables are capped, so that is part of what is tested. Time is fixed
 * (FUZZ_NOW_MS) so that a timestamp in an input means the same thing on
 * every run. The password fingerprint is the password's first bytes (the
 * engine treats it as opaque; Argon2 would only slow the fuzzer down).
 *
 * Besides the sanitizers, the target checks what every decision promises
 * (score range, action, reasons, echoed request id) and aborts if not.
 */
#include "agent/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loginrisk/v1/risk.pb-c.h"
#include "fuzz_util.h"

#define FUZZ_NOW_MS 1700000000000LL

static struct cfg *fuzz_cfg;
static struct geo_db *fuzz_geo;
static struct risk_engine *fuzz_engine;
static struct agent_time_limits fuzz_lim;
static size_t fuzz_arena_limit;
static uint64_t fuzz_seq;
static bool fuzz_verbose; /* LR_FUZZ_VERBOSE=1: say what became of inputs */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_print_errors(struct cfg_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s\n", errs->msgs[i]);
    cfg_errors_clear(errs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *yaml = cfg_default_yaml();
    struct cfg_errors errs = {0};
    struct geo_paths paths;
    char err[512];

    (void)argc;
    (void)argv;
    fuzz_verbose = fuzz_util_init("fuzz_request");
    if (cfg_load_string("<embedded default>", yaml, strlen(yaml), &fuzz_cfg,
                        &errs) != LR_OK) {
        fuzz_print_errors(&errs);
        fuzz_die("the embedded default config does not load", NULL);
    }
    paths.city = fuzz_cfg->geo_city;
    paths.asn = fuzz_cfg->geo_asn;
    paths.anonymous = fuzz_cfg->geo_anonymous;
    if (geo_db_open(&paths, &fuzz_geo, err, sizeof(err)) != LR_OK) {
        fprintf(stderr, "%s\n", err);
        fuzz_die("the fixture GeoIP databases do not open (build geo_fixtures)",
                 NULL);
    }
    if (risk_engine_new(fuzz_cfg, fuzz_geo, NULL, &fuzz_engine, &errs) !=
        LR_OK) {
        fuzz_print_errors(&errs);
        fuzz_die("no engine", NULL);
    }
    fuzz_lim.now_ms = FUZZ_NOW_MS;
    fuzz_lim.past_s = fuzz_cfg->timestamp_past_s;
    fuzz_lim.future_s = fuzz_cfg->timestamp_future_s;
    fuzz_arena_limit = (size_t)fuzz_cfg->max_message_bytes * 8 + 65536;
    return 0;
}

/* What every decision promises, whatever the input. */
static void fuzz_check_decision(const struct risk_attempt *a,
                                const struct risk_decision *d)
{
    if (d->score < 0 || d->score > 100)
        fuzz_die("score out of 0..100", NULL);
    if (d->action < LR_ACTION_ALLOW || d->action > LR_ACTION_MAX)
        fuzz_die("action out of range", NULL);
    if (d->n_reasons > RISK_REASONS_MAX)
        fuzz_die("too many reasons", NULL);
    for (size_t i = 0; i < d->n_reasons; i++)
        if (d->reasons[i].code[0] == '\0')
            fuzz_die("a reason without a code", NULL);
    if (strcmp(d->request_id, a->request_id) != 0)
        fuzz_die("request_id not echoed", NULL);
}

/* The decision-log line: one UTF-8 JSON object that fits its buffer. */
static void fuzz_encode_decision(const struct risk_attempt *a,
                                 const struct risk_decision *d)
{
    static char line[RISK_DECISION_JSON_MAX];
    size_t len;

    if (risk_decision_to_json(a, d, a->account_id, line, sizeof(line), &len) !=
        LR_OK)
        fuzz_die("a decision does not fit a decision-log line", NULL);
    if (len != strlen(line) || !lr_utf8_valid(line, len))
        fuzz_die("decision-log line is not one UTF-8 string", NULL);
}

static void fuzz_attempt(struct agent_arena *arena, const uint8_t *data,
                         size_t size)
{
    ProtobufCAllocator alloc;
    Loginrisk__V1__LoginAttempt *m;
    struct agent_attempt_check chk;
    struct risk_attempt a;
    struct risk_decision d;
    char msg[AGENT_STATUS_MSG_MAX];
    char request_id[RISK_REQUEST_ID_MAX];
    uint8_t fp[RISK_FP_LEN] = {0};
    int rc;

    agent_arena_pb_allocator(arena, &alloc);
    m = loginrisk__v1__login_attempt__unpack(&alloc, size, data);
    if (m == NULL)
        return;
    if (agent_validate_wire_strings(&loginrisk__v1__login_attempt__descriptor,
                                    data, size, msg, sizeof(msg)) ||
        agent_validate_attempt(m, &fuzz_lim, &chk, msg, sizeof(msg))) {
        if (fuzz_verbose)
            fprintf(stderr, "attempt refused: %s\n", msg);
        return;
    }
    if (m->request_id[0] == '\0')
        snprintf(request_id, sizeof(request_id), "fuzz-%llu",
                 (unsigned long long)++fuzz_seq);
    else
        lr_strlcpy(request_id, m->request_id, sizeof(request_id));
    a.request_id = request_id;
    a.account_id = m->account_id;
    a.ip = chk.ip;
    a.device_id = m->device_id;
    a.user_agent = m->user_agent;
    a.timestamp_ms = chk.timestamp_ms;
    a.credential = (enum lr_credential)m->credential;
    a.fingerprint = NULL;
    if (m->attempted_password.len > 0) {
        size_t k = m->attempted_password.len;
        memcpy(fp, m->attempted_password.data, k < sizeof(fp) ? k : sizeof(fp));
        a.fingerprint = fp;
    }
    rc = risk_evaluate(fuzz_engine, &a, &d);
    if (rc != LR_OK) {
        if (fuzz_verbose)
            fprintf(stderr, "attempt %s: %s\n", request_id, lr_strerror(rc));
        return; /* an error is an answer too; the sanitizers judge the rest */
    }
    if (fuzz_verbose)
        fprintf(stderr, "attempt %s: action %d, score %d, %zu reasons\n",
                request_id, (int)d.action, d.score, d.n_reasons);
    fuzz_check_decision(&a, &d);
    fuzz_encode_decision(&a, &d);
}

static void fuzz_outcome(struct agent_arena *arena, const uint8_t *data,
                         size_t size)
{
    ProtobufCAllocator alloc;
    Loginrisk__V1__Outcome *m;
    char msg[AGENT_STATUS_MSG_MAX];
    bool applied = false;
    int64_t ts;
    int rc;

    agent_arena_pb_allocator(arena, &alloc);
    m = loginrisk__v1__outcome__unpack(&alloc, size, data);
    if (m == NULL)
        return;
    if (agent_validate_wire_strings(&loginrisk__v1__outcome__descriptor, data,
                                    size, msg, sizeof(msg)) ||
        agent_validate_outcome(m, &fuzz_lim, &ts, msg, sizeof(msg))) {
        if (fuzz_verbose)
            fprintf(stderr, "outcome refused: %s\n", msg);
        return;
    }
    rc = risk_report_outcome(fuzz_engine, m->request_id, m->account_id,
                             (enum lr_outcome)m->kind, ts, &applied);
    if (fuzz_verbose)
        fprintf(stderr, "outcome %s: %s, applied %d\n", m->request_id,
                lr_strerror(rc), applied);
    if (rc != LR_OK && applied)
        fuzz_die("an outcome that failed says it was applied", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_arena arena;

    if (size > fuzz_cfg->max_message_bytes)
        return -1; /* gRPC refuses it before the agent sees it */
    agent_arena_init(&arena, fuzz_arena_limit);
    fuzz_attempt(&arena, data, size);
    agent_arena_reset(&arena);
    fuzz_outcome(&arena, data, size);
    agent_arena_reset(&arena);
    return 0;
}

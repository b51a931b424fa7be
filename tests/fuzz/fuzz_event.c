/*
 * fuzz_event.c - libFuzzer target: reading a login event or decision-log
 * line (risk_event_parse, what `riskctl replay` feeds the engine with).
 *
 * The input is one line. A line that parses must describe a usable attempt
 * (non-empty account, an address of a known family, a positive time, NUL-
 * terminated fields), and must survive the round trip the decision log
 * makes: written back with risk_decision_to_json() and parsed again, every
 * attempt field comes back the same. A refused line must say which field
 * ("field: what is wrong").
 */
#include "risk/risk.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_util_init("fuzz_event");
    return 0;
}

#define FUZZ_TERMINATED(f) (strnlen((f), sizeof(f)) < sizeof(f))

static void fuzz_check_event(const struct risk_event *ev)
{
    if (!FUZZ_TERMINATED(ev->request_id) || !FUZZ_TERMINATED(ev->account_id) ||
        !FUZZ_TERMINATED(ev->device_id) || !FUZZ_TERMINATED(ev->user_agent) ||
        !FUZZ_TERMINATED(ev->policy_version))
        fuzz_die("a field without its NUL", NULL);
    if (ev->account_id[0] == '\0')
        fuzz_die("an event without an account", NULL);
    if (ev->ip.family != 4 && ev->ip.family != 6)
        fuzz_die("an address of no family", NULL);
    if (ev->timestamp_ms <= 0)
        fuzz_die("a time that is not positive", NULL);
    if (ev->credential < LR_CRED_UNSPECIFIED ||
        ev->credential > LR_CRED_UNKNOWN_ACCOUNT)
        fuzz_die("credential out of range", NULL);
    if (ev->action < LR_ACTION_UNSPECIFIED || ev->action > LR_ACTION_MAX)
        fuzz_die("action out of range", NULL);
    if (ev->score < -1 || ev->score > 100)
        fuzz_die("score out of range", NULL);
}

/* Writes @p ev as a decision-log line and reads it back. */
static void fuzz_round_trip(const struct risk_event *ev)
{
    static char line[RISK_DECISION_JSON_MAX];
    static struct risk_event back;
    struct risk_decision d;
    struct risk_attempt a;
    char err[256];
    size_t len;

    risk_event_to_attempt(ev, &a);
    memset(&d, 0, sizeof(d));
    lr_strlcpy(d.request_id, ev->request_id, sizeof(d.request_id));
    d.action = ev->action;
    d.score = ev->score < 0 ? 0 : ev->score;
    lr_strlcpy(d.policy_version, ev->policy_version, sizeof(d.policy_version));
    if (risk_decision_to_json(&a, &d, ev->account_id, line, sizeof(line),
                              &len) != LR_OK)
        fuzz_die("an event does not fit a decision-log line", NULL);
    if (risk_event_parse(line, len, &back, err, sizeof(err)) != LR_OK)
        fuzz_die("a written line does not parse", err);
    if (strcmp(back.request_id, ev->request_id) ||
        strcmp(back.account_id, ev->account_id) ||
        memcmp(&back.ip, &ev->ip, sizeof(ev->ip)) ||
        strcmp(back.device_id, ev->device_id) ||
        strcmp(back.user_agent, ev->user_agent) ||
        back.timestamp_ms != ev->timestamp_ms ||
        back.credential != ev->credential ||
        strcmp(back.policy_version, ev->policy_version))
        fuzz_die("the round trip changed the event", line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct risk_event ev;
    char err[256];
    int rc;

    err[0] = '\0';
    rc = risk_event_parse((const char *)data, size, &ev, err, sizeof(err));
    if (rc == LR_OK) {
        fuzz_check_event(&ev);
        fuzz_round_trip(&ev);
    } else if (err[0] == '\0' || strstr(err, ": ") == NULL) {
        fuzz_die("refused without a \"field: ...\" message", err);
    }
    return 0;
}

/*
 * cli_cmd_outcome.c - `riskctl outcome`: one RiskService/ReportOutcome call.
 *
 * Reports what happened after a decision (a challenge passed, a user
 * confirmed fraud, ...), joined to the Evaluate call by its request id. The
 * agent answers NOT_FOUND for a request id it does not remember; that is
 * printed like any other status and exits 1.
 */
#include "cli/cli_cmd.h"

#include <stdio.h>

enum {
    OPT_REQUEST_ID = CLI_OPT_SUB,
    OPT_ACCOUNT,
    OPT_KIND,
    OPT_TIMESTAMP_MS,
};

static const struct option cli_outcome_options[] = {
    {"request-id", required_argument, NULL, OPT_REQUEST_ID},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"kind", required_argument, NULL, OPT_KIND},
    {"timestamp-ms", required_argument, NULL, OPT_TIMESTAMP_MS},
    {NULL, 0, NULL, 0},
};

static void cli_outcome_help(void)
{
    printf("Usage: riskctl outcome --request-id ID --account ID --kind K "
           "[options]\n"
           "Reports the outcome of a decision (RiskService/ReportOutcome).\n\n"
           "  --request-id ID       request id of the Evaluate decision\n"
           "  --account ID          account of that decision\n"
           "  --kind K              challenge_passed | challenge_failed |\n"
           "                        captcha_passed | captcha_failed |\n"
           "                        confirmed_legitimate | confirmed_fraud\n"
           "  --timestamp-ms MS     when it happened (0 = now)\n\n%s",
           cli_globals_help());
}

/* Applies one outcome option; returns an exit code or -1 to go on. */
static int cli_outcome_opt(void *ctx, int opt, char *arg)
{
    Loginrisk__V1__Outcome *o = ctx;
    int v;

    switch (opt) {
    case OPT_REQUEST_ID:
        o->request_id = arg;
        break;
    case OPT_ACCOUNT:
        o->account_id = arg;
        break;
    case OPT_KIND:
        if (cli_parse_enum(&loginrisk__v1__outcome_kind__descriptor, "OUTCOME_",
                           arg, &v)) {
            return cli_usage_error("outcome", "bad --kind '%s'", arg);
        }
        o->kind = (Loginrisk__V1__OutcomeKind)v;
        break;
    case OPT_TIMESTAMP_MS:
        if (cli_parse_i64(arg, &o->timestamp_ms)) {
            return cli_usage_error("outcome", "bad --timestamp-ms '%s'", arg);
        }
        break;
    default:
        return cli_usage_error("outcome", "unknown option");
    }
    return -1;
}

static const struct cli_command_spec cli_outcome_spec = {
    .name = "outcome",
    .opts = cli_outcome_options,
    .apply = cli_outcome_opt,
    .help = cli_outcome_help,
};

static int cli_outcome_print(const struct cli_globals *g,
                             const Loginrisk__V1__OutcomeAck *ack)
{
    if (g->json) {
        return cli_json_print(json_pack("{s:o, s:b}", "request_id",
                                        cli_json_str(ack->request_id),
                                        "applied", (int)ack->applied));
    }
    printf("request_id:      %s\n", ack->request_id);
    printf("applied:         %s\n", ack->applied ? "yes" : "no");
    return CLI_EXIT_OK;
}

int cli_cmd_outcome(struct cli_globals *g, int argc, char **argv)
{
    Loginrisk__V1__Outcome o = LOGINRISK__V1__OUTCOME__INIT;
    Loginrisk__V1__OutcomeAck *ack = NULL;
    struct cli_client *c = NULL;
    struct cli_status st;
    int ex, rc;

    ex = cli_parse_command(g, &cli_outcome_spec, &o, argc, argv, NULL);
    if (ex >= 0) {
        return ex;
    }
    ex = cli_connect(g, &c);
    if (ex) {
        return ex;
    }
    rc = cli_report_outcome(c, &o, g->timeout_ms, &st, &ack);
    if (rc) {
        ex = cli_report_failure("outcome", rc, &st);
        goto out;
    }
    ex = cli_outcome_print(g, ack);
out:
    if (ack) {
        loginrisk__v1__outcome_ack__free_unpacked(ack, NULL);
    }
    cli_client_free(c);
    return ex;
}

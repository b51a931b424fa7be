/*
 * cli_cmd_evaluate.c - `riskctl evaluate`: one RiskService/Evaluate call.
 *
 * Builds a LoginAttempt from flags and prints the Decision. The attempted
 * password is read from stdin only (--password-stdin), never from argv where
 * ps(1) and shell history would show it, and is wiped after the call. The
 * client checks only what it must to build the message; validating the
 * attempt is the agent's job, so bad values reach it and come back as
 * INVALID_ARGUMENT naming the field.
 */
#include "cli/cli_cmd.h"

#include <stdio.h>
#include <string.h>

/* Passwords longer than this are refused before they leave the client. */
#define CLI_PASSWORD_MAX 4096

enum {
    OPT_ACCOUNT = CLI_OPT_SUB,
    OPT_IP,
    OPT_DEVICE,
    OPT_USER_AGENT,
    OPT_TIMESTAMP_MS,
    OPT_CREDENTIAL,
    OPT_PASSWORD_STDIN,
    OPT_REQUEST_ID,
};

static const struct option cli_evaluate_options[] = {
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"ip", required_argument, NULL, OPT_IP},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"user-agent", required_argument, NULL, OPT_USER_AGENT},
    {"timestamp-ms", required_argument, NULL, OPT_TIMESTAMP_MS},
    {"credential", required_argument, NULL, OPT_CREDENTIAL},
    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
    {"request-id", required_argument, NULL, OPT_REQUEST_ID},
    {NULL, 0, NULL, 0},
};

static void cli_evaluate_help(void)
{
    printf("Usage: riskctl evaluate --account ID --ip ADDR [options]\n"
           "Scores one login attempt (RiskService/Evaluate) and prints the\n"
           "decision: action, score, reasons with points, geo.\n\n"
           "  --account ID          account the attempt is for (required)\n"
           "  --ip ADDR             client IPv4 or IPv6 address (required)\n"
           "  --device ID           device fingerprint or cookie\n"
           "  --user-agent UA       user agent string\n"
           "  --timestamp-ms MS     event time, ms since the epoch (0 = now)\n"
           "  --credential C        valid | invalid | unknown_account |\n"
           "                        unspecified (default: unspecified)\n"
           "  --password-stdin      read the attempted password from stdin\n"
           "                        (one line; only with --credential "
           "invalid)\n"
           "  --request-id ID       echoed in the decision (default: made "
           "up)\n\n%s",
           cli_globals_help());
}

/* Reads one line (the password) from stdin, without its line end. */
static int cli_read_password(char *buf, size_t cap, size_t *len)
{
    size_t n = fread(buf, 1, cap, stdin);

    if (ferror(stdin)) {
        return LR_IO;
    }
    if (n == cap) {
        return LR_FULL;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
    }
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    *len = n;
    return LR_OK;
}

struct cli_evaluate_args {
    Loginrisk__V1__LoginAttempt attempt;
    bool want_password;
};

/* Applies one evaluate option; returns an exit code or -1 to go on. */
static int cli_evaluate_opt(void *ctx, int opt, char *arg)
{
    struct cli_evaluate_args *e = ctx;
    Loginrisk__V1__LoginAttempt *a = &e->attempt;
    int v;

    switch (opt) {
    case OPT_ACCOUNT:
        a->account_id = arg;
        break;
    case OPT_IP:
        a->ip = arg;
        break;
    case OPT_DEVICE:
        a->device_id = arg;
        break;
    case OPT_USER_AGENT:
        a->user_agent = arg;
        break;
    case OPT_REQUEST_ID:
        a->request_id = arg;
        break;
    case OPT_PASSWORD_STDIN:
        e->want_password = true;
        break;
    case OPT_TIMESTAMP_MS:
        if (cli_parse_i64(arg, &a->timestamp_ms)) {
            return cli_usage_error("evaluate", "bad --timestamp-ms '%s'", arg);
        }
        break;
    case OPT_CREDENTIAL:
        if (cli_parse_enum(&loginrisk__v1__credential_result__descriptor,
                           "CREDENTIAL_", arg, &v)) {
            return cli_usage_error("evaluate", "bad --credential '%s'", arg);
        }
        a->credential = (Loginrisk__V1__CredentialResult)v;
        break;
    default:
        return cli_usage_error("evaluate", "unknown option");
    }
    return -1;
}

static const struct cli_command_spec cli_evaluate_spec = {
    .name = "evaluate",
    .opts = cli_evaluate_options,
    .apply = cli_evaluate_opt,
    .help = cli_evaluate_help,
};

static int cli_evaluate_call(const struct cli_globals *g,
                             const Loginrisk__V1__LoginAttempt *a)
{
    struct cli_client *c = NULL;
    Loginrisk__V1__Decision *d = NULL;
    struct cli_status st;
    int rc, ex;

    ex = cli_connect(g, &c);
    if (ex) {
        return ex;
    }
    rc = cli_evaluate(c, a, g->timeout_ms, &st, &d);
    if (rc) {
        ex = cli_report_failure("evaluate", rc, &st);
        goto out;
    }
    if (g->json) {
        ex = cli_json_print(cli_json_decision(d));
    } else {
        cli_print_decision(d);
        ex = CLI_EXIT_OK;
    }
out:
    if (d) {
        loginrisk__v1__decision__free_unpacked(d, NULL);
    }
    cli_client_free(c);
    return ex;
}

int cli_cmd_evaluate(struct cli_globals *g, int argc, char **argv)
{
    struct cli_evaluate_args e = {.attempt =
                                      LOGINRISK__V1__LOGIN_ATTEMPT__INIT};
    Loginrisk__V1__LoginAttempt *a = &e.attempt;
    char password[CLI_PASSWORD_MAX];
    size_t len = 0;
    int ex, rc;

    ex = cli_parse_command(g, &cli_evaluate_spec, &e, argc, argv, NULL);
    if (ex >= 0) {
        return ex;
    }
    if (e.want_password) {
        rc = cli_read_password(password, sizeof(password), &len);
        if (rc) {
            lr_wipe(password, sizeof(password));
            return cli_usage_error("evaluate",
                                   "cannot read a password of at most %d "
                                   "bytes from stdin",
                                   CLI_PASSWORD_MAX - 1);
        }
        a->attempted_password.data = (uint8_t *)password;
        a->attempted_password.len = len;
    }
    ex = cli_evaluate_call(g, a);
    lr_wipe(password, sizeof(password));
    return ex;
}

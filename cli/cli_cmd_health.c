/*
 * cli_cmd_health.c - `riskctl health`: grpc.health.v1.Health/Check.
 *
 * Prints the serving status; exits 0 only for SERVING, so it can be used as
 * a readiness probe in scripts (NOT_SERVING and SERVICE_UNKNOWN exit 1, like
 * an RPC failure).
 */
#include "cli/cli_cmd.h"

#include <stdio.h>

enum {
    OPT_SERVICE = CLI_OPT_SUB,
};

static const struct option cli_health_options[] = {
    {"service", required_argument, NULL, OPT_SERVICE},
    {NULL, 0, NULL, 0},
};

static void cli_health_help(void)
{
    printf("Usage: riskctl health [--service NAME]\n"
           "Asks the agent whether it serves (grpc.health.v1.Health/Check).\n"
           "Exits 0 when the answer is SERVING, 1 otherwise.\n\n"
           "  --service NAME        e.g. loginrisk.v1.RiskService "
           "(default: the server)\n\n%s",
           cli_globals_help());
}

static int cli_health_opt(void *ctx, int opt, char *arg)
{
    const char **service = ctx;

    if (opt != OPT_SERVICE) {
        return cli_usage_error("health", "unknown option");
    }
    *service = arg;
    return -1;
}

static const struct cli_command_spec cli_health_spec = {
    .name = "health",
    .opts = cli_health_options,
    .apply = cli_health_opt,
    .help = cli_health_help,
};

static int cli_health_print(const struct cli_globals *g, int serving)
{
    const char *name = cli_enum_name(
        &grpc__health__v1__health_check_response__serving_status__descriptor,
        serving);
    int ex;

    if (!name) {
        name = "UNKNOWN";
    }
    if (g->json) {
        ex = cli_json_print(json_pack("{s:s}", "status", name));
    } else {
        printf("%s\n", name);
        ex = CLI_EXIT_OK;
    }
    if (ex == CLI_EXIT_OK && serving != 1) {
        fprintf(stderr, "riskctl health: %s\n", name);
        ex = CLI_EXIT_RPC;
    }
    return ex;
}

int cli_cmd_health(struct cli_globals *g, int argc, char **argv)
{
    struct cli_client *c = NULL;
    const char *service = "";
    struct cli_status st;
    int ex, rc, serving = 0;

    ex = cli_parse_command(g, &cli_health_spec, &service, argc, argv, NULL);
    if (ex >= 0) {
        return ex;
    }
    ex = cli_connect(g, &c);
    if (ex) {
        return ex;
    }
    rc = cli_health_check(c, service, g->timeout_ms, &st, &serving);
    if (rc) {
        ex = cli_report_failure("health", rc, &st);
    } else {
        ex = cli_health_print(g, serving);
    }
    cli_client_free(c);
    return ex;
}

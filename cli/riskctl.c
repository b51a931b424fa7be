/*
 * riskctl.c - the operator and analyst command line: global options and the
 * subcommand table.
 *
 * `riskctl [global options] COMMAND [options]`. Each subcommand lives in its
 * own file (cli_cmd_<name>.c) and is one row in cli_commands below; the admin
 * commands (lock, unlock, lock-by-query, account, locks, reload, token-hash,
 * replay) join the table the same way.
 */
#include "cli/cli_admin.h"
#include "cli/cli_cmd.h"

#include <stdio.h>
#include <string.h>

struct cli_command {
    const char *name;
    int (*run)(struct cli_globals *g, int argc, char **argv);
    const char *summary;
};

static const struct cli_command cli_commands[] = {
    {"evaluate", cli_cmd_evaluate, "score one login attempt"},
    {"outcome", cli_cmd_outcome, "report the outcome of a decision"},
    {"health", cli_cmd_health, "check that the agent is serving"},
    {"lock", cli_cmd_lock, "lock accounts from a list, in batches"},
    {"unlock", cli_cmd_unlock, "unlock accounts from a list, in batches"},
    {"lock-by-query", cli_cmd_lock_by_query,
     "lock accounts by their recorded logins"},
    {"account", cli_cmd_account, "show one account: lock, devices, logins"},
    {"locks", cli_cmd_locks, "list the active locks"},
    {"audit", cli_cmd_audit, "show the newest audit rows"},
    {"reload", cli_cmd_reload, "reload the agent's config (or --dry-run)"},
    {"token-hash", cli_cmd_token_hash, "hash an admin token for the config"},
    {"replay", cli_cmd_replay, "replay events through a draft policy"},
};

static void cli_help(void)
{
    printf("Usage: riskctl [global options] COMMAND [options]\n"
           "Talks to the loginrisk agent over gRPC.\n\nCommands:\n");
    for (size_t i = 0; i < LR_ARRAY_LEN(cli_commands); i++) {
        printf("  %-12s  %s\n", cli_commands[i].name, cli_commands[i].summary);
    }
    printf("\n'riskctl COMMAND --help' shows the options of a command.\n\n"
           "%s\nExit codes: 0 success, 1 the call failed (status on stderr),\n"
           "2 usage error, 3 a bulk run partly failed (lock, unlock).\n",
           cli_globals_help());
}

static const struct cli_command *cli_command_find(const char *name)
{
    for (size_t i = 0; i < LR_ARRAY_LEN(cli_commands); i++) {
        if (strcmp(cli_commands[i].name, name) == 0) {
            return &cli_commands[i];
        }
    }
    return NULL;
}

/* Parses the global options in front of the command; -1 to go on. */
static int cli_parse_globals(struct cli_globals *g, int argc, char **argv)
{
    struct option opts[CLI_OPTIONS_MAX];
    int opt, r;

    cli_options_merge(NULL, opts);
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (opt == 'h' || opt == CLI_OPT_HELP) {
            cli_help();
            return CLI_EXIT_OK;
        }
        if (opt == '?' || opt == ':') {
            return cli_bad_option(NULL, opt, argv[optind - 1]);
        }
        r = cli_global_option(g, opt, optarg);
        if (r <= 0) {
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    const struct cli_command *cmd;
    struct cli_globals g;
    int ex;

    cli_globals_init(&g);
    ex = cli_parse_globals(&g, argc, argv);
    if (ex >= 0) {
        return ex;
    }
    if (optind >= argc) {
        return cli_usage_error(NULL, "no command given");
    }
    if (strcmp(argv[optind], "help") == 0) {
        if (optind + 1 < argc && cli_command_find(argv[optind + 1])) {
            char *help_argv[] = {argv[optind + 1], (char *)"--help", NULL};

            return cli_command_find(argv[optind + 1])->run(&g, 2, help_argv);
        }
        cli_help();
        return CLI_EXIT_OK;
    }
    cmd = cli_command_find(argv[optind]);
    if (!cmd) {
        return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
    }
    return cmd->run(&g, argc - optind, argv + optind);
}

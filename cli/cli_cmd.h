/*
 * cli_cmd.h - internals shared by riskctl's subcommand files.
 *
 * riskctl.c parses the global options and dispatches to one function per
 * subcommand (cli_cmd_<name>.c). Every subcommand also accepts the global
 * options after its name, so `riskctl evaluate --target X ...` works; the
 * shared parsing, connecting and error reporting live in cli_common.c.
 *
 * Exit codes: 0 success, 1 an RPC failed or the agent answered with an error
 * status (status name and message on stderr), 2 usage error.
 */
#ifndef LR_CLI_CMD_H
#define LR_CLI_CMD_H

#include "cli/client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_RPC = 1,
    CLI_EXIT_USAGE = 2,
};

/* Settings every subcommand shares. */
struct cli_globals {
    const char *target;
    struct cli_tls tls;
    int64_t timeout_ms;
    bool json;
};

/* Option values of the global options (subcommands use 'a'..'z' or >= 0x200).
 */
enum cli_global_opt {
    CLI_OPT_TARGET = 0x100,
    CLI_OPT_TLS,
    CLI_OPT_TLS_CA,
    CLI_OPT_TLS_CERT,
    CLI_OPT_TLS_KEY,
    CLI_OPT_TLS_SERVER_NAME,
    CLI_OPT_TIMEOUT_MS,
    CLI_OPT_JSON,
    CLI_OPT_HELP,
};

/* First option value a subcommand may use for its long-only options. */
#define CLI_OPT_SUB 0x200

/* Room for the global options plus a subcommand's own. */
#define CLI_OPTIONS_MAX 48

/** Text of the global options for --help output (static). */
const char *cli_globals_help(void);

/** Sets the defaults: RISKCTL_TARGET or CLI_DEFAULT_TARGET, 5 s, text. */
void cli_globals_init(struct cli_globals *g);

/**
 * Builds the option table for getopt_long: the global options followed by
 * @p sub (terminated by a zero entry) into @p out (CLI_OPTIONS_MAX entries).
 */
void cli_options_merge(const struct option *sub, struct option *out);

/**
 * Applies global option @p opt with @p arg. Returns 1 when handled, 0 when
 * @p opt is not a global option, -1 on a bad value (message printed).
 * CLI_OPT_HELP is not handled here: each command prints its own help.
 */
int cli_global_option(struct cli_globals *g, int opt, const char *arg);

/**
 * Applies one subcommand option @p opt with argument @p arg (NULL for a
 * flag) to @p ctx. Returns -1 to go on, or an exit code to stop with.
 */
typedef int (*cli_opt_fn)(void *ctx, int opt, char *arg);

/** What a subcommand's options look like to cli_parse_command. */
struct cli_command_spec {
    const char *name;          /* "evaluate" */
    const struct option *opts; /* its own options, zero-terminated */
    cli_opt_fn apply;          /* called for each of its options */
    void (*help)(void);        /* prints its --help text */
    bool positional;           /* accepts arguments after the options */
};

/**
 * Parses a subcommand's argv (argv[0] = its name): global options go to
 * @p g, its own to spec->apply(ctx, ...). Returns -1 to go on, with
 * *@p rest the index of the first positional argument (when @p spec allows
 * them; @p rest may be NULL otherwise), or an exit code to stop with:
 * 0 after --help, 2 on a usage error.
 */
int cli_parse_command(struct cli_globals *g,
                      const struct cli_command_spec *spec, void *ctx, int argc,
                      char **argv, int *rest);

/** Prints "riskctl CMD: message" and a hint to stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) LR_PRINTF(2, 3);

/**
 * Reports getopt's '?' (unknown option) or ':' (missing value) for the
 * option text @p text; returns 2.
 */
int cli_bad_option(const char *cmd, int opt, const char *text);

/** Parses a decimal int64 (whole string); LR_INVALID otherwise. */
LR_WUR int cli_parse_i64(const char *s, int64_t *out);

/**
 * Parses @p s as a value of @p desc: the full proto name
 * ("CREDENTIAL_VALID"), its lower-case short form without @p prefix
 * ("valid" for prefix "CREDENTIAL_"), or a number. LR_INVALID otherwise.
 */
LR_WUR int cli_parse_enum(const ProtobufCEnumDescriptor *desc,
                          const char *prefix, const char *s, int *out);

/** Proto name of enum value @p v, or NULL when @p desc has none. */
const char *cli_enum_name(const ProtobufCEnumDescriptor *desc, int v);

/** Connects with the global settings; prints the error and returns 1. */
int cli_connect(const struct cli_globals *g, struct cli_client **out);

/**
 * Reports a failed call on stderr as "riskctl CMD: STATUS_NAME: message"
 * and returns the exit code (1).
 */
int cli_report_failure(const char *cmd, int rc, const struct cli_status *st);

/**
 * Prints @p json (a reference is stolen; NULL means it could not be built)
 * as one line on stdout. Returns an exit code.
 */
int cli_json_print(json_t *json);

/** A string that is valid UTF-8 even when @p s is not (bad bytes -> '?'). */
json_t *cli_json_str(const char *s);

/**
 * The decision as a JSON object with the proto field names; enums by their
 * proto names. NULL when out of memory.
 */
json_t *cli_json_decision(const Loginrisk__V1__Decision *d);

/** Prints the decision readably on stdout. */
void cli_print_decision(const Loginrisk__V1__Decision *d);

/* Subcommands: argv[0] is the subcommand name. Return an exit code. */
int cli_cmd_evaluate(struct cli_globals *g, int argc, char **argv);
int cli_cmd_outcome(struct cli_globals *g, int argc, char **argv);
int cli_cmd_health(struct cli_globals *g, int argc, char **argv);

#endif

/*
 * cli_common.c - what every riskctl subcommand shares: the global options,
 * value parsing, connecting, and the one way errors are reported.
 *
 * Keeping these in one place is what makes the exit codes and messages of
 * all subcommands agree: usage errors say which command and exit 2, RPC
 * failures print the gRPC status name and the agent's message and exit 1.
 */
#include "cli/cli_cmd.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct option cli_global_options[] = {
    {"target", required_argument, NULL, CLI_OPT_TARGET},
    {"tls", no_argument, NULL, CLI_OPT_TLS},
    {"tls-ca", required_argument, NULL, CLI_OPT_TLS_CA},
    {"tls-cert", required_argument, NULL, CLI_OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, CLI_OPT_TLS_KEY},
    {"tls-server-name", required_argument, NULL, CLI_OPT_TLS_SERVER_NAME},
    {"timeout-ms", required_argument, NULL, CLI_OPT_TIMEOUT_MS},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"help", no_argument, NULL, CLI_OPT_HELP},
};

const char *cli_globals_help(void)
{
    return "Global options (before or after the subcommand):\n"
           "  --target ADDR         agent address: host:port, [v6]:port or\n"
           "                        unix:/path (default $RISKCTL_TARGET or "
           "127.0.0.1:50051)\n"
           "  --tls                 use TLS with the system roots\n"
           "  --tls-ca FILE         use TLS; trust the CA certificates in "
           "FILE\n"
           "  --tls-cert FILE       client certificate (PEM), with --tls-key\n"
           "  --tls-key FILE        client private key (PEM)\n"
           "  --tls-server-name N   name expected in the server certificate\n"
           "  --timeout-ms N        deadline of each call (default 5000)\n"
           "  --json                print results as JSON\n"
           "  -h, --help            this help\n";
}

void cli_globals_init(struct cli_globals *g)
{
    const char *env = getenv("RISKCTL_TARGET");

    memset(g, 0, sizeof(*g));
    g->target = env && *env ? env : CLI_DEFAULT_TARGET;
    g->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
}

void cli_options_merge(const struct option *sub, struct option *out)
{
    size_t n = 0;

    for (size_t i = 0; i < LR_ARRAY_LEN(cli_global_options); i++) {
        out[n++] = cli_global_options[i];
    }
    for (; sub && sub->name && n < CLI_OPTIONS_MAX - 1; sub++) {
        out[n++] = *sub;
    }
    memset(&out[n], 0, sizeof(out[n]));
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "riskctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'riskctl%s%s --help'.\n", cmd ? " " : "",
            cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0') {
        return LR_INVALID;
    }
    *out = (int64_t)v;
    return LR_OK;
}

int cli_global_option(struct cli_globals *g, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_TARGET:
        g->target = arg;
        return 1;
    case CLI_OPT_TLS:
        g->tls.enabled = 1;
        return 1;
    case CLI_OPT_TLS_CA:
        g->tls.ca_file = arg;
        return 1;
    case CLI_OPT_TLS_CERT:
        g->tls.cert_file = arg;
        return 1;
    case CLI_OPT_TLS_KEY:
        g->tls.key_file = arg;
        return 1;
    case CLI_OPT_TLS_SERVER_NAME:
        g->tls.server_name = arg;
        return 1;
    case CLI_OPT_JSON:
        g->json = true;
        return 1;
    case CLI_OPT_TIMEOUT_MS:
        if (cli_parse_i64(arg, &g->timeout_ms) || g->timeout_ms < 0) {
            cli_usage_error(NULL, "--timeout-ms wants milliseconds, got '%s'",
                            arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int cli_bad_option(const char *cmd, int opt, const char *text)
{
    if (opt == ':') {
        return cli_usage_error(cmd, "option '%s' needs a value", text);
    }
    return cli_usage_error(cmd, "unknown option '%s'", text);
}

int cli_parse_command(struct cli_globals *g,
                      const struct cli_command_spec *spec, void *ctx, int argc,
                      char **argv, int *rest)
{
    struct option opts[CLI_OPTIONS_MAX];
    int opt, r;

    cli_options_merge(spec->opts, opts);
    optind = 0; /* glibc: start afresh after the global parse */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (opt == 'h' || opt == CLI_OPT_HELP) {
            spec->help();
            return CLI_EXIT_OK;
        }
        if (opt == '?' || opt == ':') {
            return cli_bad_option(spec->name, opt, argv[optind - 1]);
        }
        r = cli_global_option(g, opt, optarg);
        if (r < 0) {
            return CLI_EXIT_USAGE;
        }
        if (r == 0 && (r = spec->apply(ctx, opt, optarg)) >= 0) {
            return r;
        }
    }
    if (optind < argc && !spec->positional) {
        return cli_usage_error(spec->name, "unexpected argument '%s'",
                               argv[optind]);
    }
    if (rest) {
        *rest = optind;
    }
    return -1;
}

/* Case-insensitive equality of @p s and @p name with @p prefix dropped. */
static bool cli_enum_short_eq(const char *name, const char *prefix,
                              const char *s)
{
    size_t plen = prefix ? strlen(prefix) : 0;

    if (plen && strncmp(name, prefix, plen) == 0) {
        name += plen;
    }
    for (; *name && *s; name++, s++) {
        if (tolower((unsigned char)*name) != tolower((unsigned char)*s)) {
            return false;
        }
    }
    return *name == '\0' && *s == '\0';
}

int cli_parse_enum(const ProtobufCEnumDescriptor *desc, const char *prefix,
                   const char *s, int *out)
{
    int64_t v;

    for (unsigned i = 0; i < desc->n_values; i++) {
        const ProtobufCEnumValue *ev = &desc->values[i];

        if (strcmp(ev->name, s) == 0 ||
            cli_enum_short_eq(ev->name, prefix, s)) {
            *out = ev->value;
            return LR_OK;
        }
    }
    if (cli_parse_i64(s, &v) == LR_OK && v >= INT32_MIN && v <= INT32_MAX) {
        *out = (int)v;
        return LR_OK;
    }
    return LR_INVALID;
}

const char *cli_enum_name(const ProtobufCEnumDescriptor *desc, int v)
{
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(desc, v);

    return ev ? ev->name : NULL;
}

int cli_connect(const struct cli_globals *g, struct cli_client **out)
{
    int rc = cli_client_new(g->target, &g->tls, out);

    if (rc == LR_INVALID) {
        return cli_usage_error(NULL, "--tls-cert and --tls-key go together");
    }
    if (rc == LR_IO) {
        return cli_usage_error(NULL, "cannot read a TLS file (--tls-ca, "
                                     "--tls-cert or --tls-key)");
    }
    if (rc) {
        fprintf(stderr, "riskctl: cannot set up a channel to %s: %s\n",
                g->target, lr_strerror(rc));
        return CLI_EXIT_RPC;
    }
    return CLI_EXIT_OK;
}

int cli_report_failure(const char *cmd, int rc, const struct cli_status *st)
{
    (void)rc;
    fprintf(stderr, "riskctl %s: %s: %s\n", cmd, cli_status_name(st->code),
            st->message[0] ? st->message : "(no message)");
    return CLI_EXIT_RPC;
}

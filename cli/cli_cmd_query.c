/*
 * cli_cmd_query.c - `riskctl lock-by-query`: lock every account whose
 * recorded logins match a selection (AdminService/LockByQuery).
 *
 * The selection is built from repeatable flags (each also takes a
 * comma-separated list): --cidr, --asn, --country, plus --device, a time
 * window (--since/--until: RFC 3339, epoch ms, or relative like -12h) and
 * --successful-only. The agent refuses an empty selection; --dry-run
 * reports how many accounts would be locked without locking them, which is
 * the step to take first.
 */
#include "cli/cli_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_TERMS_MAX 256 /* per list, as the agent */

enum {
    OPT_CIDR = CLI_OPT_SUB,
    OPT_ASN,
    OPT_COUNTRY,
    OPT_DEVICE,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_SUCCESSFUL,
    OPT_LIMIT,
    OPT_DRY_RUN,
    OPT_REASON,
    OPT_TICKET,
    OPT_DURATION,
    OPT_TOKEN_FILE,
};

static const struct option cli_query_options[] = {
    {"cidr", required_argument, NULL, OPT_CIDR},
    {"asn", required_argument, NULL, OPT_ASN},
    {"country", required_argument, NULL, OPT_COUNTRY},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"successful-only", no_argument, NULL, OPT_SUCCESSFUL},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"reason", required_argument, NULL, OPT_REASON},
    {"ticket", required_argument, NULL, OPT_TICKET},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {NULL, 0, NULL, 0},
};

static void cli_query_help(void)
{
    printf(
        "Usage: riskctl lock-by-query [selection] --reason R --ticket T\n"
        "       [--duration D] [--limit N] [--dry-run] [--json]\n"
        "Locks every account whose recorded logins match the selection\n"
        "(AdminService/LockByQuery). Lists may repeat the flag or use\n"
        "commas; different flags must all match. Run with --dry-run first.\n"
        "Needs a responder token.\n\n"
        "  --cidr NET            logins from NET (192.0.2.0/24, "
        "2001:db8::/48)\n"
        "  --asn N               logins from autonomous system N\n"
        "  --country CC          logins from country CC (ISO alpha-2)\n"
        "  --device ID           logins with this device id\n"
        "  --since T, --until T  time window (inclusive): RFC 3339\n"
        "                        (2024-05-01T22:00:00Z), epoch ms, or\n"
        "                        relative to now (-12h, -30m, -7d)\n"
        "  --successful-only     only logins with a valid password that were\n"
        "                        let in (allow or 2FA)\n"
        "  --limit N             lock at most N accounts\n"
        "  --reason R, --ticket T  why, and the incident ticket (required)\n"
        "  --duration D          30m, 12h, 7d or seconds; 0 = until unlocked\n"
        "  --dry-run             count the accounts, lock nothing\n"
        "  --token-file FILE     admin token (default: $RISKCTL_TOKEN)\n\n%s",
        cli_globals_help());
}

struct cli_query_args {
    Loginrisk__V1__LockByQueryRequest req;
    char *cidrs[CLI_TERMS_MAX];
    uint32_t asns[CLI_TERMS_MAX];
    char *countries[CLI_TERMS_MAX];
    const char *token_file;
    size_t n_copies;
    char *copy_ptrs[3 * CLI_TERMS_MAX];
};

/* Splits @p arg at commas into @p list (copies kept in @p q). */
static int cli_query_split(struct cli_query_args *q, const char *flag,
                           char *arg, char **list, size_t *n)
{
    char *save = NULL, *copy = strdup(arg), *tok;

    if (copy == NULL || q->n_copies == LR_ARRAY_LEN(q->copy_ptrs)) {
        free(copy);
        return cli_usage_error("lock-by-query", "out of memory");
    }
    q->copy_ptrs[q->n_copies++] = copy;
    for (tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n == CLI_TERMS_MAX)
            return cli_usage_error("lock-by-query", "at most %d %s values",
                                   CLI_TERMS_MAX, flag);
        list[(*n)++] = tok;
    }
    return -1;
}

static int cli_query_asns(struct cli_query_args *q, char *arg)
{
    char *list[CLI_TERMS_MAX];
    size_t n = 0;
    int64_t v;
    int ex = cli_query_split(q, "--asn", arg, list, &n);

    for (size_t i = 0; ex < 0 && i < n; i++) {
        const char *s = list[i];
        if (strncmp(s, "AS", 2) == 0 || strncmp(s, "as", 2) == 0)
            s += 2;
        if (cli_parse_i64(s, &v) || v < 0 || v > UINT32_MAX)
            return cli_usage_error("lock-by-query", "bad --asn '%s'", list[i]);
        if (q->req.n_asns == CLI_TERMS_MAX)
            return cli_usage_error("lock-by-query", "at most %d --asn values",
                                   CLI_TERMS_MAX);
        q->asns[q->req.n_asns++] = (uint32_t)v;
    }
    return ex;
}

static int cli_query_time(const char *flag, const char *arg, int64_t *out)
{
    if (cli_parse_time(arg, lr_now_ms(), out) || *out <= 0)
        return cli_usage_error("lock-by-query",
                               "bad %s '%s' (RFC 3339, epoch ms, or like "
                               "-12h)",
                               flag, arg);
    return -1;
}

static int cli_query_opt(void *ctx, int opt, char *arg)
{
    struct cli_query_args *q = ctx;
    Loginrisk__V1__LockByQueryRequest *r = &q->req;
    int64_t n;

    switch (opt) {
    case OPT_CIDR:
        return cli_query_split(q, "--cidr", arg, q->cidrs, &r->n_cidrs);
    case OPT_ASN:
        return cli_query_asns(q, arg);
    case OPT_COUNTRY:
        return cli_query_split(q, "--country", arg, q->countries,
                               &r->n_countries);
    case OPT_DEVICE:
        r->device_id = arg;
        return -1;
    case OPT_SINCE:
        return cli_query_time("--since", arg, &r->since_ms);
    case OPT_UNTIL:
        return cli_query_time("--until", arg, &r->until_ms);
    case OPT_SUCCESSFUL:
        r->successful_only = true;
        return -1;
    case OPT_LIMIT:
        if (cli_parse_i64(arg, &n) || n < 1)
            return cli_usage_error("lock-by-query", "bad --limit '%s'", arg);
        r->limit = (uint64_t)n;
        return -1;
    case OPT_DRY_RUN:
        r->dry_run = true;
        return -1;
    case OPT_REASON:
        r->reason = arg;
        return -1;
    case OPT_TICKET:
        r->ticket = arg;
        return -1;
    case OPT_DURATION:
        if (cli_parse_duration(arg, &r->duration_s))
            return cli_usage_error("lock-by-query", "bad --duration '%s'", arg);
        return -1;
    case OPT_TOKEN_FILE:
        q->token_file = arg;
        return -1;
    default:
        return cli_usage_error("lock-by-query", "unknown option");
    }
}

static const struct cli_command_spec cli_query_spec = {
    .name = "lock-by-query",
    .opts = cli_query_options,
    .apply = cli_query_opt,
    .help = cli_query_help,
};

static int cli_query_check(const Loginrisk__V1__LockByQueryRequest *r)
{
    if (r->reason[0] == '\0')
        return cli_usage_error("lock-by-query", "--reason is required");
    if (r->ticket[0] == '\0')
        return cli_usage_error("lock-by-query", "--ticket is required");
    if (r->n_cidrs == 0 && r->n_asns == 0 && r->n_countries == 0 &&
        r->device_id[0] == '\0' && r->since_ms == 0 && r->until_ms == 0)
        return cli_usage_error("lock-by-query",
                               "no selection: give --cidr, --asn, "
                               "--country, --device, --since or --until");
    if (r->until_ms != 0 && r->until_ms < r->since_ms)
        return cli_usage_error("lock-by-query", "--until is before --since");
    return -1;
}

static void cli_query_print(const Loginrisk__V1__LockByQueryRequest *q,
                            const Loginrisk__V1__BulkResult *r)
{
    printf("%slock-by-query: %" PRIu64 " accounts matched, %" PRIu64
           " %s, %" PRIu64 " already locked\n",
           q->dry_run ? "dry run: " : "", r->matched, r->changed,
           q->dry_run ? "would be locked" : "locked", r->unchanged);
    if (r->audit_id[0] != '\0')
        printf("  audit id %s\n", r->audit_id);
    if (r->n_sample > 0) {
        printf("  sample:");
        for (size_t i = 0; i < r->n_sample; i++)
            printf(" %s", r->sample[i]);
        printf("\n");
    }
}

static json_t *cli_query_json(const Loginrisk__V1__LockByQueryRequest *q,
                              const Loginrisk__V1__BulkResult *r)
{
    json_t *sample = json_array();

    for (size_t i = 0; sample && i < r->n_sample; i++)
        json_array_append_new(sample, cli_json_str(r->sample[i]));
    return json_pack(
        "{s:s, s:b, s:I, s:I, s:I, s:s, s:o, s:I, s:I}", "operation",
        "lock-by-query", "dry_run", (int)q->dry_run, "matched",
        (json_int_t)r->matched, "changed", (json_int_t)r->changed, "unchanged",
        (json_int_t)r->unchanged, "audit_id", r->audit_id, "sample",
        sample ? sample : json_null(), "since_ms", (json_int_t)q->since_ms,
        "until_ms", (json_int_t)q->until_ms);
}

static int cli_query_call(const struct cli_globals *g, struct cli_query_args *q)
{
    struct cli_admin a;
    struct cli_status st;
    ProtobufCMessage *resp = NULL;
    Loginrisk__V1__BulkResult *r;
    int ex, rc;

    ex = cli_admin_open(g, "lock-by-query", q->token_file, &a);
    if (ex) {
        cli_admin_close(&a);
        return ex;
    }
    if (g->timeout_ms == CLI_DEFAULT_TIMEOUT_MS)
        a.timeout_ms = CLI_BULK_TIMEOUT_MS;
    rc = cli_admin_call(&a, CLI_METHOD_LOCK_BY_QUERY, &q->req.base,
                        &loginrisk__v1__bulk_result__descriptor, &st, &resp);
    if (rc) {
        ex = cli_report_failure("lock-by-query", rc, &st);
        goto out;
    }
    r = (Loginrisk__V1__BulkResult *)resp;
    if (g->json)
        ex = cli_json_print(cli_query_json(&q->req, r));
    else
        cli_query_print(&q->req, r);
out:
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    cli_admin_close(&a);
    return ex;
}

int cli_cmd_lock_by_query(struct cli_globals *g, int argc, char **argv)
{
    struct cli_query_args *q = calloc(1, sizeof(*q));
    Loginrisk__V1__LockByQueryRequest init =
        LOGINRISK__V1__LOCK_BY_QUERY_REQUEST__INIT;
    int ex;

    if (q == NULL) {
        fprintf(stderr, "riskctl lock-by-query: out of memory\n");
        return CLI_EXIT_RPC;
    }
    q->req = init;
    q->req.cidrs = q->cidrs;
    q->req.asns = q->asns;
    q->req.countries = q->countries;
    ex = cli_parse_command(g, &cli_query_spec, q, argc, argv, NULL);
    if (ex < 0)
        ex = cli_query_check(&q->req);
    if (ex < 0)
        ex = cli_query_call(g, q);
    for (size_t i = 0; i < q->n_copies; i++)
        free(q->copy_ptrs[i]);
    free(q);
    return ex;
}

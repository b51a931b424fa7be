/*
 * cli_cmd_account.c - the read and reload commands of riskctl: `account`
 * (everything GetAccount returns), `locks` (ListLocks, paged), `audit`
 * (ListAudit) and `reload` (ReloadConfig). Each prints readable text, or
 * with --json one JSON object with the proto field names.
 */
#include "cli/cli_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_TOKEN_FILE = CLI_OPT_SUB,
    OPT_LOGINS,
    OPT_PAGE_SIZE,
    OPT_PAGE_TOKEN,
    OPT_ALL,
    OPT_COUNT,
    OPT_MAX,
    OPT_DRY_RUN,
};

/* Options of every command in this file; each applies the ones it has. */
struct cli_read_args {
    const char *cmd;
    const char *token_file;
    uint32_t logins;
    uint32_t page_size;
    char *page_token;
    bool all, count, dry_run;
    uint32_t max;
};

static int cli_read_u32(const char *cmd, const char *flag, const char *arg,
                        uint32_t max, uint32_t *out)
{
    int64_t v;

    if (cli_parse_i64(arg, &v) || v < 1 || v > max)
        return cli_usage_error(cmd, "%s wants 1..%u, got '%s'", flag, max, arg);
    *out = (uint32_t)v;
    return -1;
}

static int cli_read_opt(void *ctx, int opt, char *arg)
{
    struct cli_read_args *o = ctx;

    switch (opt) {
    case OPT_TOKEN_FILE:
        o->token_file = arg;
        return -1;
    case OPT_LOGINS:
        return cli_read_u32(o->cmd, "--logins", arg, 200, &o->logins);
    case OPT_PAGE_SIZE:
        return cli_read_u32(o->cmd, "--page-size", arg, 1000, &o->page_size);
    case OPT_PAGE_TOKEN:
        o->page_token = arg;
        return -1;
    case OPT_ALL:
        o->all = true;
        return -1;
    case OPT_COUNT:
        o->count = true;
        return -1;
    case OPT_MAX:
        return cli_read_u32(o->cmd, "--max", arg, 1000, &o->max);
    case OPT_DRY_RUN:
        o->dry_run = true;
        return -1;
    default:
        return cli_usage_error(o->cmd, "unknown option");
    }
}

#define CLI_TOKEN_OPT                                                          \
    {                                                                          \
        "token-file", required_argument, NULL, OPT_TOKEN_FILE                  \
    }
#define CLI_TOKEN_HELP                                                         \
    "  --token-file FILE     admin token (default: $RISKCTL_TOKEN)\n"

/* One call with the token; prints the failure. Returns an exit code. */
static int cli_read_call(const struct cli_globals *g, struct cli_read_args *o,
                         const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc,
                         ProtobufCMessage **resp)
{
    struct cli_admin a;
    struct cli_status st;
    int ex, rc;

    ex = cli_admin_open(g, o->cmd, o->token_file, &a);
    if (ex == CLI_EXIT_OK) {
        rc = cli_admin_call(&a, method, req, desc, &st, resp);
        if (rc)
            ex = cli_report_failure(o->cmd, rc, &st);
    }
    cli_admin_close(&a);
    return ex;
}

static json_t *cli_json_i64(int64_t v)
{
    return json_integer((json_int_t)v);
}

/* ---- account ------------------------------------------------------------- */

static const struct option cli_account_options[] = {
    CLI_TOKEN_OPT,
    {"logins", required_argument, NULL, OPT_LOGINS},
    {NULL, 0, NULL, 0},
};

static void cli_account_help(void)
{
    printf("Usage: riskctl account ID [--logins N] [--json]\n"
           "Shows what the agent knows about one account (AdminService/\n"
           "GetAccount): lock, known devices, countries and ASNs seen, the\n"
           "last successful login, recent logins with their geo and\n"
           "decisions, and the current velocity counters.\n\n"
           "  --logins N            recent logins to show (default 20, "
           "at most 200)\n" CLI_TOKEN_HELP "\n%s",
           cli_globals_help());
}

static const char *cli_when(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0)
        return "never";
    cli_format_time(ms, buf, cap);
    return buf;
}

static void cli_print_lock(const Loginrisk__V1__LockInfo *l)
{
    char t1[40], t2[40];

    if (l == NULL || !l->locked) {
        printf("  lock:          not locked\n");
        return;
    }
    printf("  lock:          LOCKED (scope %s) since %s by %s\n", l->scope,
           cli_when(l->created_ms, t1, sizeof(t1)), l->source);
    printf("                 reason \"%s\", ticket %s, expires %s\n", l->reason,
           l->ticket,
           l->expires_ms ? cli_when(l->expires_ms, t2, sizeof(t2))
                         : "never (until unlocked)");
}

static void cli_print_place(const Loginrisk__V1__GeoInfo *g)
{
    if (g == NULL)
        return;
    printf("%s%s%s", g->city, g->city[0] ? ", " : "",
           g->country[0] ? g->country : "??");
    if (g->has_location)
        printf(" (%.2f, %.2f)", g->latitude, g->longitude);
    if (g->asn)
        printf(" AS%" PRIu32, g->asn);
}

static void cli_print_login(const Loginrisk__V1__LoginRecord *l)
{
    const char *cred = cli_enum_name(
        &loginrisk__v1__credential_result__descriptor, (int)l->credential);
    char t[40];

    printf("    %s %-15s ", cli_when(l->timestamp_ms, t, sizeof(t)), l->ip);
    cli_print_place(l->geo);
    printf(" %s -> %s (%u)", cred ? cred + strlen("CREDENTIAL_") : "?",
           cli_action_short((enum lr_action)l->action), l->score);
    for (size_t i = 0; i < l->n_reason_codes; i++)
        printf("%s%s", i ? "," : " ", l->reason_codes[i]);
    if (l->device_id[0])
        printf(" device %s", l->device_id);
    printf("\n");
}

static void cli_print_places(const Loginrisk__V1__AccountInfo *a)
{
    char t[40];

    printf("  last success:  %s", cli_when(a->last_success_ms, t, sizeof(t)));
    if (a->last_success_ms > 0) {
        printf(" from ");
        cli_print_place(a->last_success_geo);
    }
    printf("\n  countries:     ");
    for (size_t i = 0; i < a->n_countries_seen; i++)
        printf("%s%s", i ? ", " : "", a->countries_seen[i]);
    printf("%s\n  ASNs:          ", a->n_countries_seen ? "" : "-");
    for (size_t i = 0; i < a->n_asns_seen; i++)
        printf("%sAS%" PRIu32, i ? ", " : "", a->asns_seen[i]);
    printf("%s\n", a->n_asns_seen ? "" : "-");
    if (a->flagged_spray)
        printf("  flagged:       succeeded with a sprayed password\n");
}

static void cli_print_account(const Loginrisk__V1__AccountInfo *a)
{
    char t1[40], t2[40];

    printf("account %s\n", a->account_id);
    cli_print_lock(a->lock);
    cli_print_places(a);
    printf("  devices (%zu):\n", a->n_devices);
    for (size_t i = 0; i < a->n_devices; i++)
        printf("    %s  first %s  last %s\n", a->devices[i]->device_id,
               cli_when(a->devices[i]->first_seen_ms, t1, sizeof(t1)),
               cli_when(a->devices[i]->last_seen_ms, t2, sizeof(t2)));
    printf("  counters:");
    for (size_t i = 0; i < a->n_counters; i++)
        printf("%s%s=%" PRIu64, i % 4 ? "  " : "\n    ", a->counters[i]->name,
               a->counters[i]->value);
    printf("\n  recent logins (%zu, newest first):\n", a->n_recent_logins);
    for (size_t i = 0; i < a->n_recent_logins; i++)
        cli_print_login(a->recent_logins[i]);
}

static json_t *cli_json_lock(const Loginrisk__V1__LockInfo *l)
{
    if (l == NULL)
        return json_pack("{s:b}", "locked", 0);
    return json_pack("{s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "account_id",
                     cli_json_str(l->account_id), "locked", (int)l->locked,
                     "reason", cli_json_str(l->reason), "ticket",
                     cli_json_str(l->ticket), "source", cli_json_str(l->source),
                     "created_ms", cli_json_i64(l->created_ms), "expires_ms",
                     cli_json_i64(l->expires_ms), "scope",
                     cli_json_str(l->scope));
}

static json_t *cli_json_place(const Loginrisk__V1__GeoInfo *g)
{
    if (g == NULL)
        return json_null();
    return json_pack("{s:o, s:o, s:b, s:f, s:f, s:I, s:I}", "country",
                     cli_json_str(g->country), "city", cli_json_str(g->city),
                     "has_location", (int)g->has_location, "latitude",
                     g->latitude, "longitude", g->longitude,
                     "accuracy_radius_km", (json_int_t)g->accuracy_radius_km,
                     "asn", (json_int_t)g->asn);
}

static json_t *cli_json_login(const Loginrisk__V1__LoginRecord *l)
{
    json_t *codes = json_array();
    const char *cred = cli_enum_name(
        &loginrisk__v1__credential_result__descriptor, (int)l->credential);
    const char *act =
        cli_enum_name(&loginrisk__v1__action__descriptor, (int)l->action);

    for (size_t i = 0; codes && i < l->n_reason_codes; i++)
        json_array_append_new(codes, cli_json_str(l->reason_codes[i]));
    return json_pack("{s:o, s:o, s:o, s:o, s:s, s:s, s:I, s:o, s:o}",
                     "request_id", cli_json_str(l->request_id), "timestamp_ms",
                     cli_json_i64(l->timestamp_ms), "ip", cli_json_str(l->ip),
                     "device_id", cli_json_str(l->device_id), "credential",
                     cred ? cred : "?", "action", act ? act : "?", "score",
                     (json_int_t)l->score, "geo", cli_json_place(l->geo),
                     "reason_codes", codes ? codes : json_null());
}

static json_t *cli_json_account_lists(const Loginrisk__V1__AccountInfo *a,
                                      json_t *obj)
{
    json_t *dev = json_array(), *logins = json_array(), *cnt = json_object();
    json_t *cc = json_array(), *asns = json_array();

    for (size_t i = 0; dev && i < a->n_devices; i++)
        json_array_append_new(
            dev, json_pack(
                     "{s:o, s:o, s:o}", "device_id",
                     cli_json_str(a->devices[i]->device_id), "first_seen_ms",
                     cli_json_i64(a->devices[i]->first_seen_ms), "last_seen_ms",
                     cli_json_i64(a->devices[i]->last_seen_ms)));
    for (size_t i = 0; logins && i < a->n_recent_logins; i++)
        json_array_append_new(logins, cli_json_login(a->recent_logins[i]));
    for (size_t i = 0; cnt && i < a->n_counters; i++)
        json_object_set_new(cnt, a->counters[i]->name,
                            json_integer((json_int_t)a->counters[i]->value));
    for (size_t i = 0; cc && i < a->n_countries_seen; i++)
        json_array_append_new(cc, cli_json_str(a->countries_seen[i]));
    for (size_t i = 0; asns && i < a->n_asns_seen; i++)
        json_array_append_new(asns, json_integer(a->asns_seen[i]));
    json_object_set_new(obj, "devices", dev ? dev : json_null());
    json_object_set_new(obj, "recent_logins", logins ? logins : json_null());
    json_object_set_new(obj, "counters", cnt ? cnt : json_null());
    json_object_set_new(obj, "countries_seen", cc ? cc : json_null());
    json_object_set_new(obj, "asns_seen", asns ? asns : json_null());
    return obj;
}

static json_t *cli_json_account(const Loginrisk__V1__AccountInfo *a)
{
    json_t *obj =
        json_pack("{s:o, s:o, s:o, s:o, s:b}", "account_id",
                  cli_json_str(a->account_id), "lock", cli_json_lock(a->lock),
                  "last_success_ms", cli_json_i64(a->last_success_ms),
                  "last_success_geo", cli_json_place(a->last_success_geo),
                  "flagged_spray", (int)a->flagged_spray);

    return obj ? cli_json_account_lists(a, obj) : NULL;
}

int cli_cmd_account(struct cli_globals *g, int argc, char **argv)
{
    struct cli_read_args o = {.cmd = "account"};
    const struct cli_command_spec spec = {"account", cli_account_options,
                                          cli_read_opt, cli_account_help, true};
    Loginrisk__V1__GetAccountRequest req =
        LOGINRISK__V1__GET_ACCOUNT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int ex, rest = argc;

    cli_permute_args(argc, argv, spec.opts);
    ex = cli_parse_command(g, &spec, &o, argc, argv, &rest);
    if (ex >= 0)
        return ex;
    if (argc - rest != 1)
        return cli_usage_error("account", "give exactly one account id");
    req.account_id = argv[rest];
    req.max_logins = o.logins;
    ex = cli_read_call(g, &o, CLI_METHOD_GET_ACCOUNT, &req.base,
                       &loginrisk__v1__account_info__descriptor, &resp);
    if (ex)
        return ex;
    if (g->json)
        ex = cli_json_print(
            cli_json_account((Loginrisk__V1__AccountInfo *)resp));
    else
        cli_print_account((Loginrisk__V1__AccountInfo *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return ex;
}

/* ---- locks --------------------------------------------------------------- */

static const struct option cli_locks_options[] = {
    CLI_TOKEN_OPT,
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    {"page-token", required_argument, NULL, OPT_PAGE_TOKEN},
    {"all", no_argument, NULL, OPT_ALL},
    {"count", no_argument, NULL, OPT_COUNT},
    {NULL, 0, NULL, 0},
};

static void cli_locks_help(void)
{
    printf("Usage: riskctl locks [--page-size N] [--page-token T] [--all]\n"
           "                     [--count] [--json]\n"
           "Lists the active locks in account order (AdminService/ListLocks),\n"
           "one page at a time; the next page's token is printed last.\n\n"
           "  --page-size N         locks per page (default 100, at most "
           "1000)\n"
           "  --page-token T        continue where a page ended\n"
           "  --all                 every page (1000 locks per call unless\n"
           "                        --page-size says otherwise)\n"
           "  --count               only the number of active locks\n"
           "" CLI_TOKEN_HELP "\n%s",
           cli_globals_help());
}

static void cli_locks_print(const Loginrisk__V1__ListLocksResponse *r)
{
    char t[40];

    for (size_t i = 0; i < r->n_locks; i++) {
        const Loginrisk__V1__LockInfo *l = r->locks[i];
        printf("%s\t%s\t%s\t%s\t%s\t%s\n", l->account_id,
               cli_when(l->created_ms, t, sizeof(t)), l->source, l->ticket,
               l->expires_ms ? "timed" : "until-unlocked", l->reason);
    }
}

static int cli_locks_page(const struct cli_globals *g, struct cli_read_args *o,
                          json_t *arr, uint64_t *total, char **next)
{
    Loginrisk__V1__ListLocksRequest req =
        LOGINRISK__V1__LIST_LOCKS_REQUEST__INIT;
    Loginrisk__V1__ListLocksResponse *r;
    ProtobufCMessage *resp = NULL;
    int ex;

    req.page_size = o->count ? 1 : o->page_size;
    req.page_token = *next ? *next : (char *)"";
    ex = cli_read_call(g, o, CLI_METHOD_LIST_LOCKS, &req.base,
                       &loginrisk__v1__list_locks_response__descriptor, &resp);
    free(*next);
    *next = NULL;
    if (ex)
        return ex;
    r = (Loginrisk__V1__ListLocksResponse *)resp;
    *total = r->total;
    for (size_t i = 0; arr && !o->count && i < r->n_locks; i++)
        json_array_append_new(arr, cli_json_lock(r->locks[i]));
    if (!g->json && !o->count)
        cli_locks_print(r);
    if (r->next_page_token[0] != '\0' && !o->count)
        *next = strdup(r->next_page_token);
    protobuf_c_message_free_unpacked(resp, NULL);
    return CLI_EXIT_OK;
}

int cli_cmd_locks(struct cli_globals *g, int argc, char **argv)
{
    struct cli_read_args o = {.cmd = "locks"};
    const struct cli_command_spec spec = {"locks", cli_locks_options,
                                          cli_read_opt, cli_locks_help, false};
    json_t *arr;
    uint64_t total = 0;
    char *next = NULL;
    int ex;

    ex = cli_parse_command(g, &spec, &o, argc, argv, NULL);
    if (ex >= 0)
        return ex;
    if (o.all && o.page_size == 0)
        o.page_size = 1000; /* fewer calls for a long list */
    arr = json_array();
    next = o.page_token ? strdup(o.page_token) : NULL;
    do {
        ex = cli_locks_page(g, &o, arr, &total, &next);
    } while (ex == CLI_EXIT_OK && o.all && next != NULL);
    if (ex == CLI_EXIT_OK && g->json) {
        ex = cli_json_print(json_pack("{s:I, s:o, s:s}", "total",
                                      (json_int_t)total, "locks", arr,
                                      "next_page_token", next ? next : ""));
        arr = NULL;
    } else if (ex == CLI_EXIT_OK) {
        printf("%s%" PRIu64 " active locks\n", o.count ? "" : "# ", total);
        if (next != NULL)
            printf("# next page: --page-token %s\n", next);
    }
    json_decref(arr);
    free(next);
    return ex;
}

/* ---- audit --------------------------------------------------------------- */

static const struct option cli_audit_options[] = {
    CLI_TOKEN_OPT,
    {"max", required_argument, NULL, OPT_MAX},
    {NULL, 0, NULL, 0},
};

static void cli_audit_help(void)
{
    printf("Usage: riskctl audit [--max N] [--json]\n"
           "Shows the newest audit rows (AdminService/ListAudit): who locked,\n"
           "unlocked or reloaded, when, why, under which ticket, how many\n"
           "accounts matched and changed.\n\n"
           "  --max N               rows (default 20, at most 1000)\n"
           "" CLI_TOKEN_HELP "\n%s",
           cli_globals_help());
}

static json_t *cli_audit_json(const Loginrisk__V1__ListAuditResponse *r)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < r->n_entries; i++) {
        const Loginrisk__V1__AuditEntry *e = r->entries[i];
        json_array_append_new(
            arr, json_pack(
                     "{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:I}", "id",
                     (json_int_t)e->id, "at_ms", (json_int_t)e->at_ms, "actor",
                     cli_json_str(e->actor), "action", cli_json_str(e->action),
                     "reason", cli_json_str(e->reason), "ticket",
                     cli_json_str(e->ticket), "matched", (json_int_t)e->matched,
                     "changed", (json_int_t)e->changed));
    }
    return json_pack("{s:o}", "entries", arr ? arr : json_null());
}

static void cli_audit_print(const Loginrisk__V1__ListAuditResponse *r)
{
    char t[40];

    printf("%-8s %-24s %-12s %-14s %10s %10s  %s / %s\n", "ID", "AT", "ACTOR",
           "ACTION", "MATCHED", "CHANGED", "TICKET", "REASON");
    for (size_t i = 0; i < r->n_entries; i++) {
        const Loginrisk__V1__AuditEntry *e = r->entries[i];
        printf("%-8" PRId64 " %-24s %-12s %-14s %10" PRIu64 " %10" PRIu64
               "  %s / %s\n",
               e->id, cli_when(e->at_ms, t, sizeof(t)), e->actor, e->action,
               e->matched, e->changed, e->ticket, e->reason);
    }
}

int cli_cmd_audit(struct cli_globals *g, int argc, char **argv)
{
    struct cli_read_args o = {.cmd = "audit"};
    const struct cli_command_spec spec = {"audit", cli_audit_options,
                                          cli_read_opt, cli_audit_help, false};
    Loginrisk__V1__ListAuditRequest req =
        LOGINRISK__V1__LIST_AUDIT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int ex;

    ex = cli_parse_command(g, &spec, &o, argc, argv, NULL);
    if (ex >= 0)
        return ex;
    req.max = o.max;
    ex = cli_read_call(g, &o, CLI_METHOD_LIST_AUDIT, &req.base,
                       &loginrisk__v1__list_audit_response__descriptor, &resp);
    if (ex)
        return ex;
    if (g->json)
        ex = cli_json_print(
            cli_audit_json((Loginrisk__V1__ListAuditResponse *)resp));
    else
        cli_audit_print((Loginrisk__V1__ListAuditResponse *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return ex;
}

/* ---- reload -------------------------------------------------------------- */

static const struct option cli_reload_options[] = {
    CLI_TOKEN_OPT,
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

static void cli_reload_help(void)
{
    printf("Usage: riskctl reload [--dry-run] [--json]\n"
           "Asks the agent to re-read its config file (AdminService/\n"
           "ReloadConfig): it is validated, then swapped in atomically; on\n"
           "any error the running policy stays and the errors are printed\n"
           "as file:line. --dry-run validates only. Exits 0 when the file\n"
           "is good (and, without --dry-run, applied), 1 otherwise.\n\n"
           "  --dry-run             validate, change nothing\n"
           "" CLI_TOKEN_HELP "\n%s",
           cli_globals_help());
}

static int cli_reload_show(const struct cli_globals *g, bool dry_run,
                           const Loginrisk__V1__ReloadConfigResponse *r)
{
    json_t *errs = json_array();
    bool good = r->n_errors == 0 && (dry_run || r->applied);

    for (size_t i = 0; i < r->n_errors; i++) {
        if (errs)
            json_array_append_new(errs, cli_json_str(r->errors[i]));
        if (!g->json)
            fprintf(stderr, "%s\n", r->errors[i]);
    }
    if (g->json) {
        json_t *j =
            json_pack("{s:b, s:b, s:b, s:o, s:o}", "ok", (int)good, "dry_run",
                      (int)dry_run, "applied", (int)r->applied,
                      "policy_version", cli_json_str(r->policy_version),
                      "errors", errs ? errs : json_null());
        int ex = cli_json_print(j);
        return ex ? ex : (good ? CLI_EXIT_OK : CLI_EXIT_RPC);
    }
    json_decref(errs);
    if (!good)
        fprintf(stderr, "riskctl reload: refused; policy %s stays\n",
                r->policy_version);
    else if (dry_run)
        printf("dry run: the config is valid (running policy %s)\n",
               r->policy_version);
    else
        printf("reloaded: policy %s\n", r->policy_version);
    return good ? CLI_EXIT_OK : CLI_EXIT_RPC;
}

int cli_cmd_reload(struct cli_globals *g, int argc, char **argv)
{
    struct cli_read_args o = {.cmd = "reload"};
    const struct cli_command_spec spec = {"reload", cli_reload_options,
                                          cli_read_opt, cli_reload_help, false};
    Loginrisk__V1__ReloadConfigRequest req =
        LOGINRISK__V1__RELOAD_CONFIG_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int ex;

    ex = cli_parse_command(g, &spec, &o, argc, argv, NULL);
    if (ex >= 0)
        return ex;
    req.dry_run = o.dry_run;
    ex = cli_read_call(g, &o, CLI_METHOD_RELOAD, &req.base,
                       &loginrisk__v1__reload_config_response__descriptor,
                       &resp);
    if (ex)
        return ex;
    ex = cli_reload_show(g, o.dry_run,
                         (Loginrisk__V1__ReloadConfigResponse *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return ex;
}

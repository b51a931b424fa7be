/*
 * cli_cmd_lock.c - `riskctl lock` and `riskctl unlock`: bulk locks from a
 * list of account ids, in batches.
 *
 * The ids (arguments, --file FILE, or --file - for stdin) are read and
 * checked first; then each batch of --batch ids is one LockAccounts or
 * UnlockAccounts call. The calls are idempotent, so a batch whose answer
 * was lost is simply sent again: transient failures (UNAVAILABLE,
 * DEADLINE_EXCEEDED, a busy agent) are retried with backoff, and a batch
 * the agent finds too large for its message limit is split in two until it
 * fits. Authentication and permission failures stop the run at once.
 *
 * With --resume STATEFILE every confirmed batch is recorded, and a rerun
 * with the same file and the same list skips them, so an interrupted run of
 * a million ids continues where it stopped.
 */
#include "cli/cli_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_RETRIES 4         /* attempts of one call on transient errors */
#define CLI_RETRY_BASE_MS 250 /* first backoff, doubled each time */
#define CLI_FAILURES_SHOWN 20 /* failed batches listed in the result */
#define CLI_ABORT_AFTER 3     /* consecutive failed batches stop the run */

enum {
    OPT_FILE = CLI_OPT_SUB,
    OPT_REASON,
    OPT_TICKET,
    OPT_DURATION,
    OPT_DRY_RUN,
    OPT_BATCH,
    OPT_RESUME,
    OPT_TOKEN_FILE,
    OPT_QUIET,
};

static const struct option cli_lock_options[] = {
    {"file", required_argument, NULL, OPT_FILE},
    {"reason", required_argument, NULL, OPT_REASON},
    {"ticket", required_argument, NULL, OPT_TICKET},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {NULL, 0, NULL, 0},
};

struct cli_lock_args {
    bool lock;
    const char *cmd;
    const char *file;
    char *reason; /* from argv */
    char *ticket;
    uint64_t duration_s;
    bool dry_run;
    size_t batch;
    const char *resume;
    const char *token_file;
    bool quiet;
};

static void cli_lock_help_text(bool lock)
{
    const char *cmd = lock ? "lock" : "unlock";

    printf("Usage: riskctl %s [ID...] [--file FILE|-] --reason R --ticket T\n"
           "       [%s--dry-run] [--batch N] [--resume STATEFILE] [--json]\n"
           "%s accounts in batches (AdminService/%s). Ids come\n"
           "from the arguments or a file, one per line (blank lines are\n"
           "skipped; --file - reads stdin). Every id is checked before the\n"
           "first batch is sent. Needs a responder token.\n\n"
           "  --file FILE           read account ids from FILE ('-' = stdin)\n"
           "  --reason R            why (required; stored in the audit log)\n"
           "  --ticket T            incident ticket (required)\n",
           cmd, lock ? "--duration D] [" : "", lock ? "Locks" : "Unlocks",
           lock ? "LockAccounts" : "UnlockAccounts");
    if (lock)
        printf(
            "  --duration D          30m, 12h, 7d, 2w or seconds (default: "
            "the\n"
            "                        agent's locks.default_duration_s, which\n"
            "                        is 0 = until unlocked unless set)\n");
    printf("  --dry-run             count what would change, change nothing\n"
           "  --batch N             ids per call (default %d, at most %d)\n"
           "  --resume STATEFILE    record confirmed batches in STATEFILE and\n"
           "                        skip them when run again with the same\n"
           "                        list\n"
           "  --token-file FILE     admin token (default: $RISKCTL_TOKEN)\n"
           "  --quiet               no progress on stderr\n\n"
           "Each call waits up to 60 s unless --timeout-ms says otherwise.\n"
           "Exit codes: 0 every batch confirmed, 3 some batches failed (the\n"
           "others were applied; run again with --resume), 1 nothing done,\n"
           "2 usage error.\n\n%s",
           CLI_BATCH_DEFAULT, CLI_BATCH_MAX, cli_globals_help());
}

static void cli_lock_help(void)
{
    cli_lock_help_text(true);
}

static void cli_unlock_help(void)
{
    cli_lock_help_text(false);
}

static int cli_lock_opt(void *ctx, int opt, char *arg)
{
    struct cli_lock_args *o = ctx;
    int64_t n;

    switch (opt) {
    case OPT_FILE:
        o->file = arg;
        break;
    case OPT_REASON:
        o->reason = arg;
        break;
    case OPT_TICKET:
        o->ticket = arg;
        break;
    case OPT_DURATION:
        if (!o->lock || cli_parse_duration(arg, &o->duration_s))
            return cli_usage_error(
                o->cmd, "bad --duration '%s' (30m, 12h, 7d, 0)", arg);
        break;
    case OPT_DRY_RUN:
        o->dry_run = true;
        break;
    case OPT_BATCH:
        if (cli_parse_i64(arg, &n) || n < 1 || n > CLI_BATCH_MAX)
            return cli_usage_error(o->cmd, "--batch wants 1..%d, got '%s'",
                                   CLI_BATCH_MAX, arg);
        o->batch = (size_t)n;
        break;
    case OPT_RESUME:
        o->resume = arg;
        break;
    case OPT_TOKEN_FILE:
        o->token_file = arg;
        break;
    case OPT_QUIET:
        o->quiet = true;
        break;
    default:
        return cli_usage_error(o->cmd, "unknown option");
    }
    return -1;
}

/* ---- the run --------------------------------------------------------------
 */

struct cli_failure {
    size_t batch;
    int code;
    char message[160];
};

struct cli_bulk {
    const struct cli_lock_args *o;
    struct cli_admin a;
    struct cli_ids ids;
    struct cli_resume res;
    char **ptrs;  /* one batch of ids for the request */
    size_t chunk; /* ids per call that fit the agent's message limit */
    size_t n_batches;
    /* what the agent confirmed, call by call */
    uint64_t matched, changed, unchanged;
    int64_t *audit;
    size_t n_audit, cap_audit;
    char sample[CLI_SAMPLE_MAX][CLI_ID_MAX + 1];
    size_t n_sample;
    /* batches */
    size_t ok, failed, skipped;
    size_t ids_done, ids_failed, ids_skipped; /* ids by batch outcome */
    struct cli_failure failures[CLI_FAILURES_SHOWN];
    size_t n_failures;
    char abort_msg[CLI_STATUS_MSG_MAX + 64];
    struct cli_progress progress;
    int64_t start_ns;
};

static void cli_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static bool cli_too_large(int rc, const struct cli_status *st)
{
    return rc == LR_FULL ||
           (rc == LR_GRPC && st->code == CLI_ST_RESOURCE_EXHAUSTED &&
            strstr(st->message, "larger than max") != NULL);
}

static bool cli_throttled(int rc, const struct cli_status *st)
{
    return rc == LR_GRPC && st->code == CLI_ST_RESOURCE_EXHAUSTED &&
           strstr(st->message, "authentication throttled") != NULL;
}

static bool cli_transient(int rc, const struct cli_status *st)
{
    if (rc != LR_GRPC || cli_too_large(rc, st) || cli_throttled(rc, st))
        return false;
    return st->code == CLI_ST_UNAVAILABLE ||
           st->code == CLI_ST_DEADLINE_EXCEEDED ||
           st->code == CLI_ST_RESOURCE_EXHAUSTED;
}

/* Failures after which no later batch can succeed either. */
static bool cli_fatal(int rc, const struct cli_status *st)
{
    if (rc != LR_GRPC)
        return true; /* local: out of memory, undecodable answers */
    return cli_throttled(rc, st) || st->code == CLI_ST_UNAUTHENTICATED ||
           st->code == CLI_ST_PERMISSION_DENIED ||
           st->code == CLI_ST_UNAVAILABLE || st->code == CLI_ST_UNIMPLEMENTED;
}

static int cli_audit_push(struct cli_bulk *b, int64_t id)
{
    if (b->n_audit == b->cap_audit) {
        size_t cap = b->cap_audit ? b->cap_audit * 2 : 64;
        int64_t *a = realloc(b->audit, cap * sizeof(*a));
        if (a == NULL)
            return LR_NOMEM;
        b->audit = a;
        b->cap_audit = cap;
    }
    b->audit[b->n_audit++] = id;
    return LR_OK;
}

/* Adds one confirmed call to the totals. */
static int cli_bulk_confirmed(struct cli_bulk *b,
                              const Loginrisk__V1__BulkResult *r,
                              struct cli_batch_result *out)
{
    int64_t audit = 0;

    b->matched += r->matched;
    b->changed += r->changed;
    b->unchanged += r->unchanged;
    out->matched += r->matched;
    out->changed += r->changed;
    out->unchanged += r->unchanged;
    for (size_t i = 0; i < r->n_sample && b->n_sample < CLI_SAMPLE_MAX; i++)
        lr_strlcpy(b->sample[b->n_sample++], r->sample[i],
                   sizeof(b->sample[0]));
    if (r->audit_id != NULL && r->audit_id[0] != '\0' &&
        cli_parse_i64(r->audit_id, &audit) == LR_OK && audit > 0) {
        out->audit_id = audit;
        return cli_audit_push(b, audit);
    }
    return LR_OK;
}

/* One call for ids [from, from + n), retried while the failure is passing. */
static int cli_bulk_call(struct cli_bulk *b, size_t from, size_t n,
                         struct cli_batch_result *out, struct cli_status *st)
{
    Loginrisk__V1__LockRequest lr = LOGINRISK__V1__LOCK_REQUEST__INIT;
    Loginrisk__V1__UnlockRequest ur = LOGINRISK__V1__UNLOCK_REQUEST__INIT;
    const struct cli_lock_args *o = b->o;
    ProtobufCMessage *resp = NULL;
    int rc = LR_OK;

    for (size_t i = 0; i < n; i++)
        b->ptrs[i] = b->ids.buf + b->ids.off[from + i];
    lr.account_ids = ur.account_ids = b->ptrs;
    lr.n_account_ids = ur.n_account_ids = n;
    lr.reason = ur.reason = o->reason;
    lr.ticket = ur.ticket = o->ticket;
    lr.duration_s = o->duration_s;
    lr.dry_run = ur.dry_run = o->dry_run;
    for (int attempt = 0; attempt < CLI_RETRIES; attempt++) {
        if (attempt > 0)
            cli_sleep_ms((int64_t)CLI_RETRY_BASE_MS << (attempt - 1));
        rc =
            cli_admin_call(&b->a, o->lock ? CLI_METHOD_LOCK : CLI_METHOD_UNLOCK,
                           o->lock ? &lr.base : &ur.base,
                           &loginrisk__v1__bulk_result__descriptor, st, &resp);
        if (!cli_transient(rc, st))
            break;
    }
    if (rc == LR_OK) {
        rc = cli_bulk_confirmed(b, (Loginrisk__V1__BulkResult *)resp, out);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return rc;
}

/*
 * Sends ids [from, from + n), halving when the agent says the message is
 * over its limit; the size that fits is remembered for the next batches.
 */
static int cli_bulk_send(struct cli_bulk *b, size_t from, size_t n,
                         struct cli_batch_result *out, struct cli_status *st)
{
    int rc = LR_OK;

    for (size_t at = 0; rc == LR_OK && at < n;) {
        size_t k = n - at < b->chunk ? n - at : b->chunk;
        rc = cli_bulk_call(b, from + at, k, out, st);
        if (cli_too_large(rc, st) && k > 1) {
            b->chunk = k / 2;
            rc = LR_OK;
            continue;
        }
        at += k;
    }
    return rc;
}

static void cli_bulk_failed(struct cli_bulk *b, size_t i, size_t n, int rc,
                            const struct cli_status *st)
{
    b->failed++;
    b->ids_failed += n;
    if (b->n_failures < CLI_FAILURES_SHOWN) {
        struct cli_failure *f = &b->failures[b->n_failures++];
        f->batch = i;
        f->code = rc == LR_GRPC ? st->code : -1;
        snprintf(f->message, sizeof(f->message), "%s",
                 rc == LR_GRPC || st->message[0] ? st->message
                                                 : lr_strerror(rc));
    }
    if (cli_fatal(rc, st))
        snprintf(b->abort_msg, sizeof(b->abort_msg), "%s: %s",
                 rc == LR_GRPC ? cli_status_name(st->code) : "client",
                 st->message[0] ? st->message : lr_strerror(rc));
}

static void cli_bulk_batch(struct cli_bulk *b, size_t i, size_t *streak)
{
    size_t from = i * b->o->batch;
    size_t n = b->ids.n - from < b->o->batch ? b->ids.n - from : b->o->batch;
    struct cli_batch_result r = {0};
    struct cli_status st = {0};
    int rc = cli_bulk_send(b, from, n, &r, &st);

    if (rc) {
        cli_bulk_failed(b, i, n, rc, &st);
        if (++*streak >= CLI_ABORT_AFTER && b->abort_msg[0] == '\0')
            snprintf(b->abort_msg, sizeof(b->abort_msg),
                     "%d batches in a row failed; last: %s: %s",
                     CLI_ABORT_AFTER, cli_status_name(st.code), st.message);
        return;
    }
    *streak = 0;
    b->ok++;
    b->ids_done += n;
    if (b->o->resume != NULL && cli_resume_mark(&b->res, i, &r) != LR_OK)
        snprintf(b->abort_msg, sizeof(b->abort_msg),
                 "cannot write the resume file %s", b->o->resume);
}

static void cli_bulk_loop(struct cli_bulk *b)
{
    size_t streak = 0;

    cli_progress_init(&b->progress, b->o->cmd, b->ids.n, !b->o->quiet);
    for (size_t i = 0; i < b->n_batches && b->abort_msg[0] == '\0'; i++) {
        if (b->o->resume != NULL && b->res.done[i]) {
            size_t from = i * b->o->batch;
            b->skipped++;
            b->ids_skipped +=
                b->ids.n - from < b->o->batch ? b->ids.n - from : b->o->batch;
            continue;
        }
        cli_bulk_batch(b, i, &streak);
        cli_progress_update(&b->progress,
                            b->ids_done + b->ids_failed + b->ids_skipped,
                            b->ids_failed);
    }
    cli_progress_finish(&b->progress,
                        b->ids_done + b->ids_failed + b->ids_skipped,
                        b->ids_failed);
}

/* ---- output ---------------------------------------------------------------
 */

static json_t *cli_bulk_json_failures(const struct cli_bulk *b)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < b->n_failures; i++) {
        const struct cli_failure *f = &b->failures[i];
        json_array_append_new(
            arr, json_pack("{s:I, s:I, s:s, s:o}", "batch",
                           (json_int_t)f->batch, "first_id",
                           (json_int_t)(f->batch * b->o->batch), "status",
                           f->code >= 0 ? cli_status_name(f->code) : "CLIENT",
                           "message", cli_json_str(f->message)));
    }
    return arr;
}

static json_t *cli_bulk_json_lists(const struct cli_bulk *b, json_t **sample)
{
    json_t *audit = json_array();

    *sample = json_array();
    for (size_t i = 0; audit && i < b->n_audit; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%" PRId64, b->audit[i]);
        json_array_append_new(audit, json_string(id));
    }
    for (size_t i = 0; *sample && i < b->n_sample; i++)
        json_array_append_new(*sample, cli_json_str(b->sample[i]));
    return audit;
}

static int cli_bulk_json(const struct cli_bulk *b, double secs)
{
    char last[24] = "";
    json_t *sample, *audit = cli_bulk_json_lists(b, &sample);

    if (b->n_audit > 0)
        snprintf(last, sizeof(last), "%" PRId64, b->audit[b->n_audit - 1]);
    return cli_json_print(json_pack(
        "{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, "
        "s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I}, s:f, s:f}",
        "operation", b->o->cmd, "dry_run", (int)b->o->dry_run, "ids",
        (json_int_t)b->ids.n, "batch_size", (json_int_t)b->o->batch, "batches",
        (json_int_t)b->n_batches, "batches_ok", (json_int_t)b->ok,
        "batches_failed", (json_int_t)b->failed, "batches_skipped",
        (json_int_t)b->skipped, "matched", (json_int_t)b->matched, "changed",
        (json_int_t)b->changed, "unchanged", (json_int_t)b->unchanged,
        "audit_id", last, "audit_ids", audit ? audit : json_null(), "sample",
        sample ? sample : json_null(), "failures", cli_bulk_json_failures(b),
        "aborted", b->abort_msg[0] ? cli_json_str(b->abort_msg) : json_null(),
        "resumed", "batches", (json_int_t)b->skipped, "matched",
        (json_int_t)b->res.total.matched, "changed",
        (json_int_t)b->res.total.changed, "unchanged",
        (json_int_t)b->res.total.unchanged, "elapsed_s", secs, "ids_per_s",
        secs > 0 ? (double)b->ids_done / secs : 0.0));
}

static void cli_bulk_text(const struct cli_bulk *b, double secs)
{
    printf("%s%s: %zu ids in %zu batch%s of up to %zu\n",
           b->o->dry_run ? "dry run: " : "", b->o->cmd, b->ids.n, b->n_batches,
           b->n_batches == 1 ? "" : "es", b->o->batch);
    printf("  %" PRIu64 " matched, %" PRIu64 " %s, %" PRIu64 " unchanged\n",
           b->matched, b->changed, b->o->dry_run ? "would change" : "changed",
           b->unchanged);
    if (b->skipped > 0)
        printf("  %zu batches confirmed by an earlier run skipped (%" PRIu64
               " changed then)\n",
               b->skipped, b->res.total.changed);
    if (b->n_audit == 1)
        printf("  audit id %" PRId64 "\n", b->audit[0]);
    else if (b->n_audit > 1)
        printf("  audit ids %" PRId64 " .. %" PRId64 " (%zu rows)\n",
               b->audit[0], b->audit[b->n_audit - 1], b->n_audit);
    for (size_t i = 0; i < b->n_failures; i++)
        printf("  batch %zu (ids from #%zu) failed: %s: %s\n",
               b->failures[i].batch, b->failures[i].batch * b->o->batch + 1,
               b->failures[i].code >= 0 ? cli_status_name(b->failures[i].code)
                                        : "client",
               b->failures[i].message);
    if (b->failed > 0 && b->ok + b->skipped > 0)
        printf("  %zu of %zu batches failed%s\n", b->failed, b->n_batches,
               b->o->resume ? "; run again with the same --resume file"
                            : "; rerun with --resume to retry only them");
    printf("  %.1f s, %.0f ids/s\n", secs,
           secs > 0 ? (double)b->ids_done / secs : 0.0);
}

/* ---- command --------------------------------------------------------------
 */

static int cli_lock_ids(struct cli_lock_args *o, int argc, char **argv,
                        int rest, struct cli_ids *ids)
{
    char err[512];
    FILE *f;
    int rc = LR_OK;

    for (int i = rest; i < argc && rc == LR_OK; i++) {
        rc = cli_ids_add(ids, argv[i], strlen(argv[i]), err, sizeof(err));
        if (rc)
            return cli_usage_error(o->cmd, "argument %d: %s", i - rest + 1,
                                   err);
    }
    if (o->file == NULL)
        return ids->n > 0 ? -1
                          : cli_usage_error(o->cmd, "no account ids: give "
                                                    "them as arguments or "
                                                    "with --file FILE|-");
    f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "r");
    if (f == NULL)
        return cli_usage_error(o->cmd, "--file %s: cannot open it", o->file);
    rc = cli_ids_read(f, strcmp(o->file, "-") == 0 ? "<stdin>" : o->file, ids,
                      err, sizeof(err));
    if (f != stdin)
        fclose(f);
    if (rc)
        return cli_usage_error(o->cmd, "%s", err);
    if (ids->n == 0)
        return cli_usage_error(o->cmd, "%s holds no account ids", o->file);
    return -1;
}

static int cli_lock_check(struct cli_lock_args *o)
{
    if (o->reason == NULL || o->reason[0] == '\0')
        return cli_usage_error(o->cmd, "--reason is required (say why)");
    if (o->ticket == NULL || o->ticket[0] == '\0')
        return cli_usage_error(o->cmd, "--ticket is required");
    if (strlen(o->reason) > 256 || strlen(o->ticket) > 256)
        return cli_usage_error(o->cmd, "--reason and --ticket: at most 256 "
                                       "bytes");
    if (o->resume != NULL && o->dry_run)
        return cli_usage_error(o->cmd, "--resume records changes; a --dry-run "
                                       "makes none");
    return -1;
}

static int cli_bulk_prepare(struct cli_bulk *b, const struct cli_globals *g)
{
    char err[512];
    int ex;

    b->n_batches = (b->ids.n + b->o->batch - 1) / b->o->batch;
    b->chunk = b->o->batch;
    b->ptrs = malloc(b->o->batch * sizeof(*b->ptrs));
    if (b->ptrs == NULL) {
        fprintf(stderr, "riskctl %s: out of memory\n", b->o->cmd);
        return CLI_EXIT_RPC;
    }
    if (b->o->resume != NULL &&
        cli_resume_open(b->o->resume, b->o->cmd, b->o->batch, b->ids.n,
                        cli_ids_digest(&b->ids, b->o->cmd, b->o->batch),
                        &b->res, err, sizeof(err)) != LR_OK)
        return cli_usage_error(b->o->cmd, "%s", err);
    ex = cli_admin_open(g, b->o->cmd, b->o->token_file, &b->a);
    if (ex == CLI_EXIT_OK && g->timeout_ms == CLI_DEFAULT_TIMEOUT_MS)
        b->a.timeout_ms = CLI_BULK_TIMEOUT_MS;
    return ex;
}

static int cli_bulk_run(struct cli_lock_args *o, const struct cli_globals *g,
                        struct cli_bulk *b)
{
    double secs;
    int ex;

    b->o = o;
    ex = cli_bulk_prepare(b, g);
    if (ex)
        return ex;
    b->start_ns = lr_mono_ns();
    cli_bulk_loop(b);
    secs = (double)(lr_mono_ns() - b->start_ns) / 1e9;
    if (b->abort_msg[0] != '\0')
        fprintf(stderr, "riskctl %s: stopped: %s\n", o->cmd, b->abort_msg);
    if (g->json)
        ex = cli_bulk_json(b, secs);
    else
        cli_bulk_text(b, secs);
    /* batches a stop left unsent count as failed */
    if (ex == CLI_EXIT_OK)
        ex = cli_bulk_exit_code(b->ok, b->n_batches - b->ok - b->skipped,
                                b->skipped);
    return ex;
}

static int cli_lock_main(struct cli_globals *g, struct cli_lock_args *o,
                         const struct cli_command_spec *spec, int argc,
                         char **argv)
{
    struct cli_bulk *b = calloc(1, sizeof(*b));
    int ex, rest = argc;

    if (b == NULL) {
        fprintf(stderr, "riskctl %s: out of memory\n", o->cmd);
        return CLI_EXIT_RPC;
    }
    cli_permute_args(argc, argv, spec->opts);
    ex = cli_parse_command(g, spec, o, argc, argv, &rest);
    if (ex < 0)
        ex = cli_lock_check(o);
    if (ex < 0)
        ex = cli_lock_ids(o, argc, argv, rest, &b->ids);
    if (ex < 0)
        ex = cli_bulk_run(o, g, b);
    cli_admin_close(&b->a);
    cli_resume_close(&b->res);
    cli_ids_free(&b->ids);
    free(b->ptrs);
    free(b->audit);
    free(b);
    return ex;
}

int cli_cmd_lock(struct cli_globals *g, int argc, char **argv)
{
    struct cli_lock_args o = {
        .lock = true, .cmd = "lock", .batch = CLI_BATCH_DEFAULT};
    const struct cli_command_spec spec = {
        .name = "lock",
        .opts = cli_lock_options,
        .apply = cli_lock_opt,
        .help = cli_lock_help,
        .positional = true,
    };

    return cli_lock_main(g, &o, &spec, argc, argv);
}

int cli_cmd_unlock(struct cli_globals *g, int argc, char **argv)
{
    struct cli_lock_args o = {
        .lock = false, .cmd = "unlock", .batch = CLI_BATCH_DEFAULT};
    const struct cli_command_spec spec = {
        .name = "unlock",
        .opts = cli_lock_options,
        .apply = cli_lock_opt,
        .help = cli_unlock_help,
        .positional = true,
    };

    return cli_lock_main(g, &o, &spec, argc, argv);
}

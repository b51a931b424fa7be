/*
 * cli_cmd_replay.c - `riskctl replay --config DRAFT.yaml [--baseline
 * CURRENT.yaml] EVENTS.jsonl`: the command line and the report of a replay
 * (the run itself is cli_replay.c).
 *
 * The text report puts the two policies side by side: action counts, the
 * flow between actions (how many ALLOW became CAPTCHA), the reasons behind
 * the changed decisions, and a sample of them. --json prints all of it as
 * one object for scripts and notebooks. Malformed lines go to stderr as
 * "FILE:LINE: what is wrong" and are skipped; they never stop a replay.
 */
#include "cli/cli_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_BAD_SHOWN 20     /* malformed lines printed in text mode */
#define CLI_REASONS_SHOWN 25 /* reason rows printed in text mode */
#define CLI_SAMPLE_DEFAULT 10

enum {
    OPT_CONFIG = CLI_OPT_SUB,
    OPT_BASELINE,
    OPT_SAMPLE,
};

static const struct option cli_replay_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {NULL, 0, NULL, 0},
};

static void cli_replay_help(void)
{
    printf(
        "Usage: riskctl replay --config DRAFT.yaml [--baseline CURRENT.yaml]\n"
        "                      [--sample N] [--json] EVENTS.jsonl|-\n"
        "Runs recorded login events through the engine in-process, in time\n"
        "order, with a fresh state and no store, under the draft policy and\n"
        "the baseline, and shows what the draft would change: action counts\n"
        "side by side, the flow between actions, the reasons behind the\n"
        "changes and a sample of changed decisions. Nothing is sent to an\n"
        "agent and nothing is written.\n\n"
        "EVENTS.jsonl holds one JSON object per line with the LoginAttempt\n"
        "fields (account_id, ip, timestamp_ms, credential, device_id, ...);\n"
        "the agent's decision log can be replayed as it is. Malformed lines\n"
        "are reported as FILE:LINE and skipped.\n\n"
        "  --config DRAFT.yaml     the policy to try\n"
        "  --baseline CURRENT.yaml the policy to compare with (default: the\n"
        "                          decisions recorded in the events, as in a\n"
        "                          decision log)\n"
        "  --sample N              changed decisions to show (default %d, at\n"
        "                          most %d)\n"
        "  --json                  the whole result as one JSON object\n",
        CLI_SAMPLE_DEFAULT, CLI_REPLAY_SAMPLE_MAX);
}

static int cli_replay_opt(void *ctx, int opt, char *arg)
{
    struct cli_replay_opts *o = ctx;
    int64_t v;

    switch (opt) {
    case OPT_CONFIG:
        o->draft_path = arg;
        return -1;
    case OPT_BASELINE:
        o->baseline_path = arg;
        return -1;
    case OPT_SAMPLE:
        if (cli_parse_i64(arg, &v) || v < 0 || v > CLI_REPLAY_SAMPLE_MAX)
            return cli_usage_error("replay", "--sample wants 0..%d",
                                   CLI_REPLAY_SAMPLE_MAX);
        o->sample = (size_t)v;
        return -1;
    default:
        return cli_usage_error("replay", "unknown option");
    }
}

/* ---- text -----------------------------------------------------------------
 */

static const enum lr_action cli_actions[] = {
    LR_ACTION_ALLOW, LR_ACTION_CAPTCHA, LR_ACTION_CHALLENGE_2FA, LR_ACTION_LOCK,
    LR_ACTION_UNSPECIFIED};

static void cli_print_counts(const struct cli_replay *r)
{
    const struct cli_flow *f = &r->flow;

    printf("\n%-10s %12s %12s %12s\n", "action", "baseline", "draft", "change");
    for (size_t i = 0; i < LR_ARRAY_LEN(cli_actions); i++) {
        unsigned a = (unsigned)cli_actions[i];
        if (a == LR_ACTION_UNSPECIFIED && f->baseline[a] == 0 &&
            f->draft[a] == 0)
            continue;
        printf("%-10s %12" PRIu64 " %12" PRIu64 " %+12" PRId64 "\n",
               cli_action_short(cli_actions[i]), f->baseline[a], f->draft[a],
               (int64_t)(f->draft[a] - f->baseline[a]));
    }
    printf("%-10s %12" PRIu64 " %12" PRIu64 "\n", "total", f->events,
           f->events);
}

static void cli_print_flow(const struct cli_replay *r)
{
    const struct cli_flow *f = &r->flow;

    printf("\nchanged decisions: %" PRIu64 " of %" PRIu64 " (%.2f%%)\n",
           f->changed, f->events,
           f->events ? 100.0 * (double)f->changed / (double)f->events : 0.0);
    if (f->changed == 0)
        return;
    printf("flow (baseline -> draft):\n");
    for (size_t i = 0; i < LR_ARRAY_LEN(cli_actions); i++) {
        for (size_t j = 0; j < LR_ARRAY_LEN(cli_actions); j++) {
            uint64_t n = f->flow[cli_actions[i]][cli_actions[j]];
            if (i == j || n == 0)
                continue;
            printf("  %-8s -> %-8s %12" PRIu64 "\n",
                   cli_action_short(cli_actions[i]),
                   cli_action_short(cli_actions[j]), n);
        }
    }
}

static void cli_print_reasons(const struct cli_replay *r)
{
    const struct cli_reasons *rs = &r->reasons;

    if (rs->n == 0)
        return;
    printf("\nreasons in the changed decisions:\n");
    if (r->baseline_recorded)
        printf("  %-28s %10s %10s\n", "code", "decisions", "escalated");
    else
        printf("  %-28s %10s %10s %10s %10s\n", "code", "decisions",
               "escalated", "added", "removed");
    for (size_t i = 0; i < rs->n && i < CLI_REASONS_SHOWN; i++) {
        const struct cli_reason_tally *t = &rs->t[i];
        printf("  %-28s %10" PRIu64 " %10" PRIu64, t->code, t->in_changed,
               t->escalated);
        if (!r->baseline_recorded)
            printf(" %10" PRIu64 " %10" PRIu64, t->added, t->removed);
        printf("\n");
    }
    if (rs->n > CLI_REASONS_SHOWN)
        printf("  ... %zu more (see --json)\n", rs->n - CLI_REASONS_SHOWN);
}

static void cli_print_samples(const struct cli_replay *r)
{
    char t[40];

    if (r->n_samples == 0)
        return;
    printf("\nsample of changed decisions:\n");
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct cli_replay_sample *s = &r->samples[i];
        cli_format_time(s->timestamp_ms, t, sizeof(t));
        printf("  line %lu  %s  %s  %s\n", s->line, t, s->account_id, s->ip);
        printf("    baseline %-7s %3d  %s\n", cli_action_short(s->base.action),
               s->base.score,
               r->baseline_recorded ? "(recorded)" : s->base.reasons);
        printf("    draft    %-7s %3d  %s\n", cli_action_short(s->draft.action),
               s->draft.score, s->draft.reasons);
    }
}

static void cli_replay_text(const struct cli_replay_opts *o,
                            const struct cli_replay *r)
{
    char t1[40], t2[40];

    cli_format_time(r->first_ms, t1, sizeof(t1));
    cli_format_time(r->last_ms, t2, sizeof(t2));
    printf("replay: %" PRIu64 " events from %s", r->flow.events,
           o->events_path);
    if (r->flow.events > 0)
        printf(" (%s .. %s)", t1, t2);
    printf(", %" PRIu64 " malformed lines skipped", r->malformed);
    if (r->failed > 0)
        printf(", %" PRIu64 " not scored", r->failed);
    printf(", %.2f s\n", r->secs);
    printf("baseline: %s (%s)\ndraft:    %s (%s)\n",
           o->baseline_path ? o->baseline_path : "the recorded decisions",
           r->base_version, o->draft_path, r->draft_version);
    cli_print_counts(r);
    cli_print_flow(r);
    cli_print_reasons(r);
    cli_print_samples(r);
}

/* ---- JSON -----------------------------------------------------------------
 */

static json_t *cli_counts_json(const uint64_t *counts)
{
    json_t *o = json_object();

    for (size_t i = 0; o && i < LR_ARRAY_LEN(cli_actions); i++)
        json_object_set_new(o, cli_action_short(cli_actions[i]),
                            json_integer((json_int_t)counts[cli_actions[i]]));
    return o;
}

static json_t *cli_flow_json(const struct cli_flow *f)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < LR_ARRAY_LEN(cli_actions); i++) {
        for (size_t j = 0; j < LR_ARRAY_LEN(cli_actions); j++) {
            uint64_t n = f->flow[cli_actions[i]][cli_actions[j]];
            if (n == 0)
                continue;
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:I}", "from",
                               cli_action_short(cli_actions[i]), "to",
                               cli_action_short(cli_actions[j]), "count",
                               (json_int_t)n));
        }
    }
    return arr;
}

static json_t *cli_reasons_json(const struct cli_reasons *rs)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < rs->n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:I, s:I, s:I, s:I}", "code", rs->t[i].code,
                           "decisions", (json_int_t)rs->t[i].in_changed,
                           "escalated", (json_int_t)rs->t[i].escalated, "added",
                           (json_int_t)rs->t[i].added, "removed",
                           (json_int_t)rs->t[i].removed));
    return arr;
}

static json_t *cli_side_json(const struct cli_replay_side *s)
{
    return json_pack("{s:s, s:i, s:o}", "action", cli_action_short(s->action),
                     "score", s->score, "reasons", cli_json_str(s->reasons));
}

static json_t *cli_samples_json(const struct cli_replay *r)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < r->n_samples; i++) {
        const struct cli_replay_sample *s = &r->samples[i];
        json_array_append_new(
            arr, json_pack("{s:I, s:I, s:o, s:s, s:o, s:o}", "line",
                           (json_int_t)s->line, "timestamp_ms",
                           (json_int_t)s->timestamp_ms, "account_id",
                           cli_json_str(s->account_id), "ip", s->ip, "baseline",
                           cli_side_json(&s->base), "draft",
                           cli_side_json(&s->draft)));
    }
    return arr;
}

static json_t *cli_bad_json(const struct cli_replay *r)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < r->n_bad; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:o}", "line", (json_int_t)r->bad[i].line,
                           "error", cli_json_str(r->bad[i].msg)));
    return arr;
}

static int cli_replay_json(const struct cli_replay_opts *o,
                           const struct cli_replay *r)
{
    return cli_json_print(json_pack(
        "{s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:f, s:{s:s, s:o, s:o}, "
        "s:{s:s, s:o, s:o}, s:o, s:o, s:o, s:I}",
        "events", (json_int_t)r->flow.events, "lines", (json_int_t)r->lines,
        "malformed", (json_int_t)r->malformed, "malformed_lines",
        cli_bad_json(r), "failed", (json_int_t)r->failed, "changed",
        (json_int_t)r->flow.changed, "first_ms", (json_int_t)r->first_ms,
        "elapsed_s", r->secs, "baseline", "source",
        o->baseline_path ? o->baseline_path : "recorded", "policy_version",
        cli_json_str(r->base_version), "actions",
        cli_counts_json(r->flow.baseline), "draft", "source", o->draft_path,
        "policy_version", cli_json_str(r->draft_version), "actions",
        cli_counts_json(r->flow.draft), "flow", cli_flow_json(&r->flow),
        "reasons", cli_reasons_json(&r->reasons), "sample", cli_samples_json(r),
        "last_ms", (json_int_t)r->last_ms));
}

/* ---- command --------------------------------------------------------------
 */

static void cli_replay_report_bad(const struct cli_replay_opts *o,
                                  const struct cli_replay *r, bool json)
{
    const char *name =
        strcmp(o->events_path, "-") == 0 ? "<stdin>" : o->events_path;
    size_t shown = json ? 0 : CLI_BAD_SHOWN;

    for (size_t i = 0; i < r->n_bad && i < shown; i++)
        fprintf(stderr, "riskctl replay: %s:%lu: %s\n", name, r->bad[i].line,
                r->bad[i].msg);
    if (r->malformed > shown)
        fprintf(stderr,
                "riskctl replay: %s: %" PRIu64
                " malformed lines skipped in all%s\n",
                name, r->malformed, json ? " (listed in the JSON)" : "");
}

int cli_cmd_replay(struct cli_globals *g, int argc, char **argv)
{
    struct cli_replay_opts o = {.sample = CLI_SAMPLE_DEFAULT};
    const struct cli_command_spec spec = {
        "replay", cli_replay_options, cli_replay_opt, cli_replay_help, true};
    struct cfg_errors errs = {0};
    struct cli_replay r;
    char err[512] = "";
    int ex, rc, rest = argc;

    cli_permute_args(argc, argv, spec.opts);
    ex = cli_parse_command(g, &spec, &o, argc, argv, &rest);
    if (ex >= 0)
        return ex;
    if (o.draft_path == NULL)
        return cli_usage_error("replay", "--config DRAFT.yaml is required");
    if (argc - rest != 1)
        return cli_usage_error("replay", "give one events file (or -)");
    o.events_path = argv[rest];
    rc = cli_replay_run(&o, &r, &errs, err, sizeof(err));
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    if (rc) {
        fprintf(stderr, "riskctl replay: %s\n", err[0] ? err : lr_strerror(rc));
        ex = CLI_EXIT_RPC;
    } else {
        cli_replay_report_bad(&o, &r, g->json);
        ex = CLI_EXIT_OK;
        if (g->json)
            ex = cli_replay_json(&o, &r);
        else
            cli_replay_text(&o, &r);
    }
    cli_replay_free(&r);
    cfg_errors_clear(&errs);
    return ex;
}

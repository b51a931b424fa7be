/*
 * loadgen.c - loginrisk-loadgen: drives an agent over gRPC and reports
 * throughput, latency percentiles and errors per method.
 *
 *   loginrisk-loadgen --target ADDR --method health|evaluate|both|probe
 *       --duration S --inflight N --connections C [--warmup S] [--json]
 *       [--seed N] [--threads T] [--accounts N] [--model KIND]
 *       [--count N] [--timeout-ms MS] [--no-passwords] [--agent-pid PID]
 *       [--probes N] [--rate QPS] [--rounds R]
 *
 * "both" measures Health/Check (the gRPC floor) and then Evaluate over the
 * same connections and prints evaluate_qps / health_qps, so the ratio comes
 * from one run against one agent; --rounds R alternates them R times in
 * windows of duration/R, so a change in the machine's load hits both. "probe"
 * sends a few fixed legitimate users one at a time and prints their decisions,
 * for before/after comparisons. This file holds the command line and the
 * reports; loadgen_run.c the gRPC.
 */
#include "bench/loadgen.h"
#include "bench/bench_opts.h"

#include <grpc/grpc.h>

#include <stdlib.h>
#include <string.h>

enum lg_mode { LG_MODE_HEALTH, LG_MODE_EVALUATE, LG_MODE_BOTH, LG_MODE_PROBE };

struct lg_cli {
    struct bench_lg_opts run;
    enum lg_mode mode;
    bool json;
    uint32_t probes;
    uint32_t rounds;
};

static void lg_usage(FILE *f)
{
    fprintf(f,
            "usage: loginrisk-loadgen [--target ADDR] "
            "[--method health|evaluate|both|probe]\n"
            "         [--duration S] [--warmup S] [--inflight N] "
            "[--connections C] [--threads T]\n"
            "         [--count N] [--timeout-ms MS] [--json] [--seed N]\n"
            "         [--accounts N] [--model mix|home|travel|stuffing|spray|"
            "flood]\n"
            "         [--no-passwords] [--agent-pid PID] [--probes N] "
            "[--rate QPS]\n"
            "         [--rounds R]\n"
            "defaults: --target 127.0.0.1:50051 --method both --duration 10 "
            "--warmup 2\n"
            "          --inflight 8 --connections 2 --threads 1 --seed 1 "
            "--accounts 100000\n");
}

static int lg_parse_mode(const char *s, enum lg_mode *out)
{
    static const char *const names[] = {"health", "evaluate", "both", "probe"};
    unsigned i;

    for (i = 0; i < LR_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum lg_mode)i;
            return LR_OK;
        }
    }
    return LR_INVALID;
}

static int lg_parse_model(const char *s, int *out)
{
    enum bench_kind k;

    if (strcmp(s, "mix") == 0) {
        *out = -1;
        return LR_OK;
    }
    if (bench_kind_parse(s, &k)) {
        return LR_INVALID;
    }
    *out = (int)k;
    return LR_OK;
}

static const struct option lg_longopts[] = {
    {"target", required_argument, NULL, 't'},
    {"method", required_argument, NULL, 'm'},
    {"duration", required_argument, NULL, 'd'},
    {"warmup", required_argument, NULL, 'w'},
    {"inflight", required_argument, NULL, 'n'},
    {"connections", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 'T'},
    {"count", required_argument, NULL, 'N'},
    {"timeout-ms", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, 'j'},
    {"seed", required_argument, NULL, BENCH_OPT_SEED},
    {"accounts", required_argument, NULL, BENCH_OPT_ACCOUNTS},
    {"model", required_argument, NULL, 'M'},
    {"no-passwords", no_argument, NULL, BENCH_OPT_NO_PASSWORDS},
    {"agent-pid", required_argument, NULL, 'p'},
    {"probes", required_argument, NULL, 'r'},
    {"rate", required_argument, NULL, 'R'},
    {"rounds", required_argument, NULL, 'u'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void lg_defaults(struct lg_cli *cli)
{
    memset(cli, 0, sizeof(*cli));
    cli->run.target = "127.0.0.1:50051";
    cli->run.duration_s = 10.0;
    cli->run.warmup_s = 2.0;
    cli->run.inflight = 8;
    cli->run.connections = 2;
    cli->run.threads = 1;
    cli->run.timeout_ms = 5000;
    bench_model_opts_default(&cli->run.model);
    cli->run.only_kind = -1;
    cli->mode = LG_MODE_BOTH;
    cli->probes = 8;
    cli->rounds = 1;
}

static int lg_parse_one(void *ctx, int opt, const char *arg)
{
    struct lg_cli *cli = ctx;
    struct bench_lg_opts *r = &cli->run;
    uint32_t pid;
    int rc = bench_model_opt(&r->model, opt, arg);

    if (rc != LR_NOTFOUND) {
        return rc;
    }
    switch (opt) {
    case 't':
        r->target = arg;
        return LR_OK;
    case 'm':
        return lg_parse_mode(arg, &cli->mode);
    case 'd':
        return bench_opt_number(arg, BENCH_LG_DURATION_MAX, &r->duration_s);
    case 'w':
        return bench_opt_number(arg, BENCH_LG_DURATION_MAX, &r->warmup_s);
    case 'n':
        return bench_opt_u32(arg, BENCH_LG_INFLIGHT_MAX, &r->inflight);
    case 'c':
        return bench_opt_u32(arg, BENCH_LG_CONNECTIONS_MAX, &r->connections);
    case 'T':
        return bench_opt_u32(arg, BENCH_LG_THREADS_MAX, &r->threads);
    case 'N':
        return bench_opt_u64(arg, UINT64_MAX / 2, &r->count);
    case 'o':
        return bench_opt_u32(arg, 3600000, &r->timeout_ms);
    case 'j':
        cli->json = true;
        return LR_OK;
    case 'M':
        return lg_parse_model(arg, &r->only_kind);
    case 'p':
        if (bench_opt_u32(arg, INT32_MAX, &pid)) {
            return LR_INVALID;
        }
        r->agent_pid = (int)pid;
        return LR_OK;
    case 'r':
        return bench_opt_u32(arg, BENCH_LG_PROBES_MAX, &cli->probes);
    case 'R':
        return bench_opt_number(arg, BENCH_LG_RATE_MAX, &r->rate);
    case 'u':
        return bench_opt_u32(arg, BENCH_LG_ROUNDS_MAX, &cli->rounds);
    default:
        return LR_INVALID;
    }
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int lg_parse(int argc, char **argv, struct lg_cli *cli)
{
    const struct bench_cmdline cl = {"loginrisk-loadgen", lg_longopts, lg_usage,
                                     lg_parse_one, cli};
    int rc;

    lg_defaults(cli);
    rc = bench_opts_parse(&cl, argc, argv);
    if (rc) {
        return rc;
    }
    if (cli->run.duration_s <= 0.0 || cli->run.inflight == 0 ||
        cli->run.connections == 0 || cli->run.threads == 0 ||
        cli->run.model.accounts == 0) {
        lg_usage(stderr);
        return 2;
    }
    if (cli->rounds == 0 || (cli->rounds > 1 && cli->run.count > 0)) {
        fprintf(stderr, "loginrisk-loadgen: --rounds needs a duration\n");
        return 2;
    }
    /* each round gets its share of the warm-up and of the window */
    cli->run.duration_s /= cli->rounds;
    cli->run.warmup_s /= cli->rounds;
    if (cli->run.threads > cli->run.connections) {
        /* a thread owns whole channels: more threads would idle */
        cli->run.threads = cli->run.connections;
    }
    return 0;
}

/* ---- reports ------------------------------------------------------------ */

static double lg_qps(const struct bench_lg_result *r)
{
    return r->seconds > 0.0 ? (double)r->ok / r->seconds : 0.0;
}

static uint64_t lg_errors(const struct bench_lg_result *r)
{
    uint64_t n = 0;
    unsigned i;

    for (i = 1; i < BENCH_ERR_COUNT; i++) {
        n += r->errors[i];
    }
    return n;
}

static double lg_us(const struct bench_lg_result *r, double q)
{
    return (double)bench_hist_quantile(&r->hist, q) / 1000.0;
}

/* CPU microseconds per completed call; -1 when unknown. */
static double lg_cpu_per_call(double cpu_s, const struct bench_lg_result *r)
{
    uint64_t calls = r->ok + lg_errors(r);

    if (cpu_s < 0.0 || calls == 0) {
        return -1.0;
    }
    return cpu_s * 1e6 / (double)calls;
}

static void lg_print_text(const char *method, const struct bench_lg_result *r)
{
    unsigned i;
    unsigned k;

    printf("%-8s %llu calls in %.2f s: %.0f qps; latency us p50 %.1f p90 "
           "%.1f p99 %.1f p99.9 %.1f max %.1f; errors %llu\n",
           method, (unsigned long long)r->ok, r->seconds, lg_qps(r),
           lg_us(r, 0.5), lg_us(r, 0.9), lg_us(r, 0.99), lg_us(r, 0.999),
           (double)(r->hist.total ? r->hist.max : 0) / 1000.0,
           (unsigned long long)lg_errors(r));
    printf("         cpu us per call: loadgen %.1f",
           lg_cpu_per_call(r->client_cpu_s, r));
    if (r->agent_cpu_s >= 0.0) {
        printf(", agent %.1f", lg_cpu_per_call(r->agent_cpu_s, r));
    }
    printf("\n");
    for (i = 1; i < BENCH_ERR_COUNT; i++) {
        if (r->errors[i]) {
            printf("         errors %s: %llu\n", bench_err_name(i),
                   (unsigned long long)r->errors[i]);
        }
    }
    for (k = 0; k < BENCH_KIND_COUNT; k++) {
        const uint64_t *a = r->actions[k];
        if (a[0] + a[1] + a[2] + a[3] + a[4] == 0) {
            continue;
        }
        printf("         %-8s allow %llu captcha %llu 2fa %llu lock %llu\n",
               bench_kind_name((enum bench_kind)k), (unsigned long long)a[1],
               (unsigned long long)a[2], (unsigned long long)a[3],
               (unsigned long long)a[4]);
    }
}

static void lg_print_json(const char *method, const struct lg_cli *cli,
                          const struct bench_lg_result *r, double ratio)
{
    unsigned i;
    unsigned k;
    bool first = true;

    printf("{\"method\":\"%s\",\"qps\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
           "\"p99_us\":%.1f,\"p999_us\":%.1f,\"errors\":%llu,\"calls\":%llu,"
           "\"seconds\":%.3f,\"inflight\":%u,\"connections\":%u,"
           "\"threads\":%u,\"rate\":%.0f,\"loadgen_cpu_us_per_call\":%.1f,"
           "\"agent_cpu_us_per_call\":%.1f,\"errors_by_status\":{",
           method, lg_qps(r), lg_us(r, 0.5), lg_us(r, 0.9), lg_us(r, 0.99),
           lg_us(r, 0.999), (unsigned long long)lg_errors(r),
           (unsigned long long)r->ok, r->seconds, cli->run.inflight,
           cli->run.connections, cli->run.threads, cli->run.rate,
           lg_cpu_per_call(r->client_cpu_s, r),
           lg_cpu_per_call(r->agent_cpu_s, r));
    for (i = 1; i < BENCH_ERR_COUNT; i++) {
        if (r->errors[i]) {
            printf("%s\"%s\":%llu", first ? "" : ",", bench_err_name(i),
                   (unsigned long long)r->errors[i]);
            first = false;
        }
    }
    printf("},\"actions\":{");
    for (k = 0; k < BENCH_KIND_COUNT; k++) {
        printf("%s\"%s\":[%llu,%llu,%llu,%llu]", k ? "," : "",
               bench_kind_name((enum bench_kind)k),
               (unsigned long long)r->actions[k][1],
               (unsigned long long)r->actions[k][2],
               (unsigned long long)r->actions[k][3],
               (unsigned long long)r->actions[k][4]);
    }
    printf("}");
    if (ratio >= 0.0) {
        printf(",\"health_ratio\":%.3f", ratio);
    }
    printf("}\n");
}

static void lg_report(const struct lg_cli *cli, const char *method,
                      const struct bench_lg_result *r, double ratio)
{
    if (cli->json) {
        lg_print_json(method, cli, r, ratio);
    } else {
        lg_print_text(method, r);
    }
    fflush(stdout);
}

/* ---- main --------------------------------------------------------------- */

/* Runs @p method once and adds its window to @p sum. */
static int lg_window(struct bench_lg *lg, enum bench_method method,
                     struct bench_lg_result *one, struct bench_lg_result *sum)
{
    int rc = bench_lg_run(lg, method, one);

    if (rc == LR_OK) {
        bench_lg_result_add(sum, one);
    }
    return rc;
}

/*
 * Health then Evaluate (or one of them), --rounds times over, each window
 * duration/rounds long: alternating short windows keeps a drift in the
 * machine's load from landing on one method only.
 */
static int lg_measure(struct bench_lg *lg, const struct lg_cli *cli)
{
    struct bench_lg_result *r = calloc(3, sizeof(*r));
    struct bench_lg_result *health = r + 1;
    struct bench_lg_result *eval = r + 2;
    bool do_health = cli->mode == LG_MODE_HEALTH || cli->mode == LG_MODE_BOTH;
    bool do_eval = cli->mode == LG_MODE_EVALUATE || cli->mode == LG_MODE_BOTH;
    double ratio = -1.0;
    uint32_t i;
    int rc = LR_NOMEM;

    if (r == NULL) {
        goto out;
    }
    bench_lg_result_init(health);
    bench_lg_result_init(eval);
    for (i = 0, rc = LR_OK; i < cli->rounds && rc == LR_OK; i++) {
        if (do_health) {
            rc = lg_window(lg, BENCH_METHOD_HEALTH, r, health);
        }
        if (do_eval && rc == LR_OK) {
            rc = lg_window(lg, BENCH_METHOD_EVALUATE, r, eval);
        }
    }
    if (rc) {
        goto out;
    }
    if (do_health) {
        lg_report(cli, "health", health, -1.0);
    }
    if (do_eval) {
        if (do_health && lg_qps(health) > 0.0) {
            ratio = lg_qps(eval) / lg_qps(health);
        }
        lg_report(cli, "evaluate", eval, ratio);
        if (ratio >= 0.0 && !cli->json) {
            printf("ratio evaluate_qps/health_qps = %.3f\n", ratio);
        }
    }
out:
    free(r);
    return rc;
}

static void lg_print_setup(const struct lg_cli *cli)
{
    const struct bench_lg_opts *o = &cli->run;

    if (cli->json || cli->mode == LG_MODE_PROBE) {
        return;
    }
    printf("target %s inflight %u connections %u threads %u ", o->target,
           o->inflight, o->connections, o->threads);
    if (o->count) {
        printf("count %llu ", (unsigned long long)o->count);
    } else {
        printf("duration %.1f s warmup %.1f s x %u rounds ", o->duration_s,
               o->warmup_s, cli->rounds);
    }
    if (o->rate > 0.0) {
        printf("rate %.0f/s ", o->rate);
    }
    printf("model %s accounts %u seed %llu passwords %s\n",
           o->only_kind < 0 ? "mix"
                            : bench_kind_name((enum bench_kind)o->only_kind),
           o->model.accounts, (unsigned long long)o->model.seed,
           o->model.passwords ? "yes" : "no");
}

int main(int argc, char **argv)
{
    struct bench_lg *lg = NULL;
    struct lg_cli cli;
    int rc;

    rc = lg_parse(argc, argv, &cli);
    if (rc) {
        return rc == 1 ? 0 : 2;
    }
    grpc_init();
    lg_print_setup(&cli);
    rc = bench_lg_new(&cli.run, &lg);
    if (rc) {
        fprintf(stderr, "loginrisk-loadgen: cannot connect to %s: %s\n",
                cli.run.target, lr_strerror(rc));
        goto out;
    }
    if (cli.mode == LG_MODE_PROBE) {
        rc = bench_lg_probe(lg, cli.probes, stdout);
    } else {
        rc = lg_measure(lg, &cli);
    }
    if (rc) {
        fprintf(stderr, "loginrisk-loadgen: %s\n", lr_strerror(rc));
    }
out:
    bench_lg_free(lg);
    grpc_shutdown();
    return rc ? 1 : 0;
}

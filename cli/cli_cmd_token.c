/*
 * cli_cmd_token.c - `riskctl token-hash`: the Argon2id PHC string of an
 * admin token, for admin.tokens[].hash in the agent's config.
 *
 * The token is read from stdin, never from argv: on a terminal without
 * echo (termios) and twice, so a typo is caught; from a pipe, its first
 * line. --generate makes a new random token (32 bytes, base64url) and
 * prints it with its hash. The salt is 16 random bytes.
 *
 * Default cost: m=19456 KiB, t=2, p=1 (the OWASP Argon2id baseline), about
 * 25 ms per verification on the 2-core machine the agent was measured on.
 * The agent checks a presented token against every configured hash on its
 * blocking-work pool and caches the result (admin.auth_cache_s), so this
 * cost is paid once per token per cache period, not per call.
 */
#include "cli/cli_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include <argon2.h>

#define CLI_M_COST_KIB 19456
#define CLI_T_COST 2
#define CLI_PARALLELISM 1
#define CLI_SALT_LEN 16
#define CLI_HASH_LEN 32
#define CLI_TOKEN_MIN 16 /* shorter tokens are refused */
#define CLI_NEW_TOKEN_BYTES 32

enum {
    OPT_GENERATE = CLI_OPT_SUB,
    OPT_M_COST,
    OPT_T_COST,
};

static const struct option cli_token_options[] = {
    {"generate", no_argument, NULL, OPT_GENERATE},
    {"m-cost", required_argument, NULL, OPT_M_COST},
    {"t-cost", required_argument, NULL, OPT_T_COST},
    {NULL, 0, NULL, 0},
};

struct cli_token_args {
    bool generate;
    uint32_t m_cost;
    uint32_t t_cost;
};

static void cli_token_help(void)
{
    printf(
        "Usage: riskctl token-hash [--generate] [--m-cost KIB] [--t-cost N]\n"
        "                          [--json]\n"
        "Prints the Argon2id PHC string of an admin token, for the\n"
        "agent's config (admin.tokens[].hash). The token is read from\n"
        "stdin: typed twice without echo on a terminal, or the first line\n"
        "of a pipe. It is never taken from the command line.\n\n"
        "  --generate            make a new random token and print it too\n"
        "  --m-cost KIB          memory cost (default %d KiB)\n"
        "  --t-cost N            iterations (default %d)\n\n"
        "The defaults take about 25 ms per check on a small server; the\n"
        "agent caches a verified token for admin.auth_cache_s seconds.\n",
        CLI_M_COST_KIB, CLI_T_COST);
}

static int cli_token_opt(void *ctx, int opt, char *arg)
{
    struct cli_token_args *o = ctx;
    int64_t v;

    switch (opt) {
    case OPT_GENERATE:
        o->generate = true;
        return -1;
    case OPT_M_COST:
        if (cli_parse_i64(arg, &v) || v < 8192 || v > 4194304)
            return cli_usage_error("token-hash",
                                   "--m-cost wants 8192..4194304 KiB");
        o->m_cost = (uint32_t)v;
        return -1;
    case OPT_T_COST:
        if (cli_parse_i64(arg, &v) || v < 1 || v > 64)
            return cli_usage_error("token-hash", "--t-cost wants 1..64");
        o->t_cost = (uint32_t)v;
        return -1;
    default:
        return cli_usage_error("token-hash", "unknown option");
    }
}

/* ---- reading the token -----------------------------------------------------
 */

/* One line from @p f without its end; LR_FULL when it does not fit. */
static int cli_read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int c;

    while ((c = getc(f)) != EOF && c != '\n') {
        if (n + 1 >= cap)
            return LR_FULL;
        buf[n++] = (char)c;
    }
    if (c == EOF && (n == 0 || ferror(f)))
        return LR_IO;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return LR_OK;
}

/* Prompts on stderr and reads a line from the terminal without echo. */
static int cli_read_hidden(const char *prompt, char *buf, size_t cap,
                           size_t *len)
{
    struct termios old, quiet;
    int rc;

    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return LR_IO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
        return LR_IO;
    rc = cli_read_line(stdin, buf, cap, len);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return rc;
}

static int cli_token_read(char *buf, size_t cap, size_t *len)
{
    char again[CLI_TOKEN_MAX + 2];
    size_t n2 = 0;
    int rc;

    if (!isatty(STDIN_FILENO))
        return cli_read_line(stdin, buf, cap, len);
    rc = cli_read_hidden("Token: ", buf, cap, len);
    if (rc == LR_OK)
        rc = cli_read_hidden("Again: ", again, sizeof(again), &n2);
    if (rc == LR_OK && (n2 != *len || memcmp(again, buf, n2) != 0))
        rc = LR_INVALID;
    lr_wipe(again, sizeof(again));
    return rc;
}

/* ---- making tokens and hashes ---------------------------------------------
 */

static void cli_base64url(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789-_";
    size_t o = 0;
    uint32_t v;

    for (size_t i = 0; i < n; i += 3) {
        v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

static int cli_token_generate(char *buf, size_t cap, size_t *len)
{
    uint8_t raw[CLI_NEW_TOKEN_BYTES];

    if (cap < 4 + (CLI_NEW_TOKEN_BYTES * 4 + 2) / 3 + 1 ||
        getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return LR_CRYPTO;
    memcpy(buf, "lrt_", 4);
    cli_base64url(raw, sizeof(raw), buf + 4);
    lr_wipe(raw, sizeof(raw));
    *len = strlen(buf);
    return LR_OK;
}

static int cli_token_hash(const struct cli_token_args *o, const char *tok,
                          size_t len, char *out, size_t cap)
{
    uint8_t salt[CLI_SALT_LEN];
    int rc;

    if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
        return LR_CRYPTO;
    rc = argon2id_hash_encoded(o->t_cost, o->m_cost, CLI_PARALLELISM, tok, len,
                               salt, sizeof(salt), CLI_HASH_LEN, out, cap);
    if (rc != ARGON2_OK) {
        fprintf(stderr, "riskctl token-hash: argon2: %s\n",
                argon2_error_message(rc));
        return LR_CRYPTO;
    }
    return LR_OK;
}

static int cli_token_print(const struct cli_globals *g, bool generated,
                           const char *tok, const char *phc)
{
    if (g->json)
        return cli_json_print(
            generated ? json_pack("{s:s, s:s}", "token", tok, "hash", phc)
                      : json_pack("{s:s}", "hash", phc));
    if (generated) {
        printf("token: %s\nhash:  %s\n", tok, phc);
        fprintf(stderr, "Give the token to its holder (RISKCTL_TOKEN or "
                        "--token-file); put the hash in admin.tokens.\n");
    } else {
        printf("%s\n", phc);
    }
    return CLI_EXIT_OK;
}

static int cli_token_get(const struct cli_token_args *o, char *tok, size_t cap,
                         size_t *len)
{
    int rc = o->generate ? cli_token_generate(tok, cap, len)
                         : cli_token_read(tok, cap, len);

    if (rc == LR_INVALID)
        return cli_usage_error("token-hash", "the two entries differ");
    if (rc == LR_FULL)
        return cli_usage_error("token-hash", "token longer than %d bytes",
                               CLI_TOKEN_MAX);
    if (rc) {
        fprintf(stderr, "riskctl token-hash: cannot read a token from "
                        "stdin\n");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < *len; i++) {
        if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e)
            return cli_usage_error("token-hash",
                                   "use printable ASCII without spaces");
    }
    if (*len < CLI_TOKEN_MIN)
        return cli_usage_error("token-hash",
                               "token shorter than %d characters; use "
                               "--generate for a strong one",
                               CLI_TOKEN_MIN);
    return -1;
}

int cli_cmd_token_hash(struct cli_globals *g, int argc, char **argv)
{
    struct cli_token_args o = {.m_cost = CLI_M_COST_KIB, .t_cost = CLI_T_COST};
    const struct cli_command_spec spec = {"token-hash", cli_token_options,
                                          cli_token_opt, cli_token_help, false};
    char tok[CLI_TOKEN_MAX + 2];
    char phc[256];
    size_t len = 0;
    int ex;

    ex = cli_parse_command(g, &spec, &o, argc, argv, NULL);
    if (ex >= 0)
        return ex;
    ex = cli_token_get(&o, tok, sizeof(tok), &len);
    if (ex < 0)
        ex = cli_token_hash(&o, tok, len, phc, sizeof(phc)) ? CLI_EXIT_RPC : -1;
    if (ex < 0)
        ex = cli_token_print(g, o.generate, tok, phc);
    lr_wipe(tok, sizeof(tok));
    return ex;
}

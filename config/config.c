/*
 * config.c - the public face of config/: load a file or a string, validate
 * after overrides, free; and the message list every step writes to.
 *
 * A load builds a fresh struct cfg from defaults, the YAML tree and the
 * schema, and hands it out only when nothing was wrong, so a caller (the
 * agent at SIGHUP) keeps its old config on any error. Messages are gathered
 * in discovery order with their lines, capped at CFG_ERRORS_MAX, and sorted
 * by line before they reach the caller.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MSG_MAX 512

/* ---- messages ---- */

/* Appends to @p buf (capacity @p cap, *@p len used); never passes the end. */
static void cfg_msg_add(char *buf, size_t cap, size_t *len, const char *fmt,
                        ...) LR_PRINTF(4, 5);

static void cfg_msg_add(char *buf, size_t cap, size_t *len, const char *fmt,
                        ...)
{
    va_list ap;
    int n;

    if (*len + 1 >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

/* Length of the UTF-8 sequence at @p s (2..4 bytes), 0 if there is none. */
static size_t cfg_utf8_seq(const char *s)
{
    for (size_t k = 2; k <= 4; k++) {
        if (s[k - 1] == '\0')
            return 0;
        if (lr_utf8_valid(s, k))
            return k;
    }
    return 0;
}

/*
 * A message is one line of UTF-8: it goes to logs, to stderr and into gRPC
 * status strings (ReloadConfig). Values quoted from the file may hold line
 * breaks (a multi-line YAML scalar) and may have been cut inside a UTF-8
 * sequence ("%.64s"), so control characters are escaped ("\n", "\x01") and
 * bytes that are not UTF-8 become '?'. Stops where @p out (@p cap bytes)
 * is full; @p out is always terminated.
 */
static void cfg_msg_clean(const char *in, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; in[i] != '\0';) {
        unsigned char c = (unsigned char)in[i];
        char esc[8];
        size_t k = 1;

        if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc),
                     c == '\n'   ? "\\n"
                     : c == '\r' ? "\\r"
                     : c == '\t' ? "\\t"
                                 : "\\x%02x",
                     c);
        } else if (c < 0x80) {
            esc[0] = (char)c;
            esc[1] = '\0';
        } else if ((k = cfg_utf8_seq(in + i)) != 0) {
            memcpy(esc, in + i, k);
            esc[k] = '\0';
        } else {
            k = 1;
            esc[0] = '?';
            esc[1] = '\0';
        }
        if (o + strlen(esc) + 1 > cap)
            break;
        memcpy(out + o, esc, strlen(esc));
        o += strlen(esc);
        i += k;
    }
    out[o] = '\0';
}

/*
 * Writes "name:line: path: body" into @p clean (@p cap bytes), escaped by
 * cfg_msg_clean; line 0, or a context without lines, leaves the line out.
 */
static void cfg_msg_format(const struct cfg_ctx *ctx, int line,
                           const char *path, const char *body, char *clean,
                           size_t cap)
{
    char full[CFG_MSG_MAX + CFG_PATH_MAX + 64];
    size_t n = 0;

    /* a long file name must not push the rest off the end (or past it) */
    cfg_msg_add(full, sizeof(full), &n, "%s", ctx->name);
    if (line > 0 && ctx->have_lines)
        cfg_msg_add(full, sizeof(full), &n, ":%d", line);
    if (path && path[0])
        cfg_msg_add(full, sizeof(full), &n, ": %s: %s", path, body);
    else
        cfg_msg_add(full, sizeof(full), &n, ": %s", body);
    cfg_msg_clean(full, clean, cap);
}

void cfg_err(struct cfg_ctx *ctx, int line, const char *path, const char *fmt,
             ...)
{
    char body[CFG_MSG_MAX], clean[CFG_MSG_MAX + CFG_PATH_MAX + 64];
    struct cfg_msg *msgs;
    va_list ap;
    size_t cap;

    if (ctx->n_msgs >= CFG_ERRORS_MAX) {
        ctx->n_dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    cfg_msg_format(ctx, line, path, body, clean, sizeof(clean));
    if (ctx->n_msgs == ctx->cap_msgs) {
        cap = ctx->cap_msgs ? ctx->cap_msgs * 2 : 8;
        msgs = realloc(ctx->msgs, cap * sizeof(*msgs));
        if (msgs == NULL) {
            ctx->nomem = true;
            return;
        }
        ctx->msgs = msgs;
        ctx->cap_msgs = cap;
    }
    ctx->msgs[ctx->n_msgs].text = strdup(clean);
    if (ctx->msgs[ctx->n_msgs].text == NULL) {
        ctx->nomem = true;
        return;
    }
    ctx->msgs[ctx->n_msgs].line = ctx->have_lines ? line : 0;
    ctx->msgs[ctx->n_msgs].seq = ctx->n_msgs;
    ctx->n_msgs++;
}

void cfg_warn(struct cfg_ctx *ctx, int line, const char *path, const char *fmt,
              ...)
{
    char body[CFG_MSG_MAX], clean[CFG_MSG_MAX + CFG_PATH_MAX + 64];
    va_list ap;

    /* cfg_validate re-checks a config that was loaded, and warned about,
     * already: say it once */
    if (!ctx->have_lines)
        return;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    cfg_msg_format(ctx, line, path, body, clean, sizeof(clean));
    lr_log(LR_LOG_WARN, "%s", clean);
}

static int cfg_msg_cmp(const void *a, const void *b)
{
    const struct cfg_msg *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Moves the messages of @p ctx, sorted by line, to the end of @p errs. */
static int cfg_flush(struct cfg_ctx *ctx, struct cfg_errors *errs)
{
    size_t extra = ctx->n_dropped ? 1 : 0;
    char **msgs;
    char more[CFG_MSG_MAX], clean[CFG_MSG_MAX];

    if (ctx->n_msgs == 0)
        return LR_OK;
    msgs = realloc(errs->msgs, (errs->n + ctx->n_msgs + extra) * sizeof(*msgs));
    if (msgs == NULL)
        return LR_NOMEM;
    errs->msgs = msgs;
    qsort(ctx->msgs, ctx->n_msgs, sizeof(*ctx->msgs), cfg_msg_cmp);
    for (size_t i = 0; i < ctx->n_msgs; i++) {
        errs->msgs[errs->n++] = ctx->msgs[i].text;
        ctx->msgs[i].text = NULL;
    }
    if (extra) {
        snprintf(more, sizeof(more), "%s: ... and %zu more errors", ctx->name,
                 ctx->n_dropped);
        cfg_msg_clean(more, clean, sizeof(clean));
        errs->msgs[errs->n] = strdup(clean);
        if (errs->msgs[errs->n] == NULL)
            return LR_NOMEM;
        errs->n++;
    }
    return LR_OK;
}

static void cfg_ctx_free(struct cfg_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_msgs; i++)
        free(ctx->msgs[i].text);
    free(ctx->msgs);
    free(ctx->where);
}

void cfg_errors_clear(struct cfg_errors *errs)
{
    if (errs == NULL)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->msgs[i]);
    free(errs->msgs);
    errs->msgs = NULL;
    errs->n = 0;
}

/* ---- where each value came from ---- */

void cfg_where_add(struct cfg_ctx *ctx, const void *addr, int line)
{
    struct cfg_where *w;
    size_t cap;

    if (!ctx->have_lines)
        return;
    if (ctx->n_where == ctx->cap_where) {
        cap = ctx->cap_where ? ctx->cap_where * 2 : 64;
        w = realloc(ctx->where, cap * sizeof(*w));
        if (w == NULL) {
            ctx->nomem = true;
            return;
        }
        ctx->where = w;
        ctx->cap_where = cap;
    }
    ctx->where[ctx->n_where].addr = addr;
    ctx->where[ctx->n_where].line = line;
    ctx->n_where++;
    ctx->where_sorted = false;
}

static int cfg_where_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct cfg_where *)a)->addr;
    uintptr_t y = (uintptr_t)((const struct cfg_where *)b)->addr;

    return x < y ? -1 : x > y;
}

int cfg_where_line(struct cfg_ctx *ctx, const void *addr)
{
    struct cfg_where key = {.addr = addr};
    const struct cfg_where *hit;

    if (ctx->n_where == 0)
        return 0;
    if (!ctx->where_sorted) {
        qsort(ctx->where, ctx->n_where, sizeof(*ctx->where), cfg_where_cmp);
        ctx->where_sorted = true;
    }
    hit = bsearch(&key, ctx->where, ctx->n_where, sizeof(*ctx->where),
                  cfg_where_cmp);
    return hit ? hit->line : 0;
}

char *cfg_strdup(struct cfg_ctx *ctx, const char *s)
{
    char *copy = strdup(s);

    if (copy == NULL)
        ctx->nomem = true;
    return copy;
}

/* ---- loading ---- */

void cfg_free(struct cfg *cfg)
{
    if (cfg == NULL)
        return;
    cfg_walk_free(cfg);
    free(cfg->path);
    free(cfg);
}

/* "cfg-" and the first 12 hex digits of the text's FNV-1a hash. */
static char *cfg_hash_version(const char *text, size_t len)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "cfg-%016llx",
             (unsigned long long)cfg_fnv1a64(text, len));
    buf[4 + 12] = '\0';
    return strdup(buf);
}

static int cfg_result(const struct cfg_ctx *ctx)
{
    if (ctx->nomem)
        return LR_NOMEM;
    return ctx->n_msgs || ctx->n_dropped ? LR_CONFIG : LR_OK;
}

/* Parses and validates @p text into @p cfg, which holds the defaults. */
static int cfg_build(struct cfg_ctx *ctx, const char *text, size_t len)
{
    struct cfg_node *root = NULL;
    struct cfg_yaml_error yerr;
    int rc;

    rc = cfg_yaml_load(text, len, &root, &yerr);
    if (rc == LR_CONFIG)
        cfg_err(ctx, yerr.line, NULL, "%s", yerr.msg);
    if (rc)
        return rc;
    cfg_walk_parse(ctx, root);
    cfg_node_free(root);
    if (!ctx->nomem)
        cfg_walk_validate(ctx, ctx->cfg);
    if (!ctx->nomem && ctx->cfg->policy_version == NULL)
        ctx->cfg->policy_version = cfg_hash_version(text, len);
    if (ctx->cfg->policy_version == NULL)
        ctx->nomem = true;
    return cfg_result(ctx);
}

int cfg_load_string(const char *name, const char *text, size_t len,
                    struct cfg **out, struct cfg_errors *errs)
{
    struct cfg_ctx ctx = {.name = name ? name : "<string>", .have_lines = true};
    struct cfg *cfg = NULL;
    int rc, frc;

    if (out == NULL || errs == NULL || (text == NULL && len > 0))
        return LR_INVALID;
    if (len > CFG_FILE_MAX_BYTES) {
        cfg_err(&ctx, 0, NULL, "file is larger than %d bytes (1 MiB)",
                CFG_FILE_MAX_BYTES);
        rc = LR_CONFIG;
        goto out;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    ctx.cfg = cfg;
    rc = cfg_walk_defaults(cfg);
    if (rc)
        goto out;
    cfg->path = strdup(ctx.name);
    if (cfg->path == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    rc = cfg_build(&ctx, text ? text : "", len);
out:
    frc = cfg_flush(&ctx, errs);
    if (frc)
        rc = frc; /* messages lost: the caller must not think it has them */
    cfg_ctx_free(&ctx);
    if (rc == LR_OK) {
        *out = cfg;
        cfg = NULL;
    }
    cfg_free(cfg);
    return rc;
}

/* Reads at most CFG_FILE_MAX_BYTES of @p fd; LR_CONFIG if there is more. */
static int cfg_read_all(struct cfg_ctx *ctx, int fd, char **text, size_t *len)
{
    struct stat st;
    size_t cap, n = 0;
    char *buf;
    ssize_t got;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cfg_err(ctx, 0, NULL, "not a regular file");
        return LR_IO;
    }
    if (st.st_size > CFG_FILE_MAX_BYTES) {
        cfg_err(ctx, 0, NULL, "file is larger than %d bytes (1 MiB)",
                CFG_FILE_MAX_BYTES);
        return LR_CONFIG;
    }
    cap = (size_t)st.st_size + 1; /* one more, to see it grow */
    buf = malloc(cap);
    if (buf == NULL)
        return LR_NOMEM;
    while ((got = read(fd, buf + n, cap - n)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || n + (size_t)got >= cap) {
            cfg_err(ctx, 0, NULL, "%s",
                    got < 0 ? strerror(errno) : "file changed while reading");
            free(buf);
            return got < 0 ? LR_IO : LR_CONFIG;
        }
        n += (size_t)got;
    }
    *text = buf;
    *len = n;
    return LR_OK;
}

int cfg_load_file(const char *path, struct cfg **out, struct cfg_errors *errs)
{
    struct cfg_ctx ctx = {.name = path, .have_lines = true};
    char *text = NULL;
    size_t len = 0;
    int fd = -1, rc, frc;

    if (path == NULL || out == NULL || errs == NULL)
        return LR_INVALID;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cfg_err(&ctx, 0, NULL, "cannot open: %s", strerror(errno));
        rc = LR_IO;
        goto out;
    }
    rc = cfg_read_all(&ctx, fd, &text, &len);
    if (rc)
        goto out;
    rc = cfg_load_string(path, text, len, out, errs);
out:
    frc = cfg_flush(&ctx, errs);
    if (frc)
        rc = frc; /* messages lost: the caller must not think it has them */
    cfg_ctx_free(&ctx);
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

int cfg_validate(const struct cfg *cfg, struct cfg_errors *errs)
{
    struct cfg_ctx ctx = {.name = "<command line>", .have_lines = false};
    int rc, frc;

    if (cfg == NULL || errs == NULL)
        return LR_INVALID;
    cfg_walk_validate(&ctx, cfg);
    rc = cfg_result(&ctx);
    frc = cfg_flush(&ctx, errs);
    if (frc)
        rc = frc; /* messages lost: the caller must not think it has them */
    cfg_ctx_free(&ctx);
    return rc;
}

int cfg_set_string(char **slot, const char *value)
{
    char *copy = NULL;

    if (slot == NULL)
        return LR_INVALID;
    if (value) {
        copy = strdup(value);
        if (copy == NULL)
            return LR_NOMEM;
    }
    free(*slot);
    *slot = copy;
    return LR_OK;
}

/*
 * cli_bulk.c - account ids for the bulk commands, and the --resume state.
 *
 * Ids are read and checked before anything is sent, so a typo on line
 * 812,344 of a file stops the run before the first account is locked
 * instead of half way. They are kept in one buffer with offsets: a million
 * ids cost their bytes plus 8 bytes each.
 *
 * The resume file records each batch the agent confirmed. Its header names
 * the run (operation, batch size, number of ids and a digest of them), so a
 * state file is never applied to another list.
 */
#include "cli/cli_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CLI_LINE_MAX 4096 /* longest line read from an id file */
#define CLI_RESUME_MAGIC "riskctl-resume 1"

/* ---- ids ------------------------------------------------------------------
 */

void cli_ids_free(struct cli_ids *ids)
{
    free(ids->buf);
    free(ids->off);
    memset(ids, 0, sizeof(*ids));
}

static int cli_ids_grow(struct cli_ids *ids, size_t len)
{
    if (ids->len + len + 1 > ids->cap) {
        size_t cap = ids->cap ? ids->cap : 65536;
        char *buf;
        while (cap < ids->len + len + 1)
            cap *= 2;
        buf = realloc(ids->buf, cap);
        if (buf == NULL)
            return LR_NOMEM;
        ids->buf = buf;
        ids->cap = cap;
    }
    if (ids->n == ids->cap_n) {
        size_t n = ids->cap_n ? ids->cap_n * 2 : 4096;
        size_t *off = realloc(ids->off, n * sizeof(*off));
        if (off == NULL)
            return LR_NOMEM;
        ids->off = off;
        ids->cap_n = n;
    }
    return LR_OK;
}

int cli_ids_add(struct cli_ids *ids, const char *s, size_t len, char *err,
                size_t errcap)
{
    int rc;

    if (len == 0) {
        snprintf(err, errcap, "empty account id");
        return LR_INVALID;
    }
    if (len > CLI_ID_MAX) {
        snprintf(err, errcap, "account id longer than %d bytes", CLI_ID_MAX);
        return LR_INVALID;
    }
    if (!lr_utf8_valid(s, len)) {
        snprintf(err, errcap, "account id is not valid UTF-8 (or has a NUL)");
        return LR_INVALID;
    }
    if (ids->n >= CLI_IDS_MAX) {
        snprintf(err, errcap, "more than %d account ids", CLI_IDS_MAX);
        return LR_FULL;
    }
    rc = cli_ids_grow(ids, len);
    if (rc) {
        snprintf(err, errcap, "out of memory");
        return rc;
    }
    memcpy(ids->buf + ids->len, s, len);
    ids->buf[ids->len + len] = '\0';
    ids->off[ids->n++] = ids->len;
    ids->len += len + 1;
    return LR_OK;
}

const char *cli_ids_get(const struct cli_ids *ids, size_t i)
{
    return ids->buf + ids->off[i];
}

/* Adds one line (without its end) unless blank; messages name the line. */
static int cli_ids_line(struct cli_ids *ids, char *line, size_t len,
                        const char *name, unsigned long lineno, char *err,
                        size_t errcap)
{
    char why[128];
    int rc;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return LR_OK;
    rc = cli_ids_add(ids, line, len, why, sizeof(why));
    if (rc)
        snprintf(err, errcap, "%s:%lu: %s", name, lineno, why);
    return rc;
}

/*
 * Byte by byte (getc_unlocked is cheap) rather than fgets, which cannot
 * tell a NUL byte in a line from the end of the line.
 */
int cli_ids_read(FILE *f, const char *name, struct cli_ids *ids, char *err,
                 size_t errcap)
{
    char line[CLI_LINE_MAX + 1];
    unsigned long lineno = 1;
    size_t len = 0;
    int c, rc = LR_OK;

    while (rc == LR_OK && (c = getc_unlocked(f)) != EOF) {
        if (c == '\n') {
            rc = cli_ids_line(ids, line, len, name, lineno++, err, errcap);
            len = 0;
        } else if (len == CLI_LINE_MAX) {
            snprintf(err, errcap, "%s:%lu: line longer than %d bytes", name,
                     lineno, CLI_LINE_MAX);
            rc = LR_INVALID;
        } else {
            line[len++] = (char)c;
        }
    }
    if (rc == LR_OK && ferror(f)) {
        snprintf(err, errcap, "%s: read error: %s", name, strerror(errno));
        rc = LR_IO;
    }
    if (rc == LR_OK)
        rc = cli_ids_line(ids, line, len, name, lineno, err, errcap);
    return rc;
}

uint64_t cli_ids_digest(const struct cli_ids *ids, const char *op, size_t batch)
{
    uint64_t h = 14695981039346656037ull;
    char head[64];
    size_t n;

    n = (size_t)snprintf(head, sizeof(head), "%s %zu %zu\n", op, batch, ids->n);
    for (size_t i = 0; i < n && i < sizeof(head); i++)
        h = (h ^ (uint8_t)head[i]) * 1099511628211ull;
    /* every id with its NUL separator, in order */
    for (size_t i = 0; i < ids->len; i++)
        h = (h ^ (uint8_t)ids->buf[i]) * 1099511628211ull;
    return h;
}

/* ---- resume state ---------------------------------------------------------
 */

static void cli_resume_load(struct cli_resume *r, FILE *f)
{
    char line[256];
    unsigned long long i, m, c, u;
    long long audit;
    char extra;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "batch %llu %llu %llu %llu %lld%c", &i, &m, &c, &u,
                   &audit, &extra) != 6 ||
            extra != '\n' || i >= r->n_batches || r->done[i])
            continue;
        r->done[i] = 1;
        r->n_done++;
        r->total.matched += m;
        r->total.changed += c;
        r->total.unchanged += u;
    }
}

/* Reads and checks the header; false when the file is another run's. */
static bool cli_resume_header(FILE *f, const char *want)
{
    char line[256];

    if (fgets(line, sizeof(line), f) == NULL)
        return false;
    return strcmp(line, want) == 0;
}

int cli_resume_open(const char *path, const char *op, size_t batch,
                    size_t n_ids, uint64_t digest, struct cli_resume *r,
                    char *err, size_t errcap)
{
    char header[256];
    FILE *f;
    long size;

    memset(r, 0, sizeof(*r));
    snprintf(header, sizeof(header),
             CLI_RESUME_MAGIC " %s batch=%zu ids=%zu digest=%016" PRIx64 "\n",
             op, batch, n_ids, digest);
    r->n_batches = batch ? (n_ids + batch - 1) / batch : 0;
    r->done = calloc(r->n_batches ? r->n_batches : 1, 1);
    f = fopen(path, "a+");
    if (r->done == NULL || f == NULL) {
        snprintf(err, errcap, "--resume %s: %s", path,
                 f == NULL ? strerror(errno) : "out of memory");
        if (f != NULL)
            fclose(f);
        cli_resume_close(r);
        return f == NULL ? LR_IO : LR_NOMEM;
    }
    rewind(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    if (size > 0 && !cli_resume_header(f, header)) {
        snprintf(err, errcap,
                 "--resume %s: this state file belongs to another run (not "
                 "this %s of these %zu ids in batches of %zu); remove it or "
                 "name another file",
                 path, op, n_ids, batch);
        fclose(f);
        cli_resume_close(r);
        return LR_INVALID;
    }
    if (size > 0)
        cli_resume_load(r, f);
    else
        fputs(header, f);
    if (fflush(f) != 0) {
        snprintf(err, errcap, "--resume %s: %s", path, strerror(errno));
        fclose(f);
        cli_resume_close(r);
        return LR_IO;
    }
    r->f = f;
    return LR_OK;
}

int cli_resume_mark(struct cli_resume *r, size_t i,
                    const struct cli_batch_result *res)
{
    if (i >= r->n_batches)
        return LR_INVALID;
    if (!r->done[i]) {
        r->done[i] = 1;
        r->n_done++;
    }
    if (r->f == NULL)
        return LR_OK;
    if (fprintf(
            r->f, "batch %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 "\n",
            i, res->matched, res->changed, res->unchanged, res->audit_id) < 0 ||
        fflush(r->f) != 0)
        return LR_IO;
    return LR_OK;
}

void cli_resume_close(struct cli_resume *r)
{
    if (r->f != NULL)
        fclose(r->f);
    free(r->done);
    memset(r, 0, sizeof(*r));
}

int cli_bulk_exit_code(size_t ok, size_t failed, size_t skipped)
{
    if (failed == 0)
        return CLI_EXIT_OK;
    return ok + skipped > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_RPC;
}

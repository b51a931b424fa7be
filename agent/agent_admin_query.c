/*
 * agent_admin_query.c - AdminService/LockByQuery: lock every account whose
 * recorded logins match CIDRs, ASNs, countries, a device and a time range.
 *
 * The selection runs in the store (store_history_query, on the history
 * indexes) and the matched ids are collected first, then locked in batches
 * of STORE_BULK_MAX, each batch one transaction with its own audit row
 * (action "lock_by_query"). Collecting first means a query that matches
 * more than AGENT_QUERY_ACCOUNTS_MAX accounts is refused before anything is
 * locked, and a dry run counts exactly what a real run would change.
 *
 * An empty query would select every account that ever logged in, so at
 * least one selector or a time bound is required.
 */
#include "agent/agent_admin.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_QUERY_BYTES_MAX (64u * 1024 * 1024) /* collected id text */
#define AGENT_AUDIT_IDS_MAX 256                   /* "12,13,..." */

/* The parsed selection, in the call's arena. */
struct agent_query {
    struct store_query q;
    uint8_t (*nets)[16];
    uint8_t *fams;
    uint8_t *bits;
    char (*countries)[3];
    const char **cptr;
};

/* Matched account ids, NUL-separated in one buffer. */
struct agent_hits {
    char *buf;
    size_t len, cap;
    size_t *offs;
    size_t n, cap_n;
    size_t max;
    bool over; /* more than max matched */
    int rc;
};

/* ---- validation ---------------------------------------------------------- */

static int agent_query_fail(char *msg, size_t cap, const char *field, long i,
                            const char *what)
{
    if (i >= 0)
        snprintf(msg, cap, "%s[%ld]: %s", field, i, what);
    else
        snprintf(msg, cap, "%s: %s", field, what);
    return LR_INVALID;
}

static int agent_query_cidrs(const Loginrisk__V1__LockByQueryRequest *m,
                             struct agent_query *aq, char *msg, size_t cap)
{
    for (size_t i = 0; i < m->n_cidrs; i++) {
        struct geo_cidr c;
        size_t len = strlen(m->cidrs[i]);
        if (len == 0 || len > AGENT_CIDR_TEXT_MAX ||
            geo_cidr_parse(m->cidrs[i], len, &c))
            return agent_query_fail(msg, cap, "cidrs", (long)i,
                                    "not an address/bits CIDR");
        memcpy(aq->nets[i], c.net.addr, 16);
        aq->fams[i] = c.net.family;
        aq->bits[i] = c.bits;
    }
    aq->q.cidr_nets = (const uint8_t(*)[16])aq->nets;
    aq->q.cidr_families = aq->fams;
    aq->q.cidr_bits = aq->bits;
    aq->q.n_cidrs = m->n_cidrs;
    return LR_OK;
}

static int agent_query_countries(const Loginrisk__V1__LockByQueryRequest *m,
                                 struct agent_query *aq, char *msg, size_t cap)
{
    for (size_t i = 0; i < m->n_countries; i++) {
        const char *c = m->countries[i];
        if (strlen(c) != 2 || !isalpha((unsigned char)c[0]) ||
            !isalpha((unsigned char)c[1]))
            return agent_query_fail(msg, cap, "countries", (long)i,
                                    "not a two-letter country code");
        aq->countries[i][0] = (char)toupper((unsigned char)c[0]);
        aq->countries[i][1] = (char)toupper((unsigned char)c[1]);
        aq->countries[i][2] = '\0';
        aq->cptr[i] = aq->countries[i];
    }
    aq->q.countries = aq->cptr;
    aq->q.n_countries = m->n_countries;
    return LR_OK;
}

static int agent_query_sizes(const Loginrisk__V1__LockByQueryRequest *m,
                             char *msg, size_t cap)
{
    char what[64];

    snprintf(what, sizeof(what), "more than %d entries", STORE_QUERY_TERMS_MAX);
    if (m->n_cidrs > STORE_QUERY_TERMS_MAX)
        return agent_query_fail(msg, cap, "cidrs", -1, what);
    if (m->n_asns > STORE_QUERY_TERMS_MAX)
        return agent_query_fail(msg, cap, "asns", -1, what);
    if (m->n_countries > STORE_QUERY_TERMS_MAX)
        return agent_query_fail(msg, cap, "countries", -1, what);
    if (m->n_cidrs == 0 && m->n_asns == 0 && m->n_countries == 0 &&
        m->device_id[0] == '\0' && m->since_ms == 0 && m->until_ms == 0)
        return agent_query_fail(msg, cap, "query", -1,
                                "empty; give cidrs, asns, countries, "
                                "device_id or a time range");
    return LR_OK;
}

static int agent_query_scalars(const Loginrisk__V1__LockByQueryRequest *m,
                               char *msg, size_t cap)
{
    char what[96];

    if (m->device_id[0] != '\0' &&
        agent_admin_check_id("device_id", -1, m->device_id, msg, cap))
        return LR_INVALID;
    if (m->since_ms < 0)
        return agent_query_fail(msg, cap, "since_ms", -1, "negative");
    if (m->until_ms < 0)
        return agent_query_fail(msg, cap, "until_ms", -1, "negative");
    if (m->until_ms != 0 && m->until_ms < m->since_ms)
        return agent_query_fail(msg, cap, "until_ms", -1, "before since_ms");
    if (m->limit > AGENT_QUERY_ACCOUNTS_MAX) {
        snprintf(what, sizeof(what), "more than %d accounts",
                 AGENT_QUERY_ACCOUNTS_MAX);
        return agent_query_fail(msg, cap, "limit", -1, what);
    }
    if (m->duration_s > AGENT_LOCK_DURATION_MAX_S)
        return agent_query_fail(msg, cap, "duration_s", -1,
                                "longer than 100 years");
    if (agent_admin_check_text("reason", m->reason, true, msg, cap) ||
        agent_admin_check_text("ticket", m->ticket, true, msg, cap))
        return LR_INVALID;
    return LR_OK;
}

static int agent_query_alloc(struct agent_call *call,
                             const Loginrisk__V1__LockByQueryRequest *m,
                             struct agent_query *aq)
{
    size_t nc = m->n_cidrs ? m->n_cidrs : 1;
    size_t nk = m->n_countries ? m->n_countries : 1;

    aq->nets = agent_call_alloc(call, nc * sizeof(*aq->nets));
    aq->fams = agent_call_alloc(call, nc);
    aq->bits = agent_call_alloc(call, nc);
    aq->countries = agent_call_alloc(call, nk * sizeof(*aq->countries));
    aq->cptr = agent_call_alloc(call, nk * sizeof(*aq->cptr));
    if (!aq->nets || !aq->fams || !aq->bits || !aq->countries || !aq->cptr)
        return LR_NOMEM;
    return LR_OK;
}

static int agent_query_parse(struct agent_call *call,
                             const Loginrisk__V1__LockByQueryRequest *m,
                             struct agent_query *aq, char *msg, size_t cap)
{
    int rc;

    memset(aq, 0, sizeof(*aq));
    rc = agent_query_sizes(m, msg, cap);
    if (rc == LR_OK)
        rc = agent_query_scalars(m, msg, cap);
    if (rc == LR_OK && agent_query_alloc(call, m, aq)) {
        snprintf(msg, cap, "request: out of memory");
        return LR_NOMEM;
    }
    if (rc == LR_OK)
        rc = agent_query_cidrs(m, aq, msg, cap);
    if (rc == LR_OK)
        rc = agent_query_countries(m, aq, msg, cap);
    if (rc)
        return rc;
    aq->q.asns = m->asns;
    aq->q.n_asns = m->n_asns;
    aq->q.device_id = m->device_id[0] ? m->device_id : NULL;
    aq->q.since_ms = m->since_ms;
    aq->q.until_ms = m->until_ms;
    aq->q.successful_only = m->successful_only;
    /* one more than the cap, to tell "exactly the cap" from "over" */
    aq->q.limit = m->limit ? m->limit : AGENT_QUERY_ACCOUNTS_MAX + 1;
    return LR_OK;
}

/* ---- collecting ---------------------------------------------------------- */

static int agent_hits_grow(struct agent_hits *h, size_t need)
{
    size_t cap = h->cap ? h->cap : 65536;
    char *buf;
    size_t *offs;

    while (cap < h->len + need)
        cap *= 2;
    if (cap > AGENT_QUERY_BYTES_MAX)
        return LR_FULL;
    if (cap != h->cap) {
        buf = realloc(h->buf, cap);
        if (buf == NULL)
            return LR_NOMEM;
        h->buf = buf;
        h->cap = cap;
    }
    if (h->n == h->cap_n) {
        size_t n = h->cap_n ? h->cap_n * 2 : 4096;
        offs = realloc(h->offs, n * sizeof(*offs));
        if (offs == NULL)
            return LR_NOMEM;
        h->offs = offs;
        h->cap_n = n;
    }
    return LR_OK;
}

static void agent_query_hit(const char *id, void *arg)
{
    struct agent_hits *h = arg;
    size_t len = strlen(id) + 1;

    if (h->rc || h->over)
        return;
    if (h->n >= h->max) {
        h->over = true;
        return;
    }
    h->rc = agent_hits_grow(h, len);
    if (h->rc)
        return;
    memcpy(h->buf + h->len, id, len);
    h->offs[h->n++] = h->len;
    h->len += len;
}

static void agent_hits_free(struct agent_hits *h)
{
    free(h->buf);
    free(h->offs);
}

/* ---- locking ------------------------------------------------------------- */

struct agent_query_total {
    struct store_bulk_result res; /* sums; sample of the first changes */
    char audit[AGENT_AUDIT_IDS_MAX];
};

static void agent_total_add(struct agent_query_total *t,
                            const struct store_bulk_result *b)
{
    size_t len = strlen(t->audit);

    t->res.matched += b->matched;
    t->res.changed += b->changed;
    t->res.unchanged += b->unchanged;
    for (size_t i = 0; i < b->n_sample && t->res.n_sample < STORE_SAMPLE_MAX;
         i++)
        lr_strlcpy(t->res.sample[t->res.n_sample++], b->sample[i],
                   sizeof(t->res.sample[0]));
    if (b->audit_id != 0 && len + 24 < sizeof(t->audit))
        snprintf(t->audit + len, sizeof(t->audit) - len, "%s%" PRId64,
                 len ? "," : "", b->audit_id);
}

static int agent_query_lock(struct agent_admin_req *r,
                            const Loginrisk__V1__LockByQueryRequest *m,
                            const struct agent_hits *h,
                            struct agent_query_total *t)
{
    struct store_actor who = {
        .actor = r->who.name,
        .reason = m->reason,
        .ticket = m->ticket,
        .action = "lock_by_query",
    };
    size_t chunk = h->n < STORE_BULK_MAX ? h->n : STORE_BULK_MAX;
    const char **ids = malloc((chunk ? chunk : 1) * sizeof(*ids));
    struct store_bulk_result b;
    int rc = LR_OK;

    if (ids == NULL)
        return LR_NOMEM;
    for (size_t at = 0; at < h->n && rc == LR_OK; at += chunk) {
        size_t k = h->n - at < chunk ? h->n - at : chunk;
        for (size_t i = 0; i < k; i++)
            ids[i] = h->buf + h->offs[at + i];
        rc = store_lock_accounts(r->st->store, ids, k,
                                 agent_admin_duration(r->st, m->duration_s),
                                 STORE_SCOPE_ALL, &who, m->dry_run, &b);
        if (rc == LR_OK)
            agent_total_add(t, &b);
    }
    free(ids);
    return rc;
}

static void agent_query_log(const struct agent_admin_req *r,
                            const Loginrisk__V1__LockByQueryRequest *m,
                            const struct agent_query_total *t)
{
    lr_log(LR_LOG_INFO,
           "admin: %slock_by_query by %s (ticket %s): %zu cidrs, %zu asns, "
           "%zu countries, device %s, since %" PRId64 ", until %" PRId64
           ", %s: %" PRIu64 " matched, %" PRIu64 " changed, audit %s",
           m->dry_run ? "dry-run " : "", r->who.name, m->ticket, m->n_cidrs,
           m->n_asns, m->n_countries, m->device_id[0] ? "given" : "any",
           m->since_ms, m->until_ms,
           m->successful_only ? "successful only" : "any result",
           t->res.matched, t->res.changed, t->audit[0] ? t->audit : "-");
}

void agent_admin_lock_by_query(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__LockByQueryRequest *m =
        (Loginrisk__V1__LockByQueryRequest *)msg;
    struct agent_hits h = {.max = AGENT_QUERY_ACCOUNTS_MAX};
    struct agent_query_total *t = agent_call_alloc(r->call, sizeof(*t));
    char err[AGENT_STATUS_MSG_MAX];
    struct agent_query aq;
    int rc;

    if (t == NULL) {
        agent_call_fail(r->call, AGENT_ST_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    memset(t, 0, sizeof(*t));
    rc = agent_query_parse(r->call, m, &aq, err, sizeof(err));
    if (rc) {
        agent_call_fail(r->call, agent_status_from_err(rc), "%s", err);
        return;
    }
    rc = store_history_query(r->st->store, &aq.q, agent_query_hit, &h);
    if (rc == LR_OK)
        rc = h.rc;
    if (rc == LR_OK && h.over) {
        agent_call_fail(r->call, AGENT_ST_FAILED_PRECONDITION,
                        "the query matches more than %d accounts; nothing "
                        "locked: narrow it or set limit",
                        AGENT_QUERY_ACCOUNTS_MAX);
        goto out;
    }
    if (rc == LR_OK)
        rc = agent_query_lock(r, m, &h, t);
    if (rc && t->audit[0] != '\0') {
        /* earlier batches are committed: say which */
        lr_log(LR_LOG_ERROR, "admin: lock_by_query failed after audit %s: %s",
               t->audit, lr_strerror(rc));
        agent_call_fail(r->call, agent_status_from_err(rc),
                        "lock_by_query failed after %" PRIu64
                        " accounts were locked (audit %s): %s",
                        t->res.changed, t->audit, lr_strerror(rc));
        goto out;
    }
    if (rc) {
        agent_admin_fail_store(r->call, "lock_by_query", rc);
        goto out;
    }
    agent_query_log(r, m, t);
    if (!m->dry_run)
        agent_metrics_admin(r->st->metrics, AGENT_ADMIN_LOCK_BY_QUERY,
                            t->res.changed);
    agent_admin_reply_bulk(r->call, &t->res, t->audit);
out:
    agent_hits_free(&h);
}

/*
 * store_locks.c - the in-memory mirror of the active locks.
 *
 * Every Evaluate asks "is this account locked?", so the answer comes from
 * memory, under a read lock that many threads share. A responder may lock a
 * million accounts, so the mirror is compact: an open-addressing table of
 * pointers (linear probing, at most 70% full, backward-shift deletion so
 * there are no tombstones) to entries that hold only the id, its expiry, its
 * scope and a pointer to an "origin". The origin (created time, source,
 * reason, ticket) is shared by every lock of one call and reference counted,
 * so a bulk lock of 10,000 ids stores its texts once.
 *
 * uthash is not used here on purpose: its 56-byte handle would double the
 * size of an entry, and it cannot reserve room in advance. The store commits
 * to SQLite first and then updates the mirror, and that update must not be
 * able to fail, so store_lockmap_prepare() allocates the entries and grows
 * the table before the commit and store_lockmap_commit() only moves pointers.
 *
 * uthash does index the origins while the locks are loaded at open (by audit
 * row id); that index is dropped when loading ends.
 */
#include "store/store_int.h"

#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#define STORE_LOCKMAP_MIN_CAP 1024u

struct store_origin {
    int64_t created_ms;
    size_t refs;
    uint16_t ticket_off;
    uint16_t source_off;
    char text[]; /* reason NUL ticket NUL source NUL */
};

struct store_lock_ent {
    struct store_origin *origin;
    int64_t expires_ms; /* 0 = until unlocked */
    uint32_t hash;
    uint16_t len;
    uint8_t scope;
    char id[];
};

/* Load-time index of origins by audit row id. */
struct store_origin_idx {
    int64_t audit_id;
    struct store_origin *origin;
    UT_hash_handle hh;
};

struct store_lockmap {
    pthread_rwlock_t rw;
    struct store_lock_ent **slots;
    size_t cap; /* a power of two */
    size_t count;
    int64_t next_expiry_ms; /* earliest expiry held; INT64_MAX = none */
    size_t bytes;           /* entries and origins */
    struct store_origin_idx *load_idx;
};

struct store_lock_batch {
    struct store_origin *origin;
    size_t n;
    struct store_lock_ent *ents[];
};

/* The store's account hash (store_hist.c), cut to the mirror's width. */
static uint32_t store_lock_hash(const char *id, size_t len)
{
    return (uint32_t)store_hist_hash(id, len);
}

static bool store_ent_active(const struct store_lock_ent *e, int64_t now_ms)
{
    return e->expires_ms == 0 || e->expires_ms > now_ms;
}

/* Slot of @p id, or of the empty slot where it would go; *found says which. */
static size_t store_slot(const struct store_lockmap *m, const char *id,
                         size_t len, uint32_t hash, bool *found)
{
    size_t mask = m->cap - 1, i = hash & mask;

    for (;;) {
        const struct store_lock_ent *e = m->slots[i];

        if (e == NULL) {
            *found = false;
            return i;
        }
        if (e->hash == hash && e->len == len && memcmp(e->id, id, len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static const struct store_lock_ent *store_find(const struct store_lockmap *m,
                                               const char *id)
{
    size_t len = strlen(id), i;
    bool found;

    if (m->cap == 0 || len > UINT16_MAX)
        return NULL;
    i = store_slot(m, id, len, store_lock_hash(id, len), &found);
    return found ? m->slots[i] : NULL;
}

/* Grows the table so @p extra more entries keep it at most 70% full. */
static int store_reserve(struct store_lockmap *m, size_t extra)
{
    size_t want = m->count + extra, cap = m->cap ? m->cap : 0;
    struct store_lock_ent **slots;

    if (want > SIZE_MAX / 16)
        return LR_NOMEM;
    if (cap == 0)
        cap = STORE_LOCKMAP_MIN_CAP;
    while (want * 10 > cap * 7)
        cap *= 2;
    if (cap == m->cap)
        return LR_OK;
    slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return LR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct store_lock_ent *e = m->slots[i];
        size_t j;

        if (e == NULL)
            continue;
        for (j = e->hash & (cap - 1); slots[j] != NULL; j = (j + 1) & (cap - 1))
            ;
        slots[j] = e;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return LR_OK;
}

static void store_origin_release(struct store_lockmap *m,
                                 struct store_origin *o)
{
    if (o != NULL && --o->refs == 0) {
        m->bytes -= malloc_usable_size(o);
        free(o);
    }
}

static void store_ent_release(struct store_lockmap *m, struct store_lock_ent *e)
{
    store_origin_release(m, e->origin);
    m->bytes -= malloc_usable_size(e);
    free(e);
}

/* Empties slot @p i and shifts back the run after it (no tombstones). */
static void store_delete_at(struct store_lockmap *m, size_t i)
{
    size_t mask = m->cap - 1, j = i;

    m->slots[i] = NULL;
    m->count--;
    for (;;) {
        size_t k;

        j = (j + 1) & mask;
        if (m->slots[j] == NULL)
            return;
        k = m->slots[j]->hash & mask;
        /* Leave it if its home slot lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j] = NULL;
        i = j;
    }
}

/* Puts @p e in the table (room reserved), replacing an entry of its id. */
static void store_put_ent(struct store_lockmap *m, struct store_lock_ent *e)
{
    bool found;
    size_t i = store_slot(m, e->id, e->len, e->hash, &found);

    if (found)
        store_ent_release(m, m->slots[i]);
    else
        m->count++;
    m->slots[i] = e;
    if (e->expires_ms != 0 && e->expires_ms < m->next_expiry_ms)
        m->next_expiry_ms = e->expires_ms;
}

static struct store_origin *store_origin_new(const struct store_lock_origin *o)
{
    const char *reason = o->reason ? o->reason : "";
    const char *ticket = o->ticket ? o->ticket : "";
    const char *source = o->source ? o->source : "";
    size_t rl = strnlen(reason, STORE_TEXT_MAX - 1);
    size_t tl = strnlen(ticket, STORE_TEXT_MAX - 1);
    size_t sl = strnlen(source, STORE_TEXT_MAX - 1);
    struct store_origin *g = malloc(sizeof(*g) + rl + tl + sl + 3);

    if (g == NULL)
        return NULL;
    g->created_ms = o->created_ms;
    g->refs = 0;
    g->ticket_off = (uint16_t)(rl + 1);
    g->source_off = (uint16_t)(rl + tl + 2);
    memcpy(g->text, reason, rl);
    g->text[rl] = '\0';
    memcpy(g->text + g->ticket_off, ticket, tl);
    g->text[g->ticket_off + tl] = '\0';
    memcpy(g->text + g->source_off, source, sl);
    g->text[g->source_off + sl] = '\0';
    return g;
}

static struct store_lock_ent *store_ent_new(const char *id, size_t len,
                                            int64_t expires_ms,
                                            enum store_lock_scope scope)
{
    struct store_lock_ent *e = malloc(sizeof(*e) + len + 1);

    if (e == NULL)
        return NULL;
    e->origin = NULL;
    e->expires_ms = expires_ms;
    e->hash = store_lock_hash(id, len);
    e->len = (uint16_t)len;
    e->scope = (uint8_t)scope;
    memcpy(e->id, id, len);
    e->id[len] = '\0';
    return e;
}

int store_lockmap_new(struct store_lockmap **out)
{
    struct store_lockmap *m = calloc(1, sizeof(*m));
    pthread_rwlockattr_t attr;
    int rc = LR_OK;

    if (m == NULL)
        return LR_NOMEM;
    m->next_expiry_ms = INT64_MAX;
    /* Writers first: a stream of Evaluate readers must not starve a lock. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (pthread_rwlock_init(&m->rw, &attr) != 0)
        rc = LR_NOMEM;
    pthread_rwlockattr_destroy(&attr);
    if (rc == 0)
        rc = store_reserve(m, 0);
    if (rc) {
        free(m->slots);
        free(m);
        return rc;
    }
    *out = m;
    return LR_OK;
}

void store_lockmap_free(struct store_lockmap *m)
{
    if (m == NULL)
        return;
    store_lockmap_load_done(m);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i] != NULL)
            store_ent_release(m, m->slots[i]);
    }
    free(m->slots);
    pthread_rwlock_destroy(&m->rw);
    free(m);
}

/* The origin of audit row @p row->audit_id, made on first sight. */
static int store_load_origin(struct store_lockmap *m,
                             const struct store_db_lock_row *row,
                             struct store_origin **out)
{
    struct store_origin_idx *x = NULL;
    struct store_lock_origin o = {row->created_ms, row->actor, row->reason,
                                  row->ticket};

    HASH_FIND(hh, m->load_idx, &row->audit_id, sizeof(row->audit_id), x);
    if (x != NULL) {
        *out = x->origin;
        return LR_OK;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return LR_NOMEM;
    x->audit_id = row->audit_id;
    x->origin = store_origin_new(&o);
    if (x->origin == NULL) {
        free(x);
        return LR_NOMEM;
    }
    HASH_ADD(hh, m->load_idx, audit_id, sizeof(x->audit_id), x);
    if (x->hh.tbl == NULL) {
        free(x->origin);
        free(x);
        return LR_NOMEM;
    }
    m->bytes += malloc_usable_size(x->origin);
    *out = x->origin;
    return LR_OK;
}

int store_lockmap_load(struct store_lockmap *m,
                       const struct store_db_lock_row *row)
{
    struct store_origin *origin = NULL;
    struct store_lock_ent *e;
    int rc;

    if (row->len == 0 || row->len >= STORE_ID_MAX)
        return LR_CORRUPT;
    rc = store_reserve(m, 1);
    if (rc == 0)
        rc = store_load_origin(m, row, &origin);
    if (rc)
        return rc;
    e = store_ent_new(row->account_id, row->len, row->expires_ms,
                      row->scope == STORE_SCOPE_UNFAMILIAR
                          ? STORE_SCOPE_UNFAMILIAR
                          : STORE_SCOPE_ALL);
    if (e == NULL)
        return LR_NOMEM;
    e->origin = origin;
    origin->refs++;
    m->bytes += malloc_usable_size(e);
    store_put_ent(m, e);
    return LR_OK;
}

void store_lockmap_load_done(struct store_lockmap *m)
{
    struct store_origin_idx *x, *tmp;

    HASH_ITER(hh, m->load_idx, x, tmp)
    {
        HASH_DEL(m->load_idx, x);
        /* Made for a row whose entry then failed: nothing refers to it. */
        if (x->origin->refs == 0) {
            m->bytes -= malloc_usable_size(x->origin);
            free(x->origin);
        }
        free(x);
    }
}

int store_lockmap_get(struct store_lockmap *m, const char *id, int64_t now_ms,
                      struct store_lock *out)
{
    const struct store_lock_ent *e;
    const struct store_origin *g;
    int rc = LR_NOTFOUND;

    pthread_rwlock_rdlock(&m->rw);
    e = store_find(m, id);
    if (e != NULL && store_ent_active(e, now_ms)) {
        g = e->origin;
        lr_strlcpy(out->account_id, e->id, sizeof(out->account_id));
        lr_strlcpy(out->reason, g->text, sizeof(out->reason));
        lr_strlcpy(out->ticket, g->text + g->ticket_off, sizeof(out->ticket));
        lr_strlcpy(out->source, g->text + g->source_off, sizeof(out->source));
        out->created_ms = g->created_ms;
        out->expires_ms = e->expires_ms;
        out->scope = (enum store_lock_scope)e->scope;
        rc = LR_OK;
    }
    pthread_rwlock_unlock(&m->rw);
    return rc;
}

size_t store_lockmap_size(struct store_lockmap *m)
{
    size_t n;

    pthread_rwlock_rdlock(&m->rw);
    n = m->count;
    pthread_rwlock_unlock(&m->rw);
    return n;
}

size_t store_lockmap_bytes(struct store_lockmap *m)
{
    size_t n;

    pthread_rwlock_rdlock(&m->rw);
    n = m->bytes + m->cap * sizeof(*m->slots) + sizeof(*m);
    pthread_rwlock_unlock(&m->rw);
    return n;
}

bool store_lockmap_purge_due(struct store_lockmap *m, int64_t now_ms)
{
    bool due;

    pthread_rwlock_rdlock(&m->rw);
    due = m->next_expiry_ms <= now_ms;
    pthread_rwlock_unlock(&m->rw);
    return due;
}

void store_lockmap_purge(struct store_lockmap *m, int64_t now_ms)
{
    int64_t next = INT64_MAX;

    pthread_rwlock_wrlock(&m->rw);
    for (size_t i = 0; i < m->cap;) {
        struct store_lock_ent *e = m->slots[i];

        if (e != NULL && !store_ent_active(e, now_ms)) {
            /* The shift may pull a later entry into i: look at i again. */
            store_delete_at(m, i);
            store_ent_release(m, e);
            continue;
        }
        if (e != NULL && e->expires_ms != 0 && e->expires_ms < next)
            next = e->expires_ms;
        i++;
    }
    m->next_expiry_ms = next;
    pthread_rwlock_unlock(&m->rw);
}

bool store_lockmap_lock_changes(const struct store_lockmap *m, const char *id,
                                int64_t now_ms, int64_t expires_ms,
                                enum store_lock_scope scope)
{
    const struct store_lock_ent *e = store_find(m, id);

    if (e == NULL || !store_ent_active(e, now_ms))
        return true;
    if (e->scope == STORE_SCOPE_UNFAMILIAR && scope == STORE_SCOPE_ALL)
        return true;
    if (e->expires_ms == 0)
        return false;
    if (expires_ms == 0)
        return true;
    if (e->expires_ms >= expires_ms)
        return false;
    /* A resent batch: the same duration, counted from its first send. */
    return e->expires_ms - e->origin->created_ms != expires_ms - now_ms;
}

bool store_lockmap_unlock_changes(const struct store_lockmap *m, const char *id,
                                  int64_t now_ms)
{
    const struct store_lock_ent *e = store_find(m, id);

    return e != NULL && store_ent_active(e, now_ms);
}

int store_lockmap_prepare(struct store_lockmap *m, const char *const *ids,
                          size_t n, int64_t expires_ms,
                          enum store_lock_scope scope,
                          const struct store_lock_origin *o,
                          struct store_lock_batch **out)
{
    struct store_lock_batch *b = NULL;
    int rc = LR_NOMEM;

    b = calloc(1, sizeof(*b) + n * sizeof(b->ents[0]));
    if (b == NULL)
        goto out;
    b->origin = store_origin_new(o);
    if (b->origin == NULL)
        goto out;
    for (; b->n < n; b->n++) {
        b->ents[b->n] =
            store_ent_new(ids[b->n], strlen(ids[b->n]), expires_ms, scope);
        if (b->ents[b->n] == NULL)
            goto out;
        b->ents[b->n]->origin = b->origin;
    }
    pthread_rwlock_wrlock(&m->rw);
    rc = store_reserve(m, n);
    pthread_rwlock_unlock(&m->rw);
out:
    if (rc) {
        store_lockmap_batch_free(b);
        return rc;
    }
    *out = b;
    return LR_OK;
}

void store_lockmap_commit(struct store_lockmap *m, struct store_lock_batch *b)
{
    if (b->n == 0) {
        store_lockmap_batch_free(b);
        return;
    }
    pthread_rwlock_wrlock(&m->rw);
    b->origin->refs = b->n;
    m->bytes += malloc_usable_size(b->origin);
    for (size_t i = 0; i < b->n; i++) {
        m->bytes += malloc_usable_size(b->ents[i]);
        store_put_ent(m, b->ents[i]);
    }
    pthread_rwlock_unlock(&m->rw);
    free(b);
}

void store_lockmap_batch_free(struct store_lock_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->ents[i]);
    free(b->origin);
    free(b);
}

void store_lockmap_remove(struct store_lockmap *m, const char *const *ids,
                          size_t n)
{
    pthread_rwlock_wrlock(&m->rw);
    for (size_t k = 0; k < n && m->cap > 0; k++) {
        size_t len = strlen(ids[k]), i;
        bool found;

        i = store_slot(m, ids[k], len, store_lock_hash(ids[k], len), &found);
        if (found) {
            struct store_lock_ent *e = m->slots[i];

            store_delete_at(m, i);
            store_ent_release(m, e);
        }
    }
    pthread_rwlock_unlock(&m->rw);
}

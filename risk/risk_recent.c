/*
 * risk_recent.c - the recent-decision table that joins ReportOutcome to its
 * Evaluate by request_id.
 *
 * A ring of limits.recent_decisions preallocated entries indexed by request
 * id (risk_index.c): each decision takes the next slot and the oldest one
 * falls out, so memory is fixed at creation and remembering a decision costs
 * no allocation (ids longer than the inline buffers, rare, are the
 * exception).
 * An entry keeps what learning and fraud marking need later: account,
 * device, IP, place, time, credential, action, and which outcome kinds were
 * already applied, so a resent outcome changes nothing twice.
 */
#include "risk/risk_internal.h"

#include <stdlib.h>
#include <string.h>

#define RISK_RECENT_INLINE 64

struct risk_rent {
    uint64_t h; /* of request_id */
    char request_id[RISK_REQUEST_ID_MAX];
    char account[RISK_RECENT_INLINE];
    char *account_long; /* set when the id does not fit inline */
    char device[RISK_RECENT_INLINE];
    char *device_long;
    struct geo_ip ip;
    struct risk_place place;
    int64_t ts_ms;
    uint8_t credential;
    uint8_t action;
    uint8_t claimed; /* bit per enum lr_outcome already applied */
    bool device_known;
    bool used;
};

struct risk_recent {
    pthread_mutex_t mu;
    struct risk_rent *slots;
    size_t cap;
    size_t next;
    size_t n;
    uint64_t seed;
    struct risk_index ix;
};

int risk_recent_new(uint32_t cap, uint64_t seed, struct risk_recent **out)
{
    struct risk_recent *r = calloc(1, sizeof(*r));

    if (!r)
        return LR_NOMEM;
    r->cap = cap < 1 ? 1 : cap;
    r->seed = seed;
    r->slots = calloc(r->cap, sizeof(*r->slots));
    if (!r->slots || risk_index_init(&r->ix, r->cap)) {
        free(r->slots);
        free(r);
        return LR_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return LR_OK;
}

static void rent_release(struct risk_recent *r, struct risk_rent *ent)
{
    if (ent->used) {
        risk_index_del(&r->ix, ent->h, ent);
        r->n--;
    }
    free(ent->account_long);
    free(ent->device_long);
    ent->account_long = ent->device_long = NULL;
    ent->used = false;
}

void risk_recent_free(struct risk_recent *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->cap; i++)
        rent_release(r, &r->slots[i]);
    risk_index_free(&r->ix);
    pthread_mutex_destroy(&r->mu);
    free(r->slots);
    free(r);
}

size_t risk_recent_size(struct risk_recent *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int set_str(char *inl, char **longp, const char *s)
{
    if (lr_strlcpy(inl, s, RISK_RECENT_INLINE) < RISK_RECENT_INLINE)
        return LR_OK;
    *longp = strdup(s);
    return *longp ? LR_OK : LR_NOMEM;
}

static const char *get_str(const char *inl, const char *longp)
{
    return longp ? longp : inl;
}

static bool rent_eq(const void *elem, const void *key)
{
    return strcmp(((const struct risk_rent *)elem)->request_id, key) == 0;
}

static struct risk_rent *rent_find_h(struct risk_recent *r, const char *id,
                                     uint64_t h)
{
    return risk_index_find(&r->ix, h, rent_eq, id);
}

static uint64_t rent_hash(const struct risk_recent *r, const char *id)
{
    return risk_hash64(id, strlen(id), r->seed);
}

static int rent_fill(struct risk_rent *ent, const struct risk_attempt *a,
                     const struct risk_place *pl, enum lr_action action,
                     bool device_known)
{
    int rc;

    lr_strlcpy(ent->request_id, a->request_id, sizeof(ent->request_id));
    rc = set_str(ent->account, &ent->account_long, a->account_id);
    if (rc == LR_OK)
        rc = set_str(ent->device, &ent->device_long,
                     a->device_id ? a->device_id : "");
    ent->ip = a->ip;
    ent->place = *pl;
    ent->ts_ms = a->timestamp_ms;
    ent->credential = (uint8_t)a->credential;
    ent->action = (uint8_t)action;
    ent->claimed = 0;
    ent->device_known = device_known;
    return rc;
}

/*
 * Starts loading the two index lines the next put touches: the new id's
 * slot, and the slot of the oldest decision it will push out (next in the
 * ring). The index never grows, so its array and mask are fixed; `next`
 * and the entries' hashes are read and written with relaxed atomics, as a
 * stale value only prefetches a line for nothing.
 */
uint64_t risk_recent_prefetch(struct risk_recent *r, const char *request_id)
{
    uint64_t h = rent_hash(r, request_id);
    size_t next = __atomic_load_n(&r->next, __ATOMIC_RELAXED);

    risk_index_prefetch(&r->ix, h);
    risk_index_prefetch(&r->ix,
                        __atomic_load_n(&r->slots[next].h, __ATOMIC_RELAXED));
    return h;
}

int risk_recent_put(struct risk_recent *r, const struct risk_attempt *a,
                    uint64_t h, const struct risk_place *pl,
                    enum lr_action action, bool device_known)
{
    struct risk_rent *ent;
    int rc;

    pthread_mutex_lock(&r->mu);
    /* A resent request_id replaces the older decision. */
    ent = rent_find_h(r, a->request_id, h);
    if (ent)
        rent_release(r, ent);
    ent = &r->slots[r->next];
    __atomic_store_n(&r->next, r->next + 1 == r->cap ? 0 : r->next + 1,
                     __ATOMIC_RELAXED);
    rent_release(r, ent);
    rc = rent_fill(ent, a, pl, action, device_known);
    if (rc == LR_OK) {
        __atomic_store_n(&ent->h, h, __ATOMIC_RELAXED);
        rc = risk_index_put(&r->ix, h, ent); /* cannot be full: n < cap */
    }
    if (rc == LR_OK) {
        ent->used = true;
        r->n++;
    } else {
        rent_release(r, ent);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static void rent_copy(const struct risk_rent *ent, struct risk_recent_rec *out)
{
    lr_strlcpy(out->account_id, get_str(ent->account, ent->account_long),
               sizeof(out->account_id));
    lr_strlcpy(out->device_id, get_str(ent->device, ent->device_long),
               sizeof(out->device_id));
    out->ip = ent->ip;
    out->place = ent->place;
    out->ts_ms = ent->ts_ms;
    out->credential = (enum lr_credential)ent->credential;
    out->action = (enum lr_action)ent->action;
    out->device_known = ent->device_known;
}

int risk_recent_claim(struct risk_recent *r, const char *request_id,
                      const char *account_id, enum lr_outcome kind,
                      struct risk_recent_rec *out, bool *first)
{
    struct risk_rent *ent;
    uint8_t bit = (uint8_t)(1u << kind);
    uint64_t h = rent_hash(r, request_id);
    int rc = LR_OK;

    pthread_mutex_lock(&r->mu);
    ent = rent_find_h(r, request_id, h);
    if (!ent) {
        rc = LR_NOTFOUND;
        goto out;
    }
    if (strcmp(get_str(ent->account, ent->account_long), account_id) != 0) {
        rc = LR_INVALID;
        goto out;
    }
    *first = !(ent->claimed & bit);
    ent->claimed |= bit;
    rent_copy(ent, out);
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void risk_recent_unclaim(struct risk_recent *r, const char *request_id,
                         enum lr_outcome kind)
{
    uint64_t h = rent_hash(r, request_id);
    struct risk_rent *ent;

    pthread_mutex_lock(&r->mu);
    ent = rent_find_h(r, request_id, h);
    if (ent)
        ent->claimed &= (uint8_t) ~(1u << kind);
    pthread_mutex_unlock(&r->mu);
}

/*
 * risk_recent.c - the recent-decision table that joins ReportOutcome to its
 * Evaluate by request_id.
 *
 * A ring of limits.recent_decisions preallocated entries indexed by a
 * uthash table: each decision takes the next slot and the oldest one falls
 * out, so memory is fixed at creation and remembering a decision costs no
 * allocation (ids longer than the inline buffers, rare, are the exception).
 * An entry keeps what learning and fraud marking need later: account,
 * device, IP, place, time, credential, action, and which outcome kinds were
 * already applied, so a resent outcome changes nothing twice.
 */
#include "risk/risk_internal.h"

#include <stdlib.h>
#include <string.h>

#define RISK_RECENT_INLINE 64

struct risk_rent {
    UT_hash_handle hh;
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
    struct risk_rent *map;
};

int risk_recent_new(uint32_t cap, struct risk_recent **out)
{
    struct risk_recent *r = calloc(1, sizeof(*r));

    if (!r)
        return LR_NOMEM;
    r->cap = cap < 1 ? 1 : cap;
    r->slots = calloc(r->cap, sizeof(*r->slots));
    if (!r->slots) {
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
        HASH_DEL(r->map, ent);
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
    HASH_CLEAR(hh, r->map);
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

static struct risk_rent *rent_find(struct risk_recent *r, const char *id)
{
    struct risk_rent *ent = NULL;

    HASH_FIND(hh, r->map, id, strlen(id), ent);
    return ent;
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

int risk_recent_put(struct risk_recent *r, const struct risk_attempt *a,
                    const struct risk_place *pl, enum lr_action action,
                    bool device_known)
{
    struct risk_rent *ent;
    int rc;

    pthread_mutex_lock(&r->mu);
    /* A resent request_id replaces the older decision. */
    ent = rent_find(r, a->request_id);
    if (ent)
        rent_release(r, ent);
    ent = &r->slots[r->next];
    r->next = (r->next + 1) % r->cap;
    rent_release(r, ent);
    rc = rent_fill(ent, a, pl, action, device_known);
    if (rc == LR_OK) {
        HASH_ADD_KEYPTR(hh, r->map, ent->request_id, strlen(ent->request_id),
                        ent);
        if (!ent->hh.tbl)
            rc = LR_NOMEM;
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
    int rc = LR_OK;

    pthread_mutex_lock(&r->mu);
    ent = rent_find(r, request_id);
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
    struct risk_rent *ent;

    pthread_mutex_lock(&r->mu);
    ent = rent_find(r, request_id);
    if (ent)
        ent->claimed &= (uint8_t) ~(1u << kind);
    pthread_mutex_unlock(&r->mu);
}

/*
 * risk_profile.c - a bounded LRU cache of account profiles over the store:
 * known devices, countries and ASNs seen, the last successful login's place
 * and time, and the spray flag.
 *
 * Profiles load lazily: a miss drops the lock, reads the store, and takes
 * the lock again to insert (another thread may have won the race; its copy
 * is kept). An account with no stored profile is cached empty, so repeated
 * attempts do not read the disk again; and an account the existence filter
 * (risk_pfilter.c) says has none is cached empty without reading at all. At
 * limits.profile_cache the least recently used profile is evicted and its
 * memory reused, so a warm cache does not allocate.
 *
 * Changes (learning, flags, forgetting a device) are made under the lock
 * and then queued whole to the store's writer (store_profile_save), outside
 * the lock. Without a store the cache is the only copy (replay, benchmarks).
 * Devices, countries and ASNs are kept most recent first and bounded by
 * limits.devices_per_account and limits.places_per_account (LRU).
 */
#include "risk/risk_internal.h"

#include <stdlib.h>
#include <string.h>

#define RISK_PDEV_INLINE 40 /* a UUID fits; longer ids are copied */

struct risk_pdev {
    uint64_t h;
    int64_t first_ms;
    int64_t last_ms;
    char *id_long; /* NULL when the id is inline */
    char id[RISK_PDEV_INLINE];
};

#define RISK_PENT_INLINE 64

struct risk_pent {
    uint64_t h;             /* of the account id: its index key */
    struct risk_pent *prev; /* LRU: head is the most recently used */
    struct risk_pent *next;
    char account[RISK_PENT_INLINE]; /* the id, when it fits */
    char *account_long;             /* else a copy */
    struct risk_pdev *devs;         /* most recent first; NULL when none */
    size_t n_devs;
    size_t devs_alloc;
    char countries[STORE_PLACES_MAX][GEO_COUNTRY_MAX];
    size_t n_countries;
    uint32_t asns[STORE_PLACES_MAX];
    size_t n_asns;
    int64_t last_success_ms;
    bool last_has_location;
    double last_lat;
    double last_lon;
    uint32_t last_radius_km;
    char last_country[GEO_COUNTRY_MAX];
    char last_city[GEO_CITY_MAX];
    bool flagged_spray;
};

struct risk_profiles {
    pthread_mutex_t mu;
    struct risk_pfilter *filter; /* accounts with a stored profile; NULL =
                                    ask the store on every miss */
    struct risk_index ix;
    struct risk_pent *head;
    struct risk_pent *tail;
    size_t n;
    uint64_t seed;
};

int risk_profiles_new(uint32_t cap, uint64_t seed, struct risk_profiles **out)
{
    struct risk_profiles *pc = calloc(1, sizeof(*pc));

    if (!pc)
        return LR_NOMEM;
    if (risk_index_init(&pc->ix, cap < 1 ? 1 : cap)) {
        free(pc);
        return LR_NOMEM;
    }
    pthread_mutex_init(&pc->mu, NULL);
    pc->seed = seed;
    *out = pc;
    return LR_OK;
}

int risk_profiles_use_filter(struct risk_profiles *pc, struct store *st,
                             size_t extra)
{
    struct risk_pfilter *f = NULL;
    int rc = risk_pfilter_new(st, pc->seed, extra, &f);

    if (rc)
        return rc;
    pthread_mutex_lock(&pc->mu);
    risk_pfilter_free(pc->filter);
    pc->filter = f;
    pthread_mutex_unlock(&pc->mu);
    return LR_OK;
}

static const char *pdev_id(const struct risk_pdev *d)
{
    return d->id_long ? d->id_long : d->id;
}

static int pdev_set(struct risk_pdev *d, const char *id, uint64_t h)
{
    size_t len = strlen(id);

    d->h = h;
    d->id_long = NULL;
    if (len < sizeof(d->id)) {
        memcpy(d->id, id, len + 1);
        return LR_OK;
    }
    d->id[0] = '\0';
    d->id_long = strdup(id);
    return d->id_long ? LR_OK : LR_NOMEM;
}

static void pdev_clear(struct risk_pdev *d)
{
    free(d->id_long);
    d->id_long = NULL;
}

/*
 * Empties @p ent for reuse. The device array is kept (a reused entry then
 * costs no allocation); @p keep_devs false frees it too.
 */
static void pent_clear(struct risk_pent *ent, bool keep_devs)
{
    struct risk_pdev *devs = ent->devs;
    size_t alloc = ent->devs_alloc;

    for (size_t i = 0; i < ent->n_devs; i++)
        pdev_clear(&devs[i]);
    free(ent->account_long);
    if (!keep_devs) {
        free(devs);
        devs = NULL;
        alloc = 0;
    }
    memset(ent, 0, sizeof(*ent));
    ent->devs = devs;
    ent->devs_alloc = alloc;
}

static const char *pent_account(const struct risk_pent *ent)
{
    return ent->account_long ? ent->account_long : ent->account;
}

static int pent_set_account(struct risk_pent *ent, const char *account)
{
    if (lr_strlcpy(ent->account, account, sizeof(ent->account)) <
        sizeof(ent->account))
        return LR_OK;
    ent->account_long = strdup(account);
    return ent->account_long ? LR_OK : LR_NOMEM;
}

/* Makes room for @p n devices (n <= STORE_DEVICES_MAX), doubling. */
static int devs_reserve(struct risk_pent *ent, size_t n)
{
    struct risk_pdev *v;

    if (n <= ent->devs_alloc)
        return LR_OK;
    if (n < 2 * ent->devs_alloc)
        n = 2 * ent->devs_alloc;
    if (n > STORE_DEVICES_MAX)
        n = STORE_DEVICES_MAX;
    v = realloc(ent->devs, n * sizeof(*v));
    if (!v)
        return LR_NOMEM;
    ent->devs = v;
    ent->devs_alloc = n;
    return LR_OK;
}

void risk_profiles_free(struct risk_profiles *pc)
{
    struct risk_pent *ent, *next;

    if (!pc)
        return;
    for (ent = pc->head; ent; ent = next) {
        next = ent->next;
        pent_clear(ent, false);
        free(ent);
    }
    risk_pfilter_free(pc->filter);
    risk_index_free(&pc->ix);
    pthread_mutex_destroy(&pc->mu);
    free(pc);
}

size_t risk_profiles_size(struct risk_profiles *pc)
{
    size_t n;

    pthread_mutex_lock(&pc->mu);
    n = pc->n;
    pthread_mutex_unlock(&pc->mu);
    return n;
}

/* ---- LRU --------------------------------------------------------------- */

static void lru_unlink(struct risk_profiles *pc, struct risk_pent *ent)
{
    if (ent->prev)
        ent->prev->next = ent->next;
    else
        pc->head = ent->next;
    if (ent->next)
        ent->next->prev = ent->prev;
    else
        pc->tail = ent->prev;
    ent->prev = ent->next = NULL;
}

static void lru_push(struct risk_profiles *pc, struct risk_pent *ent)
{
    ent->prev = NULL;
    ent->next = pc->head;
    if (pc->head)
        pc->head->prev = ent;
    pc->head = ent;
    if (!pc->tail)
        pc->tail = ent;
}

static bool pent_eq(const void *elem, const void *key)
{
    return strcmp(pent_account(elem), key) == 0;
}

static struct risk_pent *pent_find(struct risk_profiles *pc,
                                   const char *account, uint64_t h)
{
    struct risk_pent *ent = risk_index_find(&pc->ix, h, pent_eq, account);

    if (ent && ent != pc->head) {
        lru_unlink(pc, ent);
        lru_push(pc, ent);
    }
    return ent;
}

static struct risk_pent *pent_evict(struct risk_profiles *pc)
{
    struct risk_pent *ent = pc->tail;

    lru_unlink(pc, ent);
    risk_index_del(&pc->ix, ent->h, ent);
    pc->n--;
    return ent;
}

/*
 * A fresh entry: the least recently used one at the cap (reused in place),
 * else a new allocation. A cap lowered by a reload evicts down to it.
 */
static struct risk_pent *pent_take(struct risk_profiles *pc, size_t cap)
{
    struct risk_pent *ent;

    while (pc->n > cap && pc->tail) {
        ent = pent_evict(pc);
        pent_clear(ent, false);
        free(ent);
    }
    if (pc->n >= cap && pc->tail) {
        ent = pent_evict(pc);
        pent_clear(ent, true);
        return ent;
    }
    return calloc(1, sizeof(struct risk_pent));
}

/* ---- conversion ------------------------------------------------------- */

static size_t dev_cap(const struct risk_policy *p)
{
    uint32_t n = p->cfg->limits.devices_per_account;

    return n < 1 ? 1 : n > STORE_DEVICES_MAX ? STORE_DEVICES_MAX : n;
}

static size_t place_cap(const struct risk_policy *p)
{
    uint32_t n = p->cfg->limits.places_per_account;

    return n < 1 ? 1 : n > STORE_PLACES_MAX ? STORE_PLACES_MAX : n;
}

static int pent_from_store(struct risk_pent *ent,
                           const struct store_profile *sp, uint64_t seed)
{
    size_t nd =
        sp->n_devices < STORE_DEVICES_MAX ? sp->n_devices : STORE_DEVICES_MAX;

    if (devs_reserve(ent, nd))
        return LR_NOMEM;
    for (size_t i = 0; i < nd; i++) {
        struct risk_pdev *d = &ent->devs[ent->n_devs];

        if (pdev_set(d, sp->devices[i].id,
                     risk_hash64(sp->devices[i].id, strlen(sp->devices[i].id),
                                 seed)))
            return LR_NOMEM;
        d->first_ms = sp->devices[i].first_ms;
        d->last_ms = sp->devices[i].last_ms;
        ent->n_devs++;
    }
    ent->n_countries =
        sp->n_countries < STORE_PLACES_MAX ? sp->n_countries : STORE_PLACES_MAX;
    for (size_t i = 0; i < ent->n_countries; i++)
        lr_strlcpy(ent->countries[i], sp->countries[i], GEO_COUNTRY_MAX);
    ent->n_asns = sp->n_asns < STORE_PLACES_MAX ? sp->n_asns : STORE_PLACES_MAX;
    memcpy(ent->asns, sp->asns, ent->n_asns * sizeof(ent->asns[0]));
    ent->last_success_ms = sp->last_success_ms;
    ent->last_has_location = sp->last_has_location;
    ent->last_lat = sp->last_lat;
    ent->last_lon = sp->last_lon;
    ent->last_radius_km = sp->last_radius_km;
    lr_strlcpy(ent->last_country, sp->last_country, GEO_COUNTRY_MAX);
    lr_strlcpy(ent->last_city, sp->last_city, GEO_CITY_MAX);
    ent->flagged_spray = sp->flagged_spray;
    return LR_OK;
}

/* Every field the store reads is written (strings up to their NUL, the
 * first n_* list entries), so the 10 KiB record is not cleared first. */
static void pent_to_store(const struct risk_pent *ent, struct store_profile *sp)
{
    lr_strlcpy(sp->account_id, pent_account(ent), sizeof(sp->account_id));
    for (size_t i = 0; i < ent->n_devs; i++) {
        lr_strlcpy(sp->devices[i].id, pdev_id(&ent->devs[i]),
                   sizeof(sp->devices[i].id));
        sp->devices[i].first_ms = ent->devs[i].first_ms;
        sp->devices[i].last_ms = ent->devs[i].last_ms;
    }
    sp->n_devices = ent->n_devs;
    for (size_t i = 0; i < ent->n_countries; i++)
        lr_strlcpy(sp->countries[i], ent->countries[i],
                   sizeof(sp->countries[i]));
    sp->n_countries = ent->n_countries;
    memcpy(sp->asns, ent->asns, ent->n_asns * sizeof(ent->asns[0]));
    sp->n_asns = ent->n_asns;
    sp->last_success_ms = ent->last_success_ms;
    sp->last_has_location = ent->last_has_location;
    sp->last_lat = ent->last_lat;
    sp->last_lon = ent->last_lon;
    sp->last_radius_km = ent->last_radius_km;
    lr_strlcpy(sp->last_country, ent->last_country, sizeof(sp->last_country));
    lr_strlcpy(sp->last_city, ent->last_city, sizeof(sp->last_city));
    sp->flagged_spray = ent->flagged_spray;
}

/* ---- lookup ------------------------------------------------------------ */

static int pent_insert(struct risk_profiles *pc, const struct risk_policy *p,
                       const char *account, uint64_t h,
                       const struct store_profile *sp, struct risk_pent **out)
{
    uint32_t cap = p->cfg->limits.profile_cache;
    struct risk_pent *ent;
    int rc;

    cap = cap < 1 ? 1 : cap;
    /* a reload may raise the cap: the index grows with it */
    rc = risk_index_grow(&pc->ix, cap);
    if (rc)
        return rc;
    ent = pent_take(pc, cap);
    if (!ent)
        return LR_NOMEM;
    rc = pent_set_account(ent, account);
    if (rc == LR_OK && sp)
        rc = pent_from_store(ent, sp, pc->seed);
    if (rc == LR_OK) {
        ent->h = h;
        rc = risk_index_put(&pc->ix, h, ent);
    }
    if (rc) {
        pent_clear(ent, false);
        free(ent);
        return rc;
    }
    lru_push(pc, ent);
    pc->n++;
    *out = ent;
    return LR_OK;
}

/*
 * Finds or loads the entry of @p account. Called and returns with pc->mu
 * held, but drops it around the store read.
 */
static int pent_get_locked(struct risk_engine *e, const struct risk_policy *p,
                           const char *account, uint64_t h,
                           struct risk_pent **out)
{
    struct risk_profiles *pc = e->profiles;
    struct store_profile sp;
    struct risk_pent *ent;
    int rc;

    ent = pent_find(pc, account, h);
    if (ent) {
        *out = ent;
        return LR_OK;
    }
    /* No profile on disk, certainly: cache it empty without reading. */
    if (!e->store || (pc->filter && !risk_pfilter_maybe(pc->filter, h)))
        return pent_insert(pc, p, account, h, NULL, out);
    pthread_mutex_unlock(&pc->mu);
    rc = store_profile_load(e->store, account, &sp);
    pthread_mutex_lock(&pc->mu);
    if (rc && rc != LR_NOTFOUND)
        return rc;
    ent = pent_find(pc, account, h);
    if (ent) {
        *out = ent;
        return LR_OK;
    }
    return pent_insert(pc, p, account, h, rc == LR_OK ? &sp : NULL, out);
}

static bool dev_match(const struct risk_pdev *d, uint64_t h, const char *id)
{
    return d->h == h && strcmp(pdev_id(d), id) == 0;
}

static int dev_find(const struct risk_pent *ent, const char *device, uint64_t h)
{
    if (!device || !device[0])
        return -1;
    for (size_t i = 0; i < ent->n_devs; i++) {
        if (dev_match(&ent->devs[i], h, device))
            return (int)i;
    }
    return -1;
}

static bool country_in(const struct risk_pent *ent, const char *c)
{
    for (size_t i = 0; i < ent->n_countries; i++) {
        if (strcmp(ent->countries[i], c) == 0)
            return true;
    }
    return false;
}

static bool asn_in(const struct risk_pent *ent, uint32_t asn)
{
    for (size_t i = 0; i < ent->n_asns; i++) {
        if (ent->asns[i] == asn)
            return true;
    }
    return false;
}

static void fill_view(const struct risk_pent *ent, const struct risk_pkey *k,
                      const struct risk_place *pl, struct risk_pview *v)
{
    v->has_history = ent->last_success_ms > 0;
    v->device_known = dev_find(ent, k->device, k->dev_h) >= 0;
    v->country_seen = pl->country[0] && country_in(ent, pl->country);
    v->asn_seen = pl->asn && asn_in(ent, pl->asn);
    v->flagged_spray = ent->flagged_spray;
    v->n_devices = ent->n_devs;
    v->n_countries = ent->n_countries;
    v->n_asns = ent->n_asns;
    v->last_success_ms = ent->last_success_ms;
    v->last_has_location = ent->last_has_location;
    v->last_lat = ent->last_lat;
    v->last_lon = ent->last_lon;
    v->last_radius_km = ent->last_radius_km;
    memcpy(v->last_country, ent->last_country, sizeof(v->last_country));
    memcpy(v->last_city, ent->last_city, sizeof(v->last_city));
}

void risk_pkey_make(const struct risk_profiles *pc, const char *account,
                    const char *device, struct risk_pkey *out)
{
    out->account = account;
    out->h = risk_hash64(account, strlen(account), pc->seed);
    out->device = device ? device : "";
    out->dev_h = out->device[0]
                     ? risk_hash64(out->device, strlen(out->device), pc->seed)
                     : 0;
}

void risk_profile_prefetch(struct risk_profiles *pc, const struct risk_pkey *k)
{
    risk_index_prefetch(&pc->ix, k->h);
}

int risk_profile_view(struct risk_engine *e, const struct risk_policy *p,
                      const struct risk_pkey *k, const struct risk_place *pl,
                      struct risk_pview *out)
{
    struct risk_profiles *pc = e->profiles;
    struct risk_pent *ent;
    int rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&pc->mu);
    rc = pent_get_locked(e, p, k->account, k->h, &ent);
    if (rc == LR_OK)
        fill_view(ent, k, pl, out);
    pthread_mutex_unlock(&pc->mu);
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

typedef int (*pent_mod_fn)(struct risk_pent *ent, const struct risk_policy *p,
                           const struct risk_pkey *k, const void *arg);

static int profile_modify(struct risk_engine *e, const struct risk_policy *p,
                          const struct risk_pkey *k, pent_mod_fn fn,
                          const void *arg)
{
    struct risk_profiles *pc = e->profiles;
    struct store_profile sp;
    struct risk_pent *ent;
    int rc;

    pthread_mutex_lock(&pc->mu);
    rc = pent_get_locked(e, p, k->account, k->h, &ent);
    if (rc == LR_OK)
        rc = fn(ent, p, k, arg);
    if (rc == LR_OK && e->store) {
        /* before the save is queued: a later miss must read it */
        if (pc->filter)
            risk_pfilter_add(pc->filter, k->h);
        pent_to_store(ent, &sp);
    }
    pthread_mutex_unlock(&pc->mu);
    if (rc || !e->store)
        return rc;
    rc = store_profile_save(e->store, &sp);
    if (rc == LR_FULL) {
        atomic_fetch_add_explicit(&e->profile_dropped, 1, memory_order_relaxed);
        rc = LR_OK;
    }
    return rc;
}

static void dev_trim(struct risk_pent *ent, size_t cap)
{
    while (ent->n_devs > cap) {
        ent->n_devs--;
        pdev_clear(&ent->devs[ent->n_devs]);
    }
}

/* Moves device @p i to the front, keeping the others in order. */
static void dev_front(struct risk_pent *ent, size_t i)
{
    struct risk_pdev d = ent->devs[i];

    memmove(&ent->devs[1], &ent->devs[0], i * sizeof(d));
    ent->devs[0] = d;
}

static int dev_touch(struct risk_pent *ent, const struct risk_pkey *k,
                     int64_t ts, size_t cap)
{
    int i = dev_find(ent, k->device, k->dev_h);
    struct risk_pdev *d;

    if (!k->device[0])
        return LR_OK;
    if (i >= 0) {
        if (ts > ent->devs[i].last_ms)
            ent->devs[i].last_ms = ts;
        dev_front(ent, (size_t)i);
        dev_trim(ent, cap);
        return LR_OK;
    }
    dev_trim(ent, cap - 1);
    if (devs_reserve(ent, ent->n_devs + 1))
        return LR_NOMEM;
    d = &ent->devs[ent->n_devs];
    if (pdev_set(d, k->device, k->dev_h))
        return LR_NOMEM;
    d->first_ms = ts;
    d->last_ms = ts;
    dev_front(ent, ent->n_devs);
    ent->n_devs++;
    return LR_OK;
}

static void country_touch(struct risk_pent *ent, const char *c, size_t cap)
{
    char keep[GEO_COUNTRY_MAX];
    size_t i = 0;

    if (!c[0])
        return;
    while (i < ent->n_countries && strcmp(ent->countries[i], c) != 0)
        i++;
    if (i == ent->n_countries) {
        if (ent->n_countries < cap)
            ent->n_countries++;
        i = ent->n_countries - 1;
    }
    lr_strlcpy(keep, c, sizeof(keep));
    memmove(ent->countries[1], ent->countries[0], i * sizeof(keep));
    memcpy(ent->countries[0], keep, sizeof(keep));
    if (ent->n_countries > cap)
        ent->n_countries = cap;
}

static void asn_touch(struct risk_pent *ent, uint32_t asn, size_t cap)
{
    size_t i = 0;

    if (!asn)
        return;
    while (i < ent->n_asns && ent->asns[i] != asn)
        i++;
    if (i == ent->n_asns) {
        if (ent->n_asns < cap)
            ent->n_asns++;
        i = ent->n_asns - 1;
    }
    memmove(&ent->asns[1], &ent->asns[0], i * sizeof(asn));
    ent->asns[0] = asn;
    if (ent->n_asns > cap)
        ent->n_asns = cap;
}

struct learn_arg {
    const struct risk_place *pl;
    int64_t ts;
};

static int mod_learn(struct risk_pent *ent, const struct risk_policy *p,
                     const struct risk_pkey *k, const void *arg)
{
    const struct learn_arg *la = arg;
    const struct risk_place *pl = la->pl;
    int rc;

    rc = dev_touch(ent, k, la->ts, dev_cap(p));
    if (rc)
        return rc;
    country_touch(ent, pl->country, place_cap(p));
    asn_touch(ent, pl->asn, place_cap(p));
    /* An older event (a delayed report) teaches devices and places but does
     * not move the last login back in time. */
    if (la->ts < ent->last_success_ms)
        return LR_OK;
    ent->last_success_ms = la->ts;
    ent->last_has_location = pl->has_location;
    ent->last_lat = pl->lat;
    ent->last_lon = pl->lon;
    ent->last_radius_km = pl->radius_km;
    memcpy(ent->last_country, pl->country, sizeof(ent->last_country));
    lr_strlcpy(ent->last_city, pl->city, sizeof(ent->last_city));
    return LR_OK;
}

int risk_profile_learn(struct risk_engine *e, const struct risk_policy *p,
                       const struct risk_pkey *k, const struct risk_place *pl,
                       int64_t ts_ms)
{
    struct learn_arg la = {.pl = pl, .ts = ts_ms};

    return profile_modify(e, p, k, mod_learn, &la);
}

static int mod_flag(struct risk_pent *ent, const struct risk_policy *p,
                    const struct risk_pkey *k, const void *arg)
{
    (void)p;
    (void)k;
    (void)arg;
    ent->flagged_spray = true;
    return LR_OK;
}

int risk_profile_flag_spray(struct risk_engine *e, const struct risk_policy *p,
                            const char *account)
{
    struct risk_pkey k;

    risk_pkey_make(e->profiles, account, "", &k);
    return profile_modify(e, p, &k, mod_flag, NULL);
}

static int mod_forget(struct risk_pent *ent, const struct risk_policy *p,
                      const struct risk_pkey *k, const void *arg)
{
    int i = dev_find(ent, k->device, k->dev_h);

    (void)p;
    (void)arg;
    if (i < 0)
        return LR_OK;
    pdev_clear(&ent->devs[i]);
    memmove(&ent->devs[i], &ent->devs[i + 1],
            (ent->n_devs - (size_t)i - 1) * sizeof(ent->devs[0]));
    ent->n_devs--;
    return LR_OK;
}

int risk_profile_forget_device(struct risk_engine *e,
                               const struct risk_policy *p, const char *account,
                               const char *device)
{
    struct risk_pkey k;

    if (!device || !device[0])
        return LR_OK;
    risk_pkey_make(e->profiles, account, device, &k);
    return profile_modify(e, p, &k, mod_forget, NULL);
}

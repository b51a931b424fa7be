/*
 * risk_sprayed.c - password-spray detection (R-SPRAY-1, R-SPRAY-2).
 *
 * The caller has already turned a failed password into a fingerprint on the
 * spray pool (risk_spray.c); here the fingerprint is only counted. A
 * velocity table with distinct tracking counts accounts per fingerprint over
 * spray.window_s; when one reaches spray.distinct_accounts it is "sprayed"
 * and the sources that used it (IP, its /24 or /64, device) are marked in a
 * second bounded table that forgets them after the same window.
 *
 * A source is marked retroactively too: a small direct-mapped table keeps
 * the last few sources per fingerprint, so the first IPs of a spray are
 * caught once the count crosses the limit, not only the later ones. A
 * collision in that table only loses the memory of earlier sources; the
 * counting itself is exact up to the velocity table's cap.
 *
 * A valid login from a marked source flags the account's profile and, with
 * locks.lock_on_spray_success, locks it (R-SPRAY-2).
 */
#include "risk/risk_internal.h"

#include <stdlib.h>
#include <string.h>

#define RISK_SPRAY_SLOTS_MAX 8192

int risk_spray_slots_new(struct risk_engine *e, uint32_t entries)
{
    size_t n = 1;

    while (n * 2 <= entries && n * 2 <= RISK_SPRAY_SLOTS_MAX)
        n *= 2;
    e->spray_slots = calloc(n, sizeof(*e->spray_slots));
    if (!e->spray_slots)
        return LR_NOMEM;
    e->n_spray_slots = n;
    return LR_OK;
}

static void slot_remember(struct risk_spray_slot *s, const uint8_t *fp,
                          const uint64_t src[3])
{
    if (!s->used || memcmp(s->fp, fp, RISK_FP_LEN) != 0) {
        memset(s, 0, sizeof(*s));
        memcpy(s->fp, fp, RISK_FP_LEN);
        s->used = true;
    }
    for (uint8_t i = 0; i < s->n; i++) {
        if (memcmp(s->src[i], src, sizeof(s->src[i])) == 0)
            return;
    }
    memcpy(s->src[s->next], src, sizeof(s->src[0]));
    s->next = (uint8_t)((s->next + 1) % RISK_SPRAY_SOURCES);
    if (s->n < RISK_SPRAY_SOURCES)
        s->n++;
}

/* Counts @p fp; fills @p marks with the sources to mark, if it is sprayed. */
static int count_fp(struct risk_engine *e, const struct risk_policy *p,
                    const struct risk_keys *k, const uint8_t *fp,
                    int64_t now_ms, uint64_t (*marks)[3], size_t *n_marks,
                    struct risk_spray_view *out)
{
    struct risk_vel *v = &e->vt[RISK_VT_SPRAY];
    uint64_t src[3] = {k->ip_h, k->net_h, k->dev_h};
    uint32_t limit = p->cfg->spray.distinct_accounts;
    struct risk_spray_slot *s;
    struct risk_vcounts vc;
    struct risk_vid id;
    uint64_t h;
    int rc;

    /* The fingerprint is already a secret-keyed hash (Argon2id under the
     * pepper): it is its own table key. */
    memcpy(id.w, fp, sizeof(id.w));
    memcpy(&h, fp, sizeof(h));
    pthread_mutex_lock(&v->mu);
    rc = risk_vtable_hit_id(v->t, &id, now_ms, true, k->acct_h, RISK_VC_DIST(0),
                            &vc);
    if (rc)
        goto out;
    s = &e->spray_slots[(h ^ e->seed) & (e->n_spray_slots - 1)];
    slot_remember(s, fp, src);
    out->fp_accounts = vc.distinct[0];
    out->fp_sprayed = limit && vc.distinct[0] >= limit;
    if (!out->fp_sprayed)
        goto out;
    if (!s->marked) {
        memcpy(marks, s->src, (size_t)s->n * sizeof(s->src[0]));
        *n_marks = s->n;
        s->marked = true;
    } else {
        memcpy(marks[0], src, sizeof(src));
        *n_marks = 1;
    }
out:
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static int mark_sources(struct risk_engine *e, uint64_t (*marks)[3], size_t n,
                        int64_t now_ms)
{
    struct risk_vel *v = &e->vt[RISK_VT_SPRAY_SRC];
    struct risk_vcounts vc;
    struct risk_vid id;
    int rc = LR_OK;

    pthread_mutex_lock(&v->mu);
    for (size_t i = 0; i < n && rc == LR_OK; i++) {
        for (int j = 0; j < 3 && rc == LR_OK; j++) {
            if (marks[i][j] == 0)
                continue;
            risk_vid_of_mark(marks[i][j], &id);
            rc = risk_vtable_hit_id(v->t, &id, now_ms, false, 0, 0, &vc);
        }
    }
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static bool is_marked(struct risk_vtable *t, uint64_t key, int64_t now_ms)
{
    struct risk_vcounts vc;
    struct risk_vid id;

    risk_vid_of_mark(key, &id);
    risk_vtable_peek_id(t, &id, now_ms, RISK_VC_ATT(0), &vc);
    return vc.attempts[0] > 0;
}

/* Counts @p fp and marks the sources that used it once it is sprayed. */
static int spray_count(struct risk_engine *e, const struct risk_policy *p,
                       const struct risk_keys *k, const uint8_t *fp,
                       int64_t now_ms, struct risk_spray_view *out)
{
    uint64_t marks[RISK_SPRAY_SOURCES][3];
    size_t n_marks = 0;
    int rc;

    rc = count_fp(e, p, k, fp, now_ms, marks, &n_marks, out);
    if (rc == LR_OK && n_marks)
        rc = mark_sources(e, marks, n_marks, now_ms);
    if (rc == LR_OK)
        atomic_fetch_add_explicit(&e->fingerprints, 1, memory_order_relaxed);
    return rc;
}

int risk_spray_observe(struct risk_engine *e, const struct risk_policy *p,
                       const struct risk_keys *k, const uint8_t *fp,
                       int64_t now_ms, struct risk_spray_view *out)
{
    struct risk_vel *v = &e->vt[RISK_VT_SPRAY_SRC];
    int rc;

    memset(out, 0, sizeof(*out));
    if (fp) {
        rc = spray_count(e, p, k, fp, now_ms, out);
        if (rc)
            return rc;
    }
    pthread_mutex_lock(&v->mu);
    if (risk_vtable_size(v->t) == 0) {
        pthread_mutex_unlock(&v->mu);
        return LR_OK;
    }
    out->ip_marked = is_marked(v->t, k->ip_h, now_ms);
    out->net_marked = is_marked(v->t, k->net_h, now_ms);
    out->dev_marked = k->has_dev && is_marked(v->t, k->dev_h, now_ms);
    pthread_mutex_unlock(&v->mu);
    return LR_OK;
}

/* R-SPRAY-2: a valid password from a spraying source. */
static int spray_success(struct risk_ctx *c)
{
    const struct risk_attempt *a = c->a;
    struct store_lock l;
    int rc;

    if (!c->pv.flagged_spray) {
        rc = risk_profile_flag_spray(c->e, c->p, a->account_id);
        if (rc)
            return rc;
        c->pv.flagged_spray = true;
    }
    if (!c->p->cfg->locks.lock_on_spray_success || !c->e->store)
        return LR_OK;
    rc = store_lock_get(c->e->store, a->account_id, a->timestamp_ms, &l);
    if (rc != LR_NOTFOUND)
        return rc;
    return risk_auto_lock(c->e, c->p, a->account_id, "auto:PASSWORD_SPRAY",
                          "valid password from a password-spray source",
                          a->request_id, a->timestamp_ms);
}

int risk_sig_spray_step(struct risk_ctx *c)
{
    const struct risk_spray_view *s = &c->spray;
    int rc;

    if (!c->p->cfg->spray.enabled)
        return LR_OK;
    rc = risk_spray_observe(c->e, c->p, &c->k, c->a->fingerprint,
                            c->a->timestamp_ms, &c->spray);
    if (rc)
        return rc;
    if (c->a->credential == LR_CRED_VALID &&
        (s->ip_marked || s->net_marked || s->dev_marked))
        return spray_success(c);
    return LR_OK;
}

/*
 * The agent's path (R-SPRAY-1): the attempt was answered without its
 * fingerprint; the pool hands it in here once Argon2 is done. Only the
 * counting and the marks, as in risk_sig_spray_step(): the attempt is a
 * failed password (the contract takes attempted_password with
 * CREDENTIAL_INVALID only), so there is no spray success to look for.
 */
int risk_note_fingerprint(struct risk_engine *e, const struct risk_attempt *a,
                          const uint8_t fp[RISK_FP_LEN])
{
    struct risk_spray_view view;
    struct risk_policy *p;
    struct risk_keys k;
    int rc;

    if (!e || !a || !fp)
        return LR_INVALID;
    rc = risk_attempt_check(a);
    if (rc)
        return rc;
    p = risk_policy_acquire(e);
    if (p->cfg->spray.enabled) {
        risk_keys_make(e->seed, &a->ip, a->account_id,
                       a->device_id ? a->device_id : "", &k);
        memset(&view, 0, sizeof(view));
        rc = spray_count(e, p, &k, fp, a->timestamp_ms, &view);
    }
    risk_policy_release(e, p);
    return rc;
}

/*
 * agent_admin_read.c - the read side of AdminService: GetAccount, ListLocks
 * and ListAudit (analysts and responders).
 *
 * Answers are built in the call's arena from the store's fixed-size records
 * and sent at once; every string goes through agent_admin_text() so a city
 * name cut inside a UTF-8 sequence cannot make a strict client refuse the
 * whole answer. GetAccount flushes the store's writer first, so the logins
 * the agent just scored show up.
 */
#include "agent/agent_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_COUNTERS_MAX 32
#define AGENT_PAGE_TOKEN_MAX (2 * (STORE_ID_MAX - 1))

/* ---- GetAccount ---------------------------------------------------------- */

struct agent_account_ctx {
    struct agent_call *call;
    Loginrisk__V1__LoginRecord **logins;
    size_t n, max;
};

static void agent_geo_fill(struct agent_call *call, const char *country,
                           const char *city, bool has_location, double lat,
                           double lon, Loginrisk__V1__GeoInfo *pb)
{
    Loginrisk__V1__GeoInfo init = LOGINRISK__V1__GEO_INFO__INIT;

    *pb = init;
    pb->country = agent_admin_text(call, country, GEO_COUNTRY_MAX);
    pb->city = agent_admin_text(call, city, GEO_CITY_MAX);
    pb->has_location = has_location;
    if (has_location) {
        pb->latitude = lat;
        pb->longitude = lon;
    }
}

/* Called by store_history_recent for each login, newest first. */
static void agent_account_login(const struct store_login *l, void *arg)
{
    struct agent_account_ctx *c = arg;
    Loginrisk__V1__LoginRecord init = LOGINRISK__V1__LOGIN_RECORD__INIT;
    Loginrisk__V1__LoginRecord *pb;
    Loginrisk__V1__GeoInfo *geo;
    struct geo_ip ip = {.family = l->ip_family};
    char text[GEO_IP_TEXT_MAX];
    char **codes;

    if (c->n >= c->max)
        return;
    pb = agent_call_alloc(c->call, sizeof(*pb));
    geo = agent_call_alloc(c->call, sizeof(*geo));
    codes = agent_call_alloc(c->call, (l->n_reasons + 1) * sizeof(*codes));
    if (pb == NULL || geo == NULL || codes == NULL)
        return;
    *pb = init;
    pb->geo = geo;
    memcpy(ip.addr, l->ip, sizeof(ip.addr));
    geo_ip_format(&ip, text, sizeof(text));
    pb->request_id = agent_admin_text(c->call, l->request_id, 64);
    pb->timestamp_ms = l->ts_ms;
    pb->ip = agent_admin_text(c->call, text, sizeof(text));
    pb->device_id = agent_admin_text(c->call, l->device_id, STORE_ID_MAX);
    pb->credential = (Loginrisk__V1__CredentialResult)l->credential;
    pb->action = (Loginrisk__V1__Action)l->action;
    pb->score = l->score < 0 ? 0 : (uint32_t)l->score;
    agent_geo_fill(c->call, l->country, l->city, l->has_location, l->lat,
                   l->lon, pb->geo);
    pb->geo->asn = l->asn;
    for (size_t i = 0; i < l->n_reasons && i < STORE_REASONS_MAX; i++)
        codes[pb->n_reason_codes++] =
            agent_admin_text(c->call, l->reasons[i], sizeof(l->reasons[i]));
    pb->reason_codes = codes;
    c->logins[c->n++] = pb;
}

static void agent_lock_fill(struct agent_call *call, const struct store_lock *l,
                            Loginrisk__V1__LockInfo *pb)
{
    pb->account_id = agent_admin_text(call, l->account_id, STORE_ID_MAX);
    pb->locked = true;
    pb->reason = agent_admin_text(call, l->reason, STORE_TEXT_MAX);
    pb->ticket = agent_admin_text(call, l->ticket, STORE_TEXT_MAX);
    pb->source = agent_admin_text(call, l->source, STORE_TEXT_MAX);
    pb->created_ms = l->created_ms;
    pb->expires_ms = l->expires_ms;
    pb->scope = agent_admin_text(
        call, l->scope == STORE_SCOPE_UNFAMILIAR ? "unfamiliar" : "all", 16);
}

/* Devices, places and the last success from the stored profile. */
static int agent_profile_fill(struct agent_call *call,
                              const struct store_profile *p,
                              Loginrisk__V1__AccountInfo *pb)
{
    Loginrisk__V1__DeviceInfo init = LOGINRISK__V1__DEVICE_INFO__INIT;
    Loginrisk__V1__DeviceInfo *dev, **devp;
    char **countries;
    uint32_t *asns;

    dev = agent_call_alloc(call, (p->n_devices + 1) * sizeof(*dev));
    devp = agent_call_alloc(call, (p->n_devices + 1) * sizeof(*devp));
    countries = agent_call_alloc(call, (p->n_countries + 1) * sizeof(char *));
    asns = agent_call_alloc(call, (p->n_asns + 1) * sizeof(*asns));
    pb->last_success_geo =
        agent_call_alloc(call, sizeof(*pb->last_success_geo));
    if (!dev || !devp || !countries || !asns || !pb->last_success_geo)
        return LR_NOMEM;
    for (size_t i = 0; i < p->n_devices && i < STORE_DEVICES_MAX; i++) {
        dev[i] = init;
        dev[i].device_id =
            agent_admin_text(call, p->devices[i].id, STORE_ID_MAX);
        dev[i].first_seen_ms = p->devices[i].first_ms;
        dev[i].last_seen_ms = p->devices[i].last_ms;
        devp[pb->n_devices++] = &dev[i];
    }
    pb->devices = devp;
    for (size_t i = 0; i < p->n_countries && i < STORE_PLACES_MAX; i++)
        countries[pb->n_countries_seen++] =
            agent_admin_text(call, p->countries[i], 3);
    pb->countries_seen = countries;
    pb->n_asns_seen =
        p->n_asns < STORE_PLACES_MAX ? p->n_asns : STORE_PLACES_MAX;
    memcpy(asns, p->asns, pb->n_asns_seen * sizeof(*asns));
    pb->asns_seen = asns;
    pb->last_success_ms = p->last_success_ms;
    agent_geo_fill(call, p->last_country, p->last_city, p->last_has_location,
                   p->last_lat, p->last_lon, pb->last_success_geo);
    pb->last_success_geo->accuracy_radius_km = p->last_radius_km;
    pb->flagged_spray = p->flagged_spray;
    return LR_OK;
}

static int agent_counters_fill(struct agent_admin_req *r, const char *id,
                               Loginrisk__V1__AccountInfo *pb)
{
    Loginrisk__V1__Counter init = LOGINRISK__V1__COUNTER__INIT;
    struct risk_counter cnt[AGENT_COUNTERS_MAX];
    Loginrisk__V1__Counter *c, **cp;
    size_t n = 0;

    risk_account_counters(r->st->engine, id, lr_now_ms(), cnt,
                          LR_ARRAY_LEN(cnt), &n);
    c = agent_call_alloc(r->call, (n + 1) * sizeof(*c));
    cp = agent_call_alloc(r->call, (n + 1) * sizeof(*cp));
    if (c == NULL || cp == NULL)
        return LR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i] = init;
        c[i].name = agent_admin_text(r->call, cnt[i].name, sizeof(cnt[i].name));
        c[i].value = cnt[i].value;
        cp[i] = &c[i];
    }
    pb->counters = cp;
    pb->n_counters = n;
    return LR_OK;
}

static int agent_account_logins(struct agent_admin_req *r, const char *id,
                                uint32_t max, Loginrisk__V1__AccountInfo *pb)
{
    struct agent_account_ctx c = {.call = r->call};
    int rc;

    c.max = max == 0                 ? AGENT_LOGINS_DEFAULT
            : max > AGENT_LOGINS_MAX ? AGENT_LOGINS_MAX
                                     : max;
    c.logins = agent_call_alloc(r->call, c.max * sizeof(*c.logins));
    if (c.logins == NULL)
        return LR_NOMEM;
    /* the logins just scored are still in the writer's queue */
    rc = store_flush(r->st->store);
    if (rc)
        lr_log(LR_LOG_WARN, "admin: GetAccount: store flush: %s",
               lr_strerror(rc));
    rc = store_history_recent(r->st->store, id, c.max, agent_account_login, &c);
    pb->recent_logins = c.logins;
    pb->n_recent_logins = c.n;
    return rc;
}

/* Lock and profile; both may be absent. Heap: a profile is ~20 KiB. */
static int agent_account_state(struct agent_admin_req *r, const char *id,
                               Loginrisk__V1__AccountInfo *pb,
                               Loginrisk__V1__LockInfo *lock)
{
    struct store_profile *p = malloc(sizeof(*p));
    struct store_lock l;
    int rc;

    if (p == NULL)
        return LR_NOMEM;
    lock->account_id = agent_admin_text(r->call, id, STORE_ID_MAX);
    if (store_lock_get(r->st->store, id, lr_now_ms(), &l) == LR_OK)
        agent_lock_fill(r->call, &l, lock);
    pb->lock = lock;
    rc = store_profile_load(r->st->store, id, p);
    if (rc == LR_NOTFOUND) {
        rc = LR_OK;
    } else if (rc == LR_OK) {
        rc = agent_profile_fill(r->call, p, pb);
    }
    free(p);
    return rc;
}

void agent_admin_get_account(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__GetAccountRequest *m =
        (Loginrisk__V1__GetAccountRequest *)msg;
    Loginrisk__V1__AccountInfo pb = LOGINRISK__V1__ACCOUNT_INFO__INIT;
    Loginrisk__V1__LockInfo lock = LOGINRISK__V1__LOCK_INFO__INIT;
    char err[AGENT_STATUS_MSG_MAX];
    int rc;

    if (agent_admin_check_id("account_id", -1, m->account_id, err,
                             sizeof(err))) {
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT, "%s", err);
        return;
    }
    pb.account_id = m->account_id;
    rc = agent_account_state(r, m->account_id, &pb, &lock);
    if (rc == LR_OK)
        rc = agent_account_logins(r, m->account_id, m->max_logins, &pb);
    if (rc == LR_OK)
        rc = agent_counters_fill(r, m->account_id, &pb);
    if (rc) {
        agent_admin_fail_store(r->call, "GetAccount", rc);
        return;
    }
    agent_call_reply(r->call, &pb.base);
}

/* ---- ListLocks ----------------------------------------------------------- */

static const char agent_hex[] = "0123456789abcdef";

/* The page token is the last account id of the page, in hex. */
static char *agent_token_encode(struct agent_call *call, const char *id)
{
    size_t n = strlen(id);
    char *out = agent_call_alloc(call, 2 * n + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = agent_hex[(unsigned char)id[i] >> 4];
        out[2 * i + 1] = agent_hex[(unsigned char)id[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

static int agent_hex_digit(char c)
{
    const char *p = strchr(agent_hex, c);

    return (c != '\0' && p != NULL) ? (int)(p - agent_hex) : -1;
}

static int agent_token_decode(const char *tok, char *out, size_t cap)
{
    size_t n = strlen(tok);

    if (n % 2 != 0 || n > AGENT_PAGE_TOKEN_MAX || n / 2 >= cap)
        return LR_INVALID;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = agent_hex_digit(tok[2 * i]),
            lo = agent_hex_digit(tok[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LR_INVALID;
        out[i] = (char)(hi << 4 | lo);
    }
    out[n / 2] = '\0';
    if (!lr_utf8_valid(out, n / 2))
        return LR_INVALID;
    return LR_OK;
}

static int agent_locks_page(struct agent_admin_req *r, const char *after,
                            size_t size, Loginrisk__V1__ListLocksResponse *resp)
{
    Loginrisk__V1__LockInfo init = LOGINRISK__V1__LOCK_INFO__INIT;
    struct store_lock *rows = malloc((size + 1) * sizeof(*rows));
    Loginrisk__V1__LockInfo *info, **ptrs;
    size_t n = 0;
    int rc;

    if (rows == NULL)
        return LR_NOMEM;
    rc = store_locks_list(r->st->store, after, size + 1, rows, &n);
    info = agent_call_alloc(r->call, (size + 1) * sizeof(*info));
    ptrs = agent_call_alloc(r->call, (size + 1) * sizeof(*ptrs));
    if (rc == LR_OK && (info == NULL || ptrs == NULL))
        rc = LR_NOMEM;
    for (size_t i = 0; rc == LR_OK && i < n && i < size; i++) {
        info[i] = init;
        agent_lock_fill(r->call, &rows[i], &info[i]);
        ptrs[resp->n_locks++] = &info[i];
    }
    resp->locks = ptrs;
    if (rc == LR_OK && n > size) {
        resp->next_page_token =
            agent_token_encode(r->call, rows[size - 1].account_id);
        if (resp->next_page_token == NULL)
            rc = LR_NOMEM;
    }
    free(rows);
    return rc;
}

void agent_admin_list_locks(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__ListLocksRequest *m = (Loginrisk__V1__ListLocksRequest *)msg;
    Loginrisk__V1__ListLocksResponse resp =
        LOGINRISK__V1__LIST_LOCKS_RESPONSE__INIT;
    char after[STORE_ID_MAX];
    size_t size = m->page_size == 0 ? AGENT_PAGE_DEFAULT : m->page_size;
    int rc;

    if (size > AGENT_PAGE_MAX) {
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT,
                        "page_size: at most %d", AGENT_PAGE_MAX);
        return;
    }
    if (agent_token_decode(m->page_token, after, sizeof(after))) {
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT,
                        "page_token: not a token from ListLocks");
        return;
    }
    resp.total = store_lock_count(r->st->store);
    rc = agent_locks_page(r, after, size, &resp);
    if (rc) {
        agent_admin_fail_store(r->call, "ListLocks", rc);
        return;
    }
    agent_call_reply(r->call, &resp.base);
}

/* ---- ListAudit ----------------------------------------------------------- */

void agent_admin_list_audit(struct agent_admin_req *r, ProtobufCMessage *msg)
{
    Loginrisk__V1__ListAuditRequest *m = (Loginrisk__V1__ListAuditRequest *)msg;
    Loginrisk__V1__ListAuditResponse resp =
        LOGINRISK__V1__LIST_AUDIT_RESPONSE__INIT;
    Loginrisk__V1__AuditEntry init = LOGINRISK__V1__AUDIT_ENTRY__INIT;
    size_t max = m->max == 0 ? AGENT_AUDIT_DEFAULT : m->max;
    struct store_audit *rows;
    Loginrisk__V1__AuditEntry *e, **ep;
    size_t n = 0;
    int rc;

    if (max > AGENT_AUDIT_MAX) {
        agent_call_fail(r->call, AGENT_ST_INVALID_ARGUMENT, "max: at most %d",
                        AGENT_AUDIT_MAX);
        return;
    }
    rows = malloc(max * sizeof(*rows));
    e = agent_call_alloc(r->call, max * sizeof(*e));
    ep = agent_call_alloc(r->call, max * sizeof(*ep));
    rc = rows && e && ep ? store_audit_list(r->st->store, max, rows, &n)
                         : LR_NOMEM;
    for (size_t i = 0; rc == LR_OK && i < n; i++) {
        e[i] = init;
        e[i].id = rows[i].id;
        e[i].at_ms = rows[i].at_ms;
        e[i].actor = agent_admin_text(r->call, rows[i].actor, STORE_TEXT_MAX);
        e[i].action = agent_admin_text(r->call, rows[i].action, 32);
        e[i].reason = agent_admin_text(r->call, rows[i].reason, STORE_TEXT_MAX);
        e[i].ticket = agent_admin_text(r->call, rows[i].ticket, STORE_TEXT_MAX);
        e[i].matched = rows[i].matched;
        e[i].changed = rows[i].changed;
        ep[resp.n_entries++] = &e[i];
    }
    free(rows);
    if (rc) {
        agent_admin_fail_store(r->call, "ListAudit", rc);
        return;
    }
    resp.entries = ep;
    agent_call_reply(r->call, &resp.base);
}

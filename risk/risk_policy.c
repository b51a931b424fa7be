/*
 * risk_policy.c - compiles a struct cfg into the immutable policy an
 * evaluation reads: parsed CIDRs (allowlist and rules), sorted ASN and
 * account lists, a bitmap of high-risk countries, rule signal masks.
 *
 * The policy borrows the cfg (the caller keeps it alive until the policy
 * is replaced, see risk_engine_set_policy) and owns only what it derives, so
 * compiling is cheap and a reload can build a new one beside the old.
 * Every problem is reported, not only the first, so an analyst fixes a
 * bad file in one pass.
 */
#include "risk/risk_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cfg_name(const struct cfg *cfg)
{
    return cfg->path ? cfg->path : "<config>";
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Parses @p n CIDR texts. Bad ones are reported and *@p bad set; the good
 * ones are kept, so every mistake in the file is found in one pass.
 */
static int parse_cidrs(const struct cfg *cfg, char *const *texts, size_t n,
                       const char *where, int line, struct geo_cidr **out,
                       bool *bad, struct cfg_errors *errs)
{
    struct geo_cidr *v = NULL;
    int rc = LR_OK;

    if (n == 0)
        goto out;
    v = calloc(n, sizeof(*v));
    if (!v) {
        rc = LR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[i] ? texts[i] : "";

        if (geo_cidr_parse(t, strlen(t), &v[i]) == LR_OK)
            continue;
        *bad = true;
        if (line > 0)
            rc = risk_errs_add(errs, "%s:%d: %s: bad CIDR '%s'", cfg_name(cfg),
                               line, where, t);
        else
            rc = risk_errs_add(errs, "%s: %s: bad CIDR '%s'", cfg_name(cfg),
                               where, t);
        if (rc)
            goto out;
    }
    *out = v;
    v = NULL;
out:
    free(v);
    return rc;
}

static int copy_sorted_asns(const uint32_t *src, size_t n, uint32_t **out)
{
    uint32_t *v;

    if (n == 0)
        return LR_OK;
    v = malloc(n * sizeof(*v));
    if (!v)
        return LR_NOMEM;
    memcpy(v, src, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_u32);
    *out = v;
    return LR_OK;
}

static int country_index(const char *c)
{
    if (!c || !isupper((unsigned char)c[0]) || !isupper((unsigned char)c[1]) ||
        c[2] != '\0')
        return -1;
    return (c[0] - 'A') * 26 + (c[1] - 'A');
}

static int compile_countries(struct risk_policy *p, bool *bad,
                             struct cfg_errors *errs)
{
    const struct cfg *cfg = p->cfg;
    int rc = LR_OK;

    for (size_t i = 0; i < cfg->n_high_risk_countries; i++) {
        char up[3] = {0};
        const char *c = cfg->high_risk_countries[i];
        int idx;

        if (c && strlen(c) == 2) {
            up[0] = (char)toupper((unsigned char)c[0]);
            up[1] = (char)toupper((unsigned char)c[1]);
        }
        idx = country_index(up);
        if (idx >= 0) {
            p->high_risk[idx / 8] |= (uint8_t)(1u << (idx % 8));
            continue;
        }
        *bad = true;
        rc = risk_errs_add(errs,
                           "%s: high_risk_countries: '%s' is not a "
                           "two-letter country code",
                           cfg_name(cfg), c ? c : "");
        if (rc)
            break;
    }
    return rc;
}

static int compile_lists(struct risk_policy *p, bool *bad,
                         struct cfg_errors *errs)
{
    const struct cfg *cfg = p->cfg;
    int rc;

    rc = parse_cidrs(cfg, cfg->allow_cidrs, cfg->n_allow_cidrs, "allow_cidrs",
                     0, &p->allow_cidrs, bad, errs);
    if (rc)
        return rc;
    p->n_allow_cidrs = cfg->n_allow_cidrs;
    if (cfg->n_allow_accounts) {
        p->allow_accounts =
            malloc(cfg->n_allow_accounts * sizeof(*p->allow_accounts));
        if (!p->allow_accounts)
            return LR_NOMEM;
        for (size_t i = 0; i < cfg->n_allow_accounts; i++)
            p->allow_accounts[i] = cfg->allow_accounts[i];
        p->n_allow_accounts = cfg->n_allow_accounts;
        qsort(p->allow_accounts, p->n_allow_accounts,
              sizeof(*p->allow_accounts), cmp_str);
    }
    rc = copy_sorted_asns(cfg->hosting_asns, cfg->n_hosting_asns,
                          &p->hosting_asns);
    if (rc)
        return rc;
    p->n_hosting_asns = cfg->n_hosting_asns;
    rc = copy_sorted_asns(cfg->anonymous_asns, cfg->n_anonymous_asns,
                          &p->anonymous_asns);
    if (rc)
        return rc;
    p->n_anonymous_asns = cfg->n_anonymous_asns;
    return compile_countries(p, bad, errs);
}

/* R-RULE: a rule's match lists, its reason code and its anti-DoS class. */
static int compile_rule(struct risk_policy *p, const struct cfg_rule *cr,
                        struct risk_rule *r, bool *bad, struct cfg_errors *errs)
{
    const struct cfg *cfg = p->cfg;
    const char *name = cr->name ? cr->name : "";
    int n;

    r->cfg = cr;
    n = snprintf(r->code, sizeof(r->code), "RULE:%s", name);
    if (n < 0 || (size_t)n >= sizeof(r->code) || name[0] == '\0') {
        *bad = true;
        return risk_errs_add(errs,
                             "%s:%d: rule name '%s' is empty or longer "
                             "than %zu bytes",
                             cfg_name(cfg), cr->line, name,
                             sizeof(r->code) - 6);
    }
    for (size_t i = 0; i < cr->n_signals; i++) {
        enum lr_signal s = cr->signals[i];

        if ((unsigned)s >= LR_SIG_COUNT)
            continue;
        r->signals |= UINT64_C(1) << s;
        r->volume |= risk_signal_volume(s);
        r->account_keyed |= risk_signal_account_keyed(s);
    }
    r->n_cidrs = cr->n_cidrs;
    return parse_cidrs(cfg, cr->cidrs, cr->n_cidrs, name, cr->line, &r->cidrs,
                       bad, errs);
}

static int compile_rules(struct risk_policy *p, bool *bad,
                         struct cfg_errors *errs)
{
    const struct cfg *cfg = p->cfg;
    int rc = LR_OK;

    if (cfg->n_rules == 0)
        return LR_OK;
    p->rules = calloc(cfg->n_rules, sizeof(*p->rules));
    if (!p->rules)
        return LR_NOMEM;
    p->n_rules = cfg->n_rules;
    for (size_t i = 0; i < cfg->n_rules && rc == LR_OK; i++)
        rc = compile_rule(p, &cfg->rules[i], &p->rules[i], bad, errs);
    return rc;
}

int risk_policy_compile(const struct cfg *cfg, const struct geo_db *geo,
                        struct risk_policy **out, struct cfg_errors *errs)
{
    struct risk_policy *p = NULL;
    bool bad = false;
    int rc;

    _Static_assert(LR_SIG_COUNT <= 64, "signal masks are 64-bit");
    if (!cfg || !out)
        return LR_INVALID;
    p = calloc(1, sizeof(*p));
    if (!p) {
        rc = LR_NOMEM;
        goto out;
    }
    p->cfg = cfg;
    p->geo = geo;
    rc = compile_lists(p, &bad, errs);
    if (rc)
        goto out;
    rc = compile_rules(p, &bad, errs);
    if (rc)
        goto out;
    if (bad) {
        rc = LR_CONFIG;
        goto out;
    }
    *out = p;
    p = NULL;
out:
    risk_policy_free(p);
    return rc;
}

void risk_policy_free(struct risk_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_rules; i++)
        free(p->rules[i].cidrs);
    free(p->rules);
    free(p->allow_cidrs);
    free(p->allow_accounts);
    free(p->hosting_asns);
    free(p->anonymous_asns);
    free(p);
}

bool risk_policy_high_risk(const struct risk_policy *p, const char *country)
{
    int idx = country_index(country);

    return idx >= 0 && (p->high_risk[idx / 8] & (1u << (idx % 8)));
}

static bool asn_in(const uint32_t *v, size_t n, uint32_t asn)
{
    return asn != 0 && n > 0 && bsearch(&asn, v, n, sizeof(*v), cmp_u32);
}

bool risk_policy_hosting_asn(const struct risk_policy *p, uint32_t asn)
{
    return asn_in(p->hosting_asns, p->n_hosting_asns, asn);
}

bool risk_policy_anonymous_asn(const struct risk_policy *p, uint32_t asn)
{
    return asn_in(p->anonymous_asns, p->n_anonymous_asns, asn);
}

/* R-STATE-2: allow_cidrs and allow_accounts. */
const char *risk_policy_allowed(const struct risk_policy *p,
                                const struct geo_ip *ip, const char *account,
                                char *buf, size_t cap)
{
    const struct cfg *cfg = p->cfg;

    for (size_t i = 0; i < p->n_allow_cidrs; i++) {
        if (geo_cidr_contains(&p->allow_cidrs[i], ip)) {
            risk_textf(buf, cap, "IP in allow_cidrs %s", cfg->allow_cidrs[i]);
            return buf;
        }
    }
    if (p->n_allow_accounts &&
        bsearch(&account, p->allow_accounts, p->n_allow_accounts,
                sizeof(*p->allow_accounts), cmp_str)) {
        risk_textf(buf, cap, "account in allow_accounts");
        return buf;
    }
    return NULL;
}

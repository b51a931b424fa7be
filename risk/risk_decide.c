/*
 * risk_decide.c - from fired signals to one action: the rule matcher
 * (R-RULE) and the score-to-action mapping with its anti-DoS caps
 * (R-SCORE-1, R-DOS-1, R-DOS-2).
 *
 * Points are kept in three classes (see enum risk_class) rather than one
 * sum, because "how strong may this evidence make the answer" depends on
 * where it came from: counts of failed passwords are cheap for an attacker
 * to produce against someone else's account, so they may slow an attempt
 * down (captcha, 2FA) but never refuse it outright.
 */
#include "risk/risk_internal.h"

#include <string.h>

/* ---- rules: R-RULE ----------------------------------------------------- */

static bool str_in(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] && strcmp(list[i], s) == 0)
            return true;
    }
    return false;
}

static bool u32_in(const uint32_t *list, size_t n, uint32_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == v)
            return true;
    }
    return false;
}

static bool cidr_in(const struct risk_rule *r, const struct geo_ip *ip)
{
    for (size_t i = 0; i < r->n_cidrs; i++) {
        if (geo_cidr_contains(&r->cidrs[i], ip))
            return true;
    }
    return false;
}

/* Every non-empty list must match (AND); within a list any entry (OR).
 * Signals are those fired before any rule ran, so rules do not chain. */
static bool rule_matches(const struct risk_ctx *c, const struct risk_rule *r,
                         uint64_t fired)
{
    const struct cfg_rule *cr = r->cfg;

    if (cr->n_countries &&
        !str_in(cr->countries, cr->n_countries, c->place.country))
        return false;
    if (cr->n_asns && !u32_in(cr->asns, cr->n_asns, c->place.asn))
        return false;
    if (r->n_cidrs && !cidr_in(r, &c->a->ip))
        return false;
    if (cr->n_accounts &&
        !str_in(cr->accounts, cr->n_accounts, c->a->account_id))
        return false;
    if (r->signals && !(r->signals & fired))
        return false;
    return true;
}

/* R-DOS-1/2 for rules: a rule that can match on failure counts is capped
 * like those counts. */
static enum risk_class rule_class(const struct risk_ctx *c,
                                  const struct risk_rule *r)
{
    if (r->account_keyed && c->pv.device_known)
        return RISK_CLASS_ACCOUNT;
    return r->volume ? RISK_CLASS_VOLUME : RISK_CLASS_PLAIN;
}

static void rule_apply(struct risk_ctx *c, const struct risk_rule *r)
{
    const struct cfg_rule *cr = r->cfg;
    int points = cr->effects & CFG_RULE_ADD_POINTS ? cr->add_points : 0;
    enum lr_action min = cr->effects & CFG_RULE_MIN_ACTION
                             ? cr->min_action
                             : LR_ACTION_UNSPECIFIED;

    risk_fire_rule(c, r, rule_class(c, r), points, min);
    atomic_fetch_add_explicit(&c->e->rule_hits, 1, memory_order_relaxed);
    if ((cr->effects & CFG_RULE_ALLOWLIST) && !c->allowlisted) {
        c->allowlisted = true;
        risk_fire_std(c, LR_SIG_ALLOWLISTED, "allowlisted by rule '%s'%s",
                      cr->name, c->locked ? "; the lock still applies" : "");
    }
}

void risk_rules_apply(struct risk_ctx *c)
{
    uint64_t fired = c->fired;

    for (size_t i = 0; i < c->p->n_rules; i++) {
        if (rule_matches(c, &c->p->rules[i], fired))
            rule_apply(c, &c->p->rules[i]);
    }
}

/* ---- score to action: R-SCORE-1, R-DOS-1, R-DOS-2 ---------------------- */

static int clamp_score(int v)
{
    return v < 0 ? 0 : v > 100 ? 100 : v;
}

static enum lr_action amax(enum lr_action a, enum lr_action b)
{
    return a > b ? a : b;
}

static enum lr_action amin(enum lr_action a, enum lr_action b)
{
    return a < b ? a : b;
}

static enum lr_action by_score(const struct cfg *cfg, int score)
{
    if (score >= cfg->threshold_lock)
        return LR_ACTION_LOCK;
    if (score >= cfg->threshold_2fa)
        return LR_ACTION_CHALLENGE_2FA;
    if (score >= cfg->threshold_captcha)
        return LR_ACTION_CAPTCHA;
    return LR_ACTION_ALLOW;
}

/*
 * The action is the strongest of:
 *  - the thresholds over PLAIN points alone (may reach lock);
 *  - the thresholds over PLAIN + VOLUME points, capped at 2FA (R-DOS-1:
 *    failed passwords alone never lock);
 *  - the thresholds over all points, capped at captcha (R-DOS-2: account
 *    failure counts seen on a known device ask for a captcha at most);
 *  - the minimum actions of fired signals and rules, capped the same way.
 * An allowlisted attempt is allowed unless the account is locked, in which
 * case the lock's own action stands (R-STATE-2).
 */
void risk_decide(struct risk_ctx *c)
{
    const struct cfg *cfg = c->p->cfg;
    int plain = c->pts[RISK_CLASS_PLAIN];
    int volume = plain + c->pts[RISK_CLASS_VOLUME];
    int all = volume + c->pts[RISK_CLASS_ACCOUNT];
    enum lr_action a;

    a = by_score(cfg, clamp_score(plain));
    a = amax(a,
             amin(by_score(cfg, clamp_score(volume)), LR_ACTION_CHALLENGE_2FA));
    a = amax(a, amin(by_score(cfg, clamp_score(all)), LR_ACTION_CAPTCHA));
    a = amax(a, c->min_act[RISK_CLASS_PLAIN]);
    a = amax(a, amin(c->min_act[RISK_CLASS_VOLUME], LR_ACTION_CHALLENGE_2FA));
    a = amax(a, amin(c->min_act[RISK_CLASS_ACCOUNT], LR_ACTION_CAPTCHA));
    if (c->allowlisted)
        a = c->locked ? c->lock_action : LR_ACTION_ALLOW;
    c->out->score = clamp_score(all);
    c->out->action = amax(a, LR_ACTION_ALLOW);
}

/*
 * risk_travel.c - IMPOSSIBLE_TRAVEL (R-TRAVEL-1): could the account's owner
 * have got from the last successful login's place to this one in time?
 *
 * The distance is the great-circle distance minus both accuracy radii
 * (floored at 0): GeoIP places a city's users at its centre, so two logins
 * inside each other's uncertainty never count as travel. Below
 * travel.min_distance_km nothing fires. Speed is km per hour of elapsed
 * event time; zero or negative elapsed time with a real distance is an
 * infinite speed. Missing coordinates on either side mean no signal.
 *
 * Damping (R-TRAVEL-2), so VPN users are not punished twice: the points are
 * multiplied by travel.anonymous_damping when the current IP is anonymous,
 * hosting or a Tor exit (its place is the exit's, not the user's; ANONYMOUS_IP
 * or HOSTING_IP already scores it) and by travel.known_device_damping when the
 * device is known. The minimum action (2FA by default) still applies when
 * one of them holds: a known device that jumps continents without a VPN is
 * a stolen session as often as a traveller, and a far VPN exit on a new
 * device is an attacker as often as a privacy-minded user. Only a known
 * device on an anonymous or hosting address, which explains the jump twice
 * over, loses the minimum action and keeps a quarter of the points (at most
 * a captcha from travel). Damped to 0 points, the signal is not reported.
 */
#include "risk/risk_internal.h"

#include <math.h>
#include <stdio.h>

struct travel {
    double km;
    double hours; /* <= 0: no time elapsed */
    double speed; /* INFINITY when no time elapsed */
};

static bool travel_measure(const struct risk_ctx *c, struct travel *t)
{
    const struct risk_pview *pv = &c->pv;
    const struct risk_place *pl = &c->place;
    const struct cfg_travel *ct = &c->p->cfg->travel;
    double raw;

    if (!pv->has_history || !pv->last_has_location || !pl->has_location)
        return false;
    raw = geo_distance_km(pv->last_lat, pv->last_lon, pl->lat, pl->lon);
    t->km = raw - (double)pv->last_radius_km - (double)pl->radius_km;
    if (t->km <= 0.0 || t->km < (double)ct->min_distance_km)
        return false;
    t->hours = (double)(c->a->timestamp_ms - pv->last_success_ms) / 3.6e6;
    t->speed = t->hours > 0.0 ? t->km / t->hours : INFINITY;
    return t->speed > ct->max_speed_kmh;
}

static void travel_detail(const struct risk_ctx *c, const struct travel *t,
                          char *buf, size_t cap)
{
    const struct risk_pview *pv = &c->pv;
    char km[32], span[24], speed[32], from[GEO_CITY_MAX + 8];

    risk_fmt_count(km, sizeof(km), (uint64_t)llround(t->km));
    risk_fmt_span(span, sizeof(span),
                  t->hours > 0.0 ? (int64_t)(t->hours * 3600.0) : 0);
    if (pv->last_city[0] && pv->last_country[0])
        risk_textf(from, sizeof(from), "%s, %s", pv->last_city,
                   pv->last_country);
    else
        risk_textf(from, sizeof(from), "%s",
                   pv->last_country[0] ? pv->last_country : "the last login");
    if (isinf(t->speed)) {
        risk_textf(buf, cap,
                   "%s km in no time from %s (last login is not "
                   "earlier)",
                   km, from);
        return;
    }
    risk_fmt_count(speed, sizeof(speed), (uint64_t)llround(t->speed));
    risk_textf(buf, cap, "%s km in %s from %s (%s km/h > %.0f)", km, span, from,
               speed, c->p->cfg->travel.max_speed_kmh);
}

void risk_sig_travel(struct risk_ctx *c)
{
    const struct cfg *cfg = c->p->cfg;
    const struct cfg_signal *cs = &cfg->signals[LR_SIG_IMPOSSIBLE_TRAVEL];
    char detail[RISK_DETAIL_MAX];
    enum lr_action min = cs->min_action;
    double factor = 1.0;
    int damped = 0, points;
    struct travel t;

    if (!travel_measure(c, &t))
        return;
    travel_detail(c, &t, detail, sizeof(detail));
    if (c->masked) {
        factor *= cfg->travel.anonymous_damping;
        damped++;
    }
    if (c->pv.device_known) {
        factor *= cfg->travel.known_device_damping;
        damped++;
    }
    points = (int)lround((double)cs->points * factor);
    if (damped >= 2)
        min = LR_ACTION_UNSPECIFIED;
    if (damped && points <= 0)
        return;
    if (damped)
        risk_fire(c, LR_SIG_IMPOSSIBLE_TRAVEL, points, min,
                  "%s; damped x%.2f (%s%s%s)", detail, factor,
                  c->masked ? "anonymous/hosting IP" : "",
                  damped == 2 ? ", " : "",
                  c->pv.device_known ? "known device" : "");
    else
        risk_fire(c, LR_SIG_IMPOSSIBLE_TRAVEL, points, min, "%s", detail);
}

/*
 * risk_event.c - decision records: one decision as one line of JSON, and a
 * login event read back from such a line.
 *
 * The agent's decision log and `riskctl replay` meet here, so the format has
 * one owner: what the log writes, replay reads, and a plain event file (the
 * LoginAttempt fields only) reads the same way. jansson does the JSON; this
 * file does the contract: which keys, what types, what limits.
 *
 * Lines come from files an analyst hands us, so parsing is hostile-input
 * code: the line length is capped before jansson sees it, duplicate keys and
 * NUL bytes are refused, every string is length-checked before it is copied
 * into the event's fixed buffers, and every error names its field.
 */
#include "risk/risk.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RISK_TS_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define RISK_SHORT_MAX 32             /* longest short enum form + NUL */

static const char *const risk_action_names[] = {
    [LR_ACTION_UNSPECIFIED] = "ACTION_UNSPECIFIED",
    [LR_ACTION_ALLOW] = "ACTION_ALLOW",
    [LR_ACTION_CAPTCHA] = "ACTION_CAPTCHA",
    [LR_ACTION_CHALLENGE_2FA] = "ACTION_CHALLENGE_2FA",
    [LR_ACTION_LOCK] = "ACTION_LOCK",
};

static const char *const risk_credential_names[] = {
    [LR_CRED_UNSPECIFIED] = "CREDENTIAL_UNSPECIFIED",
    [LR_CRED_VALID] = "CREDENTIAL_VALID",
    [LR_CRED_INVALID] = "CREDENTIAL_INVALID",
    [LR_CRED_UNKNOWN_ACCOUNT] = "CREDENTIAL_UNKNOWN_ACCOUNT",
};

const char *risk_action_wire_name(enum lr_action a)
{
    if ((unsigned)a > LR_ACTION_MAX)
        return risk_action_names[LR_ACTION_UNSPECIFIED];
    return risk_action_names[a];
}

const char *risk_credential_wire_name(enum lr_credential c)
{
    if ((unsigned)c > LR_CRED_UNKNOWN_ACCOUNT)
        return risk_credential_names[LR_CRED_UNSPECIFIED];
    return risk_credential_names[c];
}

/* ---- writing ------------------------------------------------------------- */

/*
 * A JSON string from a fixed buffer of @p cap bytes that may be cut inside a
 * UTF-8 sequence (engine details) or come from a database file (geo names):
 * jansson refuses invalid UTF-8, so bad bytes become '?'. NULL on no memory.
 */
static json_t *risk_json_text(const char *s, size_t cap)
{
    size_t len = s != NULL ? strnlen(s, cap) : 0;
    json_t *j;
    char *fixed;

    if (len == 0)
        return json_string("");
    if (lr_utf8_valid(s, len))
        return json_stringn(s, len);
    fixed = malloc(len);
    if (fixed == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        while (k <= 4 && i + k <= len && !lr_utf8_valid(s + i, k))
            k++;
        if (k > 4 || i + k > len) {
            fixed[i] = '?';
            k = 1;
        } else {
            memcpy(fixed + i, s + i, k);
        }
        i += k;
    }
    j = json_stringn(fixed, len);
    free(fixed);
    return j;
}

/* Sets @p key to @p v (a reference is stolen); nonzero when either failed. */
static int risk_json_put(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) != 0;
}

static json_t *risk_geo_json(const struct geo_info *g)
{
    json_t *o = json_object();
    int bad = 0;

    if (o == NULL)
        return NULL;
    bad |= risk_json_put(o, "country",
                         risk_json_text(g->country, sizeof(g->country)));
    bad |= risk_json_put(o, "city", risk_json_text(g->city, sizeof(g->city)));
    bad |= risk_json_put(
        o, "latitude", g->has_location ? json_real(g->latitude) : json_null());
    bad |=
        risk_json_put(o, "longitude",
                      g->has_location ? json_real(g->longitude) : json_null());
    bad |= risk_json_put(o, "accuracy_radius_km",
                         json_integer(g->accuracy_radius_km));
    bad |= risk_json_put(o, "asn", json_integer(g->asn));
    bad |= risk_json_put(o, "as_org",
                         risk_json_text(g->as_org, sizeof(g->as_org)));
    bad |= risk_json_put(o, "is_anonymous", json_boolean(g->is_anonymous));
    bad |= risk_json_put(o, "is_hosting", json_boolean(g->is_hosting));
    bad |= risk_json_put(o, "is_tor", json_boolean(g->is_tor));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *risk_reason_json(const struct risk_reason *r)
{
    json_t *o = json_object();
    int bad = 0;

    if (o == NULL)
        return NULL;
    bad |= risk_json_put(o, "code", risk_json_text(r->code, sizeof(r->code)));
    bad |= risk_json_put(o, "points", json_integer(r->points));
    bad |= risk_json_put(o, "detail",
                         risk_json_text(r->detail, sizeof(r->detail)));
    if (r->rule_id != NULL)
        bad |= risk_json_put(o, "rule_id",
                             risk_json_text(r->rule_id, RISK_CODE_MAX));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *risk_reasons_json(const struct risk_decision *d)
{
    size_t n =
        d->n_reasons < RISK_REASONS_MAX ? d->n_reasons : RISK_REASONS_MAX;
    json_t *arr = json_array();

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, risk_reason_json(&d->reasons[i]))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The attempt's half of the record: who, from where, with what. */
static int risk_attempt_put(json_t *o, const struct risk_attempt *a,
                            const struct risk_decision *d,
                            const char *account_text)
{
    char ip[GEO_IP_TEXT_MAX];
    int bad = 0;

    geo_ip_format(&a->ip, ip, sizeof(ip));
    bad |= risk_json_put(o, "timestamp_ms", json_integer(a->timestamp_ms));
    bad |= risk_json_put(o, "request_id",
                         risk_json_text(d->request_id, sizeof(d->request_id)));
    bad |= risk_json_put(o, "account_id",
                         risk_json_text(account_text, RISK_EVENT_ID_MAX));
    bad |= risk_json_put(o, "ip", json_string(ip));
    bad |= risk_json_put(o, "device_id",
                         risk_json_text(a->device_id, RISK_EVENT_ID_MAX));
    bad |= risk_json_put(o, "user_agent",
                         risk_json_text(a->user_agent, RISK_EVENT_UA_MAX));
    bad |= risk_json_put(o, "credential",
                         json_string(risk_credential_wire_name(a->credential)));
    return bad;
}

static json_t *risk_record_json(const struct risk_attempt *a,
                                const struct risk_decision *d,
                                const char *account_text)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = risk_attempt_put(o, a, d, account_text);
    bad |= risk_json_put(o, "action",
                         json_string(risk_action_wire_name(d->action)));
    bad |= risk_json_put(o, "score", json_integer(d->score));
    bad |= risk_json_put(o, "reasons", risk_reasons_json(d));
    bad |= risk_json_put(o, "geo", risk_geo_json(&d->geo));
    bad |= risk_json_put(
        o, "policy_version",
        risk_json_text(d->policy_version, sizeof(d->policy_version)));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int risk_decision_to_json(const struct risk_attempt *a,
                          const struct risk_decision *d,
                          const char *account_text, char *buf, size_t cap,
                          size_t *len_out)
{
    json_t *o = NULL;
    size_t n;
    int rc = LR_OK;

    if (a == NULL || d == NULL || account_text == NULL || buf == NULL ||
        len_out == NULL)
        return LR_INVALID;
    o = risk_record_json(a, d, account_text);
    if (o == NULL) {
        rc = LR_NOMEM;
        goto out;
    }
    n = json_dumpb(o, buf, cap, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (n == 0) {
        rc = LR_NOMEM;
        goto out;
    }
    if (n >= cap) {
        rc = LR_FULL;
        goto out;
    }
    buf[n] = '\0';
    *len_out = n;
out:
    json_decref(o);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

/*
 * Copies string @p key of @p o into @p dst (@p cap bytes, so at most
 * cap - 1 of text). Absent or null leaves @p dst "" unless @p required.
 */
static int risk_get_str(json_t *o, const char *key, bool required, char *dst,
                        size_t cap, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, key);
    size_t len;

    dst[0] = '\0';
    if (v == NULL || json_is_null(v)) {
        if (required)
            return lr_errf(err, errcap, LR_INVALID, "%s: missing", key);
        return LR_OK;
    }
    if (!json_is_string(v))
        return lr_errf(err, errcap, LR_INVALID, "%s: must be a string", key);
    len = json_string_length(v);
    if (len >= cap)
        return lr_errf(err, errcap, LR_INVALID, "%s: longer than %zu bytes",
                       key, cap - 1);
    if (required && len == 0)
        return lr_errf(err, errcap, LR_INVALID, "%s: empty", key);
    memcpy(dst, json_string_value(v), len);
    dst[len] = '\0';
    return LR_OK;
}

/*
 * An enum given as its wire name ("CREDENTIAL_VALID"), its lower-case short
 * form without @p prefix ("valid") or a number 0..@p max. Absent or null
 * leaves *@p out alone.
 */
static int risk_get_enum(json_t *o, const char *key, const char *const *names,
                         int max, const char *prefix, int *out, char *err,
                         size_t errcap)
{
    json_t *v = json_object_get(o, key);
    size_t plen = strlen(prefix);

    if (v == NULL || json_is_null(v))
        return LR_OK;
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > max)
            return lr_errf(err, errcap, LR_INVALID,
                           "%s: %lld is not a known value", key, (long long)n);
        *out = (int)n;
        return LR_OK;
    }
    if (!json_is_string(v))
        return lr_errf(err, errcap, LR_INVALID,
                       "%s: must be a name or a number", key);
    for (int i = 0; i <= max; i++) {
        char low[RISK_SHORT_MAX];
        const char *s = names[i] + plen;
        size_t k = 0;
        for (; s[k] != '\0' && k + 1 < sizeof(low); k++)
            low[k] =
                (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
        low[k] = '\0';
        if (strcmp(json_string_value(v), names[i]) == 0 ||
            strcmp(json_string_value(v), low) == 0) {
            *out = i;
            return LR_OK;
        }
    }
    return lr_errf(err, errcap, LR_INVALID, "%s: unknown value", key);
}

static int risk_get_ip(json_t *o, struct geo_ip *out, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, "ip");

    if (v == NULL || json_is_null(v))
        return lr_errf(err, errcap, LR_INVALID, "ip: missing");
    if (!json_is_string(v))
        return lr_errf(err, errcap, LR_INVALID, "ip: must be a string");
    if (geo_ip_parse(json_string_value(v), json_string_length(v), out))
        return lr_errf(err, errcap, LR_INVALID,
                       "ip: not an IPv4 or IPv6 address");
    return LR_OK;
}

static int risk_get_ts(json_t *o, int64_t *out, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, "timestamp_ms");
    json_int_t n;

    if (v == NULL || json_is_null(v))
        return lr_errf(err, errcap, LR_INVALID, "timestamp_ms: missing");
    if (!json_is_integer(v))
        return lr_errf(err, errcap, LR_INVALID,
                       "timestamp_ms: must be an integer");
    n = json_integer_value(v);
    if (n <= 0 || n > RISK_TS_MAX)
        return lr_errf(err, errcap, LR_INVALID,
                       "timestamp_ms: %lld is out of range (1..%lld)",
                       (long long)n, RISK_TS_MAX);
    *out = (int64_t)n;
    return LR_OK;
}

static int risk_get_score(json_t *o, int *out, char *err, size_t errcap)
{
    json_t *v = json_object_get(o, "score");
    json_int_t n;

    if (v == NULL || json_is_null(v))
        return LR_OK;
    if (!json_is_integer(v))
        return lr_errf(err, errcap, LR_INVALID, "score: must be an integer");
    n = json_integer_value(v);
    if (n < 0 || n > 100)
        return lr_errf(err, errcap, LR_INVALID,
                       "score: %lld is out of range (0..100)", (long long)n);
    *out = (int)n;
    return LR_OK;
}

/* The LoginAttempt fields, in the order of the proto. */
static int risk_event_fields(json_t *o, struct risk_event *ev, char *err,
                             size_t errcap)
{
    int cred = LR_CRED_UNSPECIFIED;
    int act = LR_ACTION_UNSPECIFIED;
    int rc;

    rc = risk_get_str(o, "request_id", false, ev->request_id,
                      sizeof(ev->request_id), err, errcap);
    if (!rc)
        rc = risk_get_str(o, "account_id", true, ev->account_id,
                          sizeof(ev->account_id), err, errcap);
    if (!rc)
        rc = risk_get_ip(o, &ev->ip, err, errcap);
    if (!rc)
        rc = risk_get_str(o, "device_id", false, ev->device_id,
                          sizeof(ev->device_id), err, errcap);
    if (!rc)
        rc = risk_get_str(o, "user_agent", false, ev->user_agent,
                          sizeof(ev->user_agent), err, errcap);
    if (!rc)
        rc = risk_get_ts(o, &ev->timestamp_ms, err, errcap);
    if (!rc)
        rc = risk_get_enum(o, "credential", risk_credential_names,
                           LR_CRED_UNKNOWN_ACCOUNT, "CREDENTIAL_", &cred, err,
                           errcap);
    if (!rc)
        rc = risk_get_enum(o, "action", risk_action_names, LR_ACTION_MAX,
                           "ACTION_", &act, err, errcap);
    if (!rc)
        rc = risk_get_score(o, &ev->score, err, errcap);
    if (!rc)
        rc = risk_get_str(o, "policy_version", false, ev->policy_version,
                          sizeof(ev->policy_version), err, errcap);
    ev->credential = (enum lr_credential)cred;
    ev->action = (enum lr_action)act;
    return rc;
}

/* jansson's message for a line that is not JSON at all. */
static int risk_json_error(const json_error_t *je, char *err, size_t errcap)
{
    return lr_errf(err, errcap, LR_INVALID, "json: %s at column %d", je->text,
                   je->column);
}

int risk_event_parse(const char *line, size_t len, struct risk_event *out,
                     char *err, size_t errcap)
{
    struct risk_event *ev = NULL;
    json_error_t je;
    json_t *o = NULL;
    int rc;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > RISK_EVENT_LINE_MAX) {
        rc = lr_errf(err, errcap, LR_INVALID, "line: longer than %d bytes",
                     RISK_EVENT_LINE_MAX);
        goto out;
    }
    o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        rc = risk_json_error(&je, err, errcap);
        goto out;
    }
    if (!json_is_object(o)) {
        rc = lr_errf(err, errcap, LR_INVALID, "line: not a JSON object");
        goto out;
    }
    /* The event is ~2 KiB: built on the heap, copied out only when whole. */
    ev = calloc(1, sizeof(*ev));
    if (ev == NULL) {
        lr_errf(err, errcap, LR_INVALID, "line: out of memory");
        rc = LR_NOMEM;
        goto out;
    }
    ev->score = -1;
    rc = risk_event_fields(o, ev, err, errcap);
    if (rc)
        goto out;
    *out = *ev;
out:
    free(ev);
    json_decref(o);
    return rc;
}

void risk_event_to_attempt(const struct risk_event *ev,
                           struct risk_attempt *out)
{
    memset(out, 0, sizeof(*out));
    out->request_id = ev->request_id;
    out->account_id = ev->account_id;
    out->ip = ev->ip;
    out->device_id = ev->device_id;
    out->user_agent = ev->user_agent;
    out->timestamp_ms = ev->timestamp_ms;
    out->credential = ev->credential;
    out->fingerprint = NULL;
}

/*
 * agent_validate.c - request validation, as pure functions.
 *
 * Every RPC's input is checked here before it reaches the engine, in field
 * order, stopping at the first problem, and every message names the field
 * ("account_id: required"), because that is what a client developer needs
 * to fix the call. Nothing here reads the clock or does I/O ("now" comes in
 * with the limits), so tests/test_agent_validate.c covers every rule.
 *
 * Messages never echo the offending value: a request may carry a password or
 * personal data, and status messages end up in client logs.
 */
#include "agent/agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int agent_invalid(char *msg, size_t cap, const char *fmt, ...)
    LR_PRINTF(3, 4);

static int agent_invalid(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, cap, fmt, ap) < 0 && cap > 0)
        msg[0] = '\0';
    va_end(ap);
    return LR_INVALID;
}

/* A UTF-8 text field: required or not, at most @p max bytes. */
static int agent_check_text(const char *field, const char *s, size_t max,
                            bool required, char *msg, size_t cap)
{
    size_t len = strlen(s);

    if (required && len == 0)
        return agent_invalid(msg, cap, "%s: required", field);
    if (len > max)
        return agent_invalid(msg, cap, "%s: longer than %zu bytes", field, max);
    if (!lr_utf8_valid(s, len))
        return agent_invalid(msg, cap, "%s: not valid UTF-8", field);
    return LR_OK;
}

static int agent_check_request_id(const char *s, bool required, char *msg,
                                  size_t cap)
{
    size_t len = strlen(s);

    if (required && len == 0)
        return agent_invalid(msg, cap, "request_id: required");
    if (len > AGENT_REQUEST_ID_MAX)
        return agent_invalid(msg, cap, "request_id: longer than %d bytes",
                             AGENT_REQUEST_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e)
            return agent_invalid(msg, cap, "request_id: not printable ASCII");
    }
    return LR_OK;
}

static uint64_t agent_duration_unit(uint64_t limit_s)
{
    if (limit_s != 0 && limit_s % 86400 == 0)
        return 86400;
    if (limit_s != 0 && limit_s % 3600 == 0)
        return 3600;
    if (limit_s != 0 && limit_s % 60 == 0)
        return 60;
    return 1;
}

void agent_format_duration(uint64_t value_s, uint64_t limit_s, char *buf,
                           size_t cap)
{
    uint64_t unit = agent_duration_unit(limit_s);
    const char *name = unit == 86400  ? "day"
                       : unit == 3600 ? "hour"
                       : unit == 60   ? "minute"
                                      : "second";
    uint64_t tenths;

    if (value_s > UINT64_MAX / 10)
        value_s = UINT64_MAX / 10;
    tenths = value_s * 10 / unit;
    if (tenths % 10 == 0)
        snprintf(buf, cap, "%llu %s%s", (unsigned long long)(tenths / 10), name,
                 tenths == 10 ? "" : "s");
    else
        snprintf(buf, cap, "%llu.%llu %ss", (unsigned long long)(tenths / 10),
                 (unsigned long long)(tenths % 10), name);
}

/* "9 days in the past (limit 7 days)"; "more than" when both round alike. */
static int agent_time_error(const char *field, uint64_t off_ms,
                            uint64_t limit_s, const char *where, char *msg,
                            size_t cap)
{
    char off[48], lim[48];

    agent_format_duration(off_ms / 1000, limit_s, off, sizeof(off));
    agent_format_duration(limit_s, limit_s, lim, sizeof(lim));
    return agent_invalid(msg, cap, "%s: %s%s in the %s (limit %s)", field,
                         strcmp(off, lim) == 0 ? "more than " : "", off, where,
                         lim);
}

static int agent_check_time(const char *field, int64_t ts,
                            const struct agent_time_limits *lim, int64_t *out,
                            char *msg, size_t cap)
{
    /* limits saturate: a huge configured window accepts everything */
    uint64_t past_ms =
        lim->past_s > UINT64_MAX / 1000 ? UINT64_MAX : lim->past_s * 1000;
    uint64_t future_ms =
        lim->future_s > UINT64_MAX / 1000 ? UINT64_MAX : lim->future_s * 1000;
    uint64_t off;

    if (ts == 0) {
        *out = lim->now_ms;
        return LR_OK;
    }
    if (ts < lim->now_ms) {
        off = (uint64_t)lim->now_ms - (uint64_t)ts;
        if (off > past_ms)
            return agent_time_error(field, off, lim->past_s, "past", msg, cap);
    } else {
        off = (uint64_t)ts - (uint64_t)lim->now_ms;
        if (off > future_ms)
            return agent_time_error(field, off, lim->future_s, "future", msg,
                                    cap);
    }
    *out = ts;
    return LR_OK;
}

static int agent_check_ip(const char *s, struct geo_ip *out, char *msg,
                          size_t cap)
{
    size_t len = strlen(s);

    if (len == 0)
        return agent_invalid(msg, cap, "ip: required");
    if (geo_ip_parse(s, len, out) != LR_OK)
        return agent_invalid(msg, cap, "ip: not an IPv4 or IPv6 address");
    return LR_OK;
}

static int agent_check_credential(const Loginrisk__V1__LoginAttempt *m,
                                  char *msg, size_t cap)
{
    int c = (int)m->credential;

    if (c < LR_CRED_UNSPECIFIED || c > LR_CRED_UNKNOWN_ACCOUNT)
        return agent_invalid(msg, cap, "credential: unknown value %d", c);
    if (m->attempted_password.len == 0)
        return LR_OK;
    if (c != LR_CRED_INVALID)
        return agent_invalid(
            msg, cap,
            "attempted_password: only allowed with CREDENTIAL_INVALID");
    if (m->attempted_password.len > AGENT_PASSWORD_MAX)
        return agent_invalid(msg, cap,
                             "attempted_password: longer than %d bytes",
                             AGENT_PASSWORD_MAX);
    return LR_OK;
}

int agent_validate_attempt(const Loginrisk__V1__LoginAttempt *m,
                           const struct agent_time_limits *lim,
                           struct agent_attempt_check *out, char *msg,
                           size_t cap)
{
    struct agent_attempt_check r;
    int rc;

    rc = agent_check_request_id(m->request_id, false, msg, cap);
    if (rc)
        goto out;
    rc = agent_check_text("account_id", m->account_id, AGENT_ID_MAX, true, msg,
                          cap);
    if (rc)
        goto out;
    rc = agent_check_ip(m->ip, &r.ip, msg, cap);
    if (rc)
        goto out;
    rc = agent_check_text("device_id", m->device_id, AGENT_ID_MAX, false, msg,
                          cap);
    if (rc)
        goto out;
    rc = agent_check_text("user_agent", m->user_agent, AGENT_USER_AGENT_MAX,
                          false, msg, cap);
    if (rc)
        goto out;
    rc = agent_check_time("timestamp_ms", m->timestamp_ms, lim, &r.timestamp_ms,
                          msg, cap);
    if (rc)
        goto out;
    rc = agent_check_credential(m, msg, cap);
    if (rc)
        goto out;
    *out = r;
out:
    return rc;
}

int agent_validate_outcome(const Loginrisk__V1__Outcome *m,
                           const struct agent_time_limits *lim, int64_t *ts_out,
                           char *msg, size_t cap)
{
    int kind = (int)m->kind;
    int64_t ts;
    int rc;

    rc = agent_check_request_id(m->request_id, true, msg, cap);
    if (rc)
        return rc;
    rc = agent_check_text("account_id", m->account_id, AGENT_ID_MAX, true, msg,
                          cap);
    if (rc)
        return rc;
    if (kind == LR_OUTCOME_UNSPECIFIED)
        return agent_invalid(msg, cap, "kind: required");
    if (kind < LR_OUTCOME_UNSPECIFIED || kind > LR_OUTCOME_CONFIRMED_FRAUD)
        return agent_invalid(msg, cap, "kind: unknown value %d", kind);
    rc = agent_check_time("timestamp_ms", m->timestamp_ms, lim, &ts, msg, cap);
    if (rc)
        return rc;
    *ts_out = ts;
    return LR_OK;
}

/* ---- wire-level string check -------------------------------------------- */

static bool agent_varint(const uint8_t *p, size_t len, size_t *off,
                         uint64_t *out)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64 && *off < len; shift += 7) {
        uint8_t b = p[(*off)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Skips one field's value; for length-delimited ones returns its span. */
static bool agent_skip_value(const uint8_t *p, size_t len, size_t *off,
                             unsigned wire_type, size_t *start, size_t *n)
{
    uint64_t v;

    *n = 0;
    switch (wire_type) {
    case 0:
        return agent_varint(p, len, off, &v);
    case 1:
        v = 8;
        break;
    case 5:
        v = 4;
        break;
    case 2:
        if (!agent_varint(p, len, off, &v))
            return false;
        *start = *off;
        *n = (size_t)v;
        break;
    default:
        return false; /* groups (3, 4) have no place in proto3 */
    }
    if (v > len - *off)
        return false;
    *off += (size_t)v;
    return true;
}

int agent_validate_wire_strings(const ProtobufCMessageDescriptor *desc,
                                const uint8_t *data, size_t len, char *msg,
                                size_t cap)
{
    size_t off = 0;

    while (off < len) {
        const ProtobufCFieldDescriptor *fd;
        uint64_t key;
        size_t start = 0, n;

        if (!agent_varint(data, len, &off, &key) || (key >> 3) == 0 ||
            (key >> 3) > 0x1fffffff ||
            !agent_skip_value(data, len, &off, (unsigned)(key & 7), &start, &n))
            return agent_invalid(msg, cap, "request: malformed message");
        if ((key & 7) != 2)
            continue;
        fd =
            protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
        if (fd != NULL && fd->type == PROTOBUF_C_TYPE_STRING &&
            memchr(data + start, 0, n) != NULL)
            return agent_invalid(msg, cap, "%s: contains a NUL byte", fd->name);
    }
    return LR_OK;
}

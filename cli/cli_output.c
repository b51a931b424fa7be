/*
 * cli_output.c - how riskctl shows a decision: readable text or JSON.
 *
 * The JSON form uses the proto field names and enum value names (as the
 * proto3 JSON mapping does) and always includes every field, so scripts can
 * read `.geo.country` without checking for absence. Strings from the agent
 * are passed through jansson only when they are valid UTF-8; a bad byte
 * becomes '?', never a missing field.
 */
#include "cli/cli_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *cli_json_str(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    json_t *j;
    char *copy;

    if (lr_utf8_valid(s ? s : "", len)) {
        return json_stringn(s ? s : "", len);
    }
    copy = malloc(len + 1);
    if (!copy) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        copy[i] = ch < 0x80 ? (char)ch : '?';
    }
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

static const char *cli_enum_or(const ProtobufCEnumDescriptor *desc, int v,
                               const char *fallback)
{
    const char *n = cli_enum_name(desc, v);

    return n ? n : fallback;
}

static json_t *cli_json_geo(const Loginrisk__V1__GeoInfo *g)
{
    Loginrisk__V1__GeoInfo empty = LOGINRISK__V1__GEO_INFO__INIT;

    if (!g) {
        g = &empty;
    }
    return json_pack(
        "{s:o, s:o, s:f, s:f, s:I, s:I, s:o, s:b, s:b, s:b, s:b}", "country",
        cli_json_str(g->country), "city", cli_json_str(g->city), "latitude",
        g->latitude, "longitude", g->longitude, "accuracy_radius_km",
        (json_int_t)g->accuracy_radius_km, "asn", (json_int_t)g->asn, "as_org",
        cli_json_str(g->as_org), "is_anonymous", (int)g->is_anonymous,
        "is_hosting", (int)g->is_hosting, "is_tor", (int)g->is_tor,
        "has_location", (int)g->has_location);
}

static json_t *cli_json_reasons(const Loginrisk__V1__Decision *d)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < d->n_reasons; i++) {
        const Loginrisk__V1__Reason *r = d->reasons[i];

        if (json_array_append_new(
                arr, json_pack("{s:o, s:i, s:o, s:o}", "code",
                               cli_json_str(r->code), "points", r->points,
                               "detail", cli_json_str(r->detail), "rule_id",
                               cli_json_str(r->rule_id)))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *cli_json_decision(const Loginrisk__V1__Decision *d)
{
    const char *action =
        cli_enum_name(&loginrisk__v1__action__descriptor, (int)d->action);

    return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o}", "request_id",
                     cli_json_str(d->request_id), "action",
                     action ? json_string(action)
                            : json_integer((json_int_t)d->action),
                     "score", (json_int_t)d->score, "reasons",
                     cli_json_reasons(d), "geo", cli_json_geo(d->geo),
                     "policy_version", cli_json_str(d->policy_version));
}

int cli_json_print(json_t *json)
{
    int rc;

    if (!json) {
        fprintf(stderr, "riskctl: cannot build JSON output\n");
        return CLI_EXIT_RPC;
    }
    rc = json_dumpf(json, stdout, JSON_COMPACT);
    json_decref(json);
    if (rc || fputc('\n', stdout) == EOF || fflush(stdout)) {
        fprintf(stderr, "riskctl: cannot write output\n");
        return CLI_EXIT_RPC;
    }
    return CLI_EXIT_OK;
}

static void cli_print_geo(const Loginrisk__V1__GeoInfo *g)
{
    printf("geo:             %s", g->country[0] ? g->country : "-");
    if (g->city[0]) {
        printf(", %s", g->city);
    }
    if (g->has_location) {
        printf("; %.4f, %.4f (+-%u km)", g->latitude, g->longitude,
               g->accuracy_radius_km);
    }
    if (g->asn) {
        printf("; AS%u %s", g->asn, g->as_org);
    }
    printf("%s%s%s\n", g->is_anonymous ? "; anonymous" : "",
           g->is_hosting ? "; hosting" : "", g->is_tor ? "; tor" : "");
}

void cli_print_decision(const Loginrisk__V1__Decision *d)
{
    const char *action =
        cli_enum_or(&loginrisk__v1__action__descriptor, (int)d->action, "?");

    if (strncmp(action, "ACTION_", 7) == 0) {
        action += 7;
    }
    printf("action:          %s\n", action);
    printf("score:           %u\n", d->score);
    printf("request_id:      %s\n", d->request_id);
    printf("policy_version:  %s\n", d->policy_version);
    printf("reasons:%s\n", d->n_reasons ? "" : "         (none)");
    for (size_t i = 0; i < d->n_reasons; i++) {
        const Loginrisk__V1__Reason *r = d->reasons[i];

        printf("  %+4d  %s", r->points, r->code);
        if (r->rule_id[0]) {
            printf(" [%s]", r->rule_id);
        }
        printf("%s%s\n", r->detail[0] ? ": " : "", r->detail);
    }
    if (d->geo) {
        cli_print_geo(d->geo);
    }
}

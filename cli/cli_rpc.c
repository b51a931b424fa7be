/*
 * cli_rpc.c - typed calls on top of the raw unary call.
 *
 * Packs a protobuf-c request, makes the call through cli_client.c and
 * unpacks the response with the descriptor the caller names. Kept apart from
 * the gRPC adapter so the helpers read in protobuf terms only; the admin
 * calls of riskctl add their helpers here.
 */
#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request larger than this is refused before it leaves the client. */
#define CLI_MAX_SEND_BYTES (16u * 1024u * 1024u)

int cli_call_unary(struct cli_client *c, const char *method,
                   const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *resp_desc,
                   int64_t timeout_ms, const struct cli_md *md, size_t n_md,
                   struct cli_status *st, ProtobufCMessage **resp)
{
    uint8_t *out_buf = NULL, *in_buf = NULL;
    size_t out_len, in_len = 0;
    ProtobufCMessage *msg;
    bool st_set = false; /* cli_call_raw has written the status */
    int rc;

    out_len = protobuf_c_message_get_packed_size(req);
    if (out_len > CLI_MAX_SEND_BYTES) {
        rc = LR_FULL;
        goto out;
    }
    out_buf = malloc(out_len ? out_len : 1);
    if (!out_buf) {
        rc = LR_NOMEM;
        goto out;
    }
    protobuf_c_message_pack(req, out_buf);
    rc = cli_call_raw(c, method, out_buf, out_len, timeout_ms, md, n_md, st,
                      &in_buf, &in_len);
    st_set = true;
    if (rc) {
        goto out;
    }
    msg = protobuf_c_message_unpack(resp_desc, NULL, in_len, in_buf);
    if (!msg) {
        rc = LR_CORRUPT;
        st_set = false;
        goto out;
    }
    *resp = msg;
out:
    if (rc && !st_set) {
        st->code = 13; /* INTERNAL: the failure is on this side */
        snprintf(st->message, sizeof(st->message), "client: %s",
                 rc == LR_CORRUPT ? "response does not decode"
                                  : lr_strerror(rc));
    }
    free(out_buf);
    free(in_buf);
    return rc;
}

int cli_evaluate(struct cli_client *c, const Loginrisk__V1__LoginAttempt *req,
                 int64_t timeout_ms, struct cli_status *st,
                 Loginrisk__V1__Decision **out)
{
    ProtobufCMessage *m = NULL;
    int rc;

    rc = cli_call_unary(c, CLI_METHOD_EVALUATE, &req->base,
                        &loginrisk__v1__decision__descriptor, timeout_ms, NULL,
                        0, st, &m);
    if (rc == LR_OK) {
        *out = (Loginrisk__V1__Decision *)m;
    }
    return rc;
}

int cli_report_outcome(struct cli_client *c, const Loginrisk__V1__Outcome *req,
                       int64_t timeout_ms, struct cli_status *st,
                       Loginrisk__V1__OutcomeAck **out)
{
    ProtobufCMessage *m = NULL;
    int rc;

    rc = cli_call_unary(c, CLI_METHOD_REPORT_OUTCOME, &req->base,
                        &loginrisk__v1__outcome_ack__descriptor, timeout_ms,
                        NULL, 0, st, &m);
    if (rc == LR_OK) {
        *out = (Loginrisk__V1__OutcomeAck *)m;
    }
    return rc;
}

int cli_health_check(struct cli_client *c, const char *service,
                     int64_t timeout_ms, struct cli_status *st, int *serving)
{
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    char *name = NULL;
    int rc;

    if (service && *service) {
        name = strdup(service);
        if (!name) {
            st->code = 13;
            lr_strlcpy(st->message, "client: out of memory",
                       sizeof(st->message));
            return LR_NOMEM;
        }
        req.service = name;
    }
    rc = cli_call_unary(c, CLI_METHOD_HEALTH_CHECK, &req.base,
                        &grpc__health__v1__health_check_response__descriptor,
                        timeout_ms, NULL, 0, st, &m);
    if (rc == LR_OK) {
        *serving = ((Grpc__Health__V1__HealthCheckResponse *)m)->status;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    free(name);
    return rc;
}

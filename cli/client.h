/*
 * client.h - a small synchronous gRPC client for the loginrisk agent.
 *
 * riskctl, the integration tests and the benchmarks talk to the agent through
 * this header only; the gRPC core calls live in cli_client.c. A client owns
 * one channel (plaintext or TLS) and one completion queue, and makes one
 * blocking unary call at a time: use one client per thread.
 *
 * Every call returns an lr_err and fills a struct cli_status with the gRPC
 * status code and message, so a caller can tell "the agent said
 * INVALID_ARGUMENT: account_id is required" (LR_GRPC) from a local failure
 * (LR_NOMEM, LR_INVALID, LR_IO).
 */
#ifndef LR_CLI_CLIENT_H
#define LR_CLI_CLIENT_H

#include "lr/lr.h"

#include <stddef.h>
#include <stdint.h>

#include <grpc/health/v1/health.pb-c.h>
#include <loginrisk/v1/risk.pb-c.h>

/* Method paths of the contract. */
#define CLI_METHOD_EVALUATE "/loginrisk.v1.RiskService/Evaluate"
#define CLI_METHOD_REPORT_OUTCOME "/loginrisk.v1.RiskService/ReportOutcome"
#define CLI_METHOD_HEALTH_CHECK "/grpc.health.v1.Health/Check"

#define CLI_DEFAULT_TARGET "127.0.0.1:50051"
#define CLI_DEFAULT_TIMEOUT_MS 5000
/* Hard cap on a response the client accepts (the API needs kilobytes). */
#define CLI_MAX_RECV_BYTES (16u * 1024u * 1024u)
/* Hard cap on a PEM file read for TLS. */
#define CLI_MAX_PEM_BYTES (1024u * 1024u)
#define CLI_STATUS_MSG_MAX 512

/** TLS settings; all NULL (or a NULL pointer to the struct) = plaintext. */
struct cli_tls {
    const char *ca_file;     /* PEM roots; NULL = the system default roots */
    const char *cert_file;   /* client certificate chain (PEM), with key */
    const char *key_file;    /* client private key (PEM), with cert */
    const char *server_name; /* name to check in the server certificate */
    int enabled;             /* nonzero = TLS even when every file is NULL */
};

/** One metadata entry; the key must be lower case (e.g. "authorization"). */
struct cli_md {
    const char *key;
    const char *value;
};

/**
 * The outcome of one call: the gRPC status code (grpc_status_code values,
 * 0 = OK) and its message, always NUL-terminated and possibly cut.
 */
struct cli_status {
    int code;
    char message[CLI_STATUS_MSG_MAX];
};

struct cli_client;

/**
 * Connects lazily to @p target ("host:port", "[::1]:port", "unix:/path").
 * @p tls may be NULL for plaintext. TLS files are read here (LR_IO when one
 * cannot be read, LR_INVALID when cert and key are not given together).
 * On success *@p out is a new client; free it with cli_client_free.
 */
LR_WUR int cli_client_new(const char *target, const struct cli_tls *tls,
                          struct cli_client **out);

/** Closes the channel and frees @p c. NULL is a no-op. */
void cli_client_free(struct cli_client *c);

/**
 * Makes one unary call to @p method with @p req, waiting at most
 * @p timeout_ms (<= 0: already expired, which the agent must answer with
 * DEADLINE_EXCEEDED). @p md (n_md entries, may be NULL) is sent as metadata.
 * *@p st is always written. On LR_OK the status is OK and *@p resp is a new
 * message of type @p resp_desc (free with protobuf_c_message_free_unpacked).
 * Returns LR_GRPC for a non-OK status, LR_CORRUPT when the response does not
 * decode, LR_INVALID for a bad metadata key, LR_NOMEM.
 */
LR_WUR int cli_call_unary(struct cli_client *c, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc,
                          int64_t timeout_ms, const struct cli_md *md,
                          size_t n_md, struct cli_status *st,
                          ProtobufCMessage **resp);

/**
 * The same with request bytes already encoded (e.g. a deliberately
 * malformed message in a test). The response is left undecoded in a
 * malloc'd buffer: *@p resp_buf / *@p resp_len, freed by the caller.
 */
LR_WUR int cli_call_raw(struct cli_client *c, const char *method,
                        const uint8_t *req, size_t req_len, int64_t timeout_ms,
                        const struct cli_md *md, size_t n_md,
                        struct cli_status *st, uint8_t **resp_buf,
                        size_t *resp_len);

/**
 * RiskService/Evaluate. On LR_OK *@p out is a new Decision, freed with
 * loginrisk__v1__decision__free_unpacked(d, NULL).
 */
LR_WUR int cli_evaluate(struct cli_client *c,
                        const Loginrisk__V1__LoginAttempt *req,
                        int64_t timeout_ms, struct cli_status *st,
                        Loginrisk__V1__Decision **out);

/**
 * RiskService/ReportOutcome. On LR_OK *@p out is a new OutcomeAck, freed
 * with loginrisk__v1__outcome_ack__free_unpacked(a, NULL).
 */
LR_WUR int cli_report_outcome(struct cli_client *c,
                              const Loginrisk__V1__Outcome *req,
                              int64_t timeout_ms, struct cli_status *st,
                              Loginrisk__V1__OutcomeAck **out);

/**
 * grpc.health.v1.Health/Check for @p service ("" or NULL = the whole
 * server). On LR_OK *@p serving is the ServingStatus value (1 = SERVING).
 */
LR_WUR int cli_health_check(struct cli_client *c, const char *service,
                            int64_t timeout_ms, struct cli_status *st,
                            int *serving);

/** "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_CODE" out of range. Static. */
const char *cli_status_name(int code);

/** Parses "INVALID_ARGUMENT" (or its number); -1 when unknown. */
int cli_status_parse(const char *name);

#endif

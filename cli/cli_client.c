/*
 * cli_client.c - the gRPC core adapter behind client.h.
 *
 * One channel and one pluck completion queue per client; each unary call is
 * a single batch (send metadata, message and close; receive metadata,
 * message and status) plucked by its tag, so the code reads top to bottom
 * like a function call. Method paths are registered with the channel once
 * and cached. gRPC status codes are passed up as they are (the caller
 * prints them by name); local failures are mapped to lr_err here.
 */
#include "cli/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#define CLI_METHODS_MAX 32
#define CLI_MD_MAX 16

struct cli_method {
    char *path;
    void *handle;
};

struct cli_client {
    grpc_channel *channel;
    grpc_completion_queue *cq;
    struct cli_method methods[CLI_METHODS_MAX];
    size_t n_methods;
    char *server_name; /* copy for the channel argument */
};

/* Buffers of one call, released in one place. */
struct cli_call {
    grpc_call *call;
    grpc_metadata md[CLI_MD_MAX];
    size_t n_md;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_metadata_array recv_md;
    grpc_metadata_array trailers;
    grpc_status_code status;
    grpc_slice details;
    union {
        const char *c; /* what gRPC writes */
        char *mut;     /* what gpr_free takes */
    } error_string;
    bool done; /* the batch completed, so status and details are set */
};

const char *cli_status_name(int code)
{
    const char *name = lr_grpc_status_name(code);

    return name != NULL ? name : "UNKNOWN_CODE";
}

int cli_status_parse(const char *name)
{
    char *end = NULL;
    long v;

    for (int i = 0; i < LR_GRPC_STATUS_COUNT; i++) {
        if (strcmp(name, lr_grpc_status_name(i)) == 0) {
            return i;
        }
    }
    errno = 0;
    v = strtol(name, &end, 10);
    if (errno || end == name || *end != '\0' || v < 0 ||
        v >= LR_GRPC_STATUS_COUNT) {
        return -1;
    }
    return (int)v;
}

/* Reads a whole PEM file (at most CLI_MAX_PEM_BYTES) as a C string. */
static int cli_read_pem(const char *path, char **out)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len;
    int rc = LR_IO;

    f = fopen(path, "rb");
    if (!f) {
        goto out;
    }
    buf = malloc(CLI_MAX_PEM_BYTES + 1);
    if (!buf) {
        rc = LR_NOMEM;
        goto out;
    }
    len = fread(buf, 1, CLI_MAX_PEM_BYTES + 1, f);
    if (ferror(f) || len == 0 || len > CLI_MAX_PEM_BYTES) {
        goto out;
    }
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    rc = LR_OK;
out:
    if (buf) {
        lr_wipe(buf, CLI_MAX_PEM_BYTES + 1);
        free(buf);
    }
    if (f) {
        fclose(f);
    }
    return rc;
}

static void cli_free_secret(char *s)
{
    if (s) {
        lr_wipe(s, strlen(s));
        free(s);
    }
}

static bool cli_tls_wanted(const struct cli_tls *tls)
{
    return tls && (tls->enabled || tls->ca_file || tls->cert_file ||
                   tls->key_file || tls->server_name);
}

/* TLS credentials from PEM files; the private key never outlives this. */
static int cli_make_ssl_creds(const struct cli_tls *tls,
                              grpc_channel_credentials **out)
{
    char *roots = NULL, *cert = NULL, *key = NULL;
    grpc_ssl_pem_key_cert_pair pair;
    grpc_channel_credentials *creds;
    int rc = LR_OK;

    if (!tls->cert_file != !tls->key_file) {
        rc = LR_INVALID;
        goto out;
    }
    if (tls->ca_file) {
        rc = cli_read_pem(tls->ca_file, &roots);
        if (rc) {
            goto out;
        }
    }
    if (tls->cert_file) {
        rc = cli_read_pem(tls->cert_file, &cert);
        if (rc) {
            goto out;
        }
        rc = cli_read_pem(tls->key_file, &key);
        if (rc) {
            goto out;
        }
        pair.cert_chain = cert;
        pair.private_key = key;
    }
    creds =
        grpc_ssl_credentials_create_ex(roots, cert ? &pair : NULL, NULL, NULL);
    if (!creds) {
        rc = LR_CRYPTO;
        goto out;
    }
    *out = creds;
out:
    free(roots);
    free(cert);
    cli_free_secret(key);
    return rc;
}

/* Plaintext unless @p tls asks for TLS. */
static int cli_make_creds(const struct cli_tls *tls,
                          grpc_channel_credentials **out)
{
    grpc_channel_credentials *creds;

    if (cli_tls_wanted(tls)) {
        return cli_make_ssl_creds(tls, out);
    }
    creds = grpc_insecure_credentials_create();
    if (!creds) {
        return LR_GRPC;
    }
    *out = creds;
    return LR_OK;
}

int cli_client_new(const char *target, const struct cli_tls *tls,
                   struct cli_client **out)
{
    struct cli_client *c = NULL;
    grpc_channel_credentials *creds = NULL;
    grpc_arg args[2];
    grpc_channel_args chargs = {.num_args = 1, .args = args};
    int rc;

    grpc_init();
    c = calloc(1, sizeof(*c));
    if (!c) {
        rc = LR_NOMEM;
        goto out;
    }
    rc = cli_make_creds(tls, &creds);
    if (rc) {
        goto out;
    }
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)CLI_MAX_RECV_BYTES;
    if (cli_tls_wanted(tls) && tls->server_name) {
        c->server_name = strdup(tls->server_name);
        if (!c->server_name) {
            rc = LR_NOMEM;
            goto out;
        }
        args[1].type = GRPC_ARG_STRING;
        args[1].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[1].value.string = c->server_name;
        chargs.num_args = 2;
    }
    c->channel = grpc_channel_create(target, creds, &chargs);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    if (!c->channel || !c->cq) {
        rc = LR_GRPC;
        goto out;
    }
    *out = c;
    c = NULL;
out:
    if (creds) {
        grpc_channel_credentials_release(creds);
    }
    /* cli_client_free balances the grpc_init above */
    if (c) {
        cli_client_free(c);
    } else if (rc) {
        grpc_shutdown();
    }
    return rc;
}

void cli_client_free(struct cli_client *c)
{
    grpc_event ev;

    if (!c) {
        return;
    }
    if (c->channel) {
        grpc_channel_destroy(c->channel);
    }
    if (c->cq) {
        grpc_completion_queue_shutdown(c->cq);
        do {
            ev = grpc_completion_queue_pluck(
                c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        } while (ev.type != GRPC_QUEUE_SHUTDOWN);
        grpc_completion_queue_destroy(c->cq);
    }
    for (size_t i = 0; i < c->n_methods; i++) {
        free(c->methods[i].path);
    }
    free(c->server_name);
    free(c);
    grpc_shutdown();
}

/* Returns the channel's handle for @p method, registering it once. */
static int cli_method_handle(struct cli_client *c, const char *method,
                             void **out)
{
    struct cli_method *m;

    for (size_t i = 0; i < c->n_methods; i++) {
        if (strcmp(c->methods[i].path, method) == 0) {
            *out = c->methods[i].handle;
            return LR_OK;
        }
    }
    if (c->n_methods == CLI_METHODS_MAX) {
        return LR_FULL;
    }
    m = &c->methods[c->n_methods];
    m->path = strdup(method);
    if (!m->path) {
        return LR_NOMEM;
    }
    m->handle = grpc_channel_register_call(c->channel, m->path, NULL, NULL);
    if (!m->handle) {
        free(m->path);
        return LR_GRPC;
    }
    c->n_methods++;
    *out = m->handle;
    return LR_OK;
}

/* gRPC refuses upper case and most punctuation in metadata keys. */
static bool cli_md_key_valid(const char *key)
{
    if (!key || !*key) {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.')) {
            return false;
        }
    }
    return true;
}

static int cli_call_prepare(struct cli_call *k, const uint8_t *req,
                            size_t req_len, const struct cli_md *md,
                            size_t n_md)
{
    grpc_slice s;

    if (n_md > CLI_MD_MAX) {
        return LR_INVALID;
    }
    for (size_t i = 0; i < n_md; i++) {
        if (!cli_md_key_valid(md[i].key) || !md[i].value) {
            return LR_INVALID;
        }
    }
    for (size_t i = 0; i < n_md; i++) {
        k->md[i].key = grpc_slice_from_copied_string(md[i].key);
        k->md[i].value = grpc_slice_from_copied_string(md[i].value);
        k->n_md++;
    }
    s = grpc_slice_from_copied_buffer((const char *)req, req_len);
    k->send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return k->send ? LR_OK : LR_NOMEM;
}

static void cli_call_release(struct cli_call *k)
{
    for (size_t i = 0; i < k->n_md; i++) {
        grpc_slice_unref(k->md[i].key);
        grpc_slice_unref(k->md[i].value);
    }
    if (k->send) {
        grpc_byte_buffer_destroy(k->send);
    }
    if (k->recv) {
        grpc_byte_buffer_destroy(k->recv);
    }
    grpc_metadata_array_destroy(&k->recv_md);
    grpc_metadata_array_destroy(&k->trailers);
    grpc_slice_unref(k->details);
    gpr_free(k->error_string.mut);
    if (k->call) {
        grpc_call_unref(k->call);
    }
}

static gpr_timespec cli_deadline(int64_t timeout_ms)
{
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);

    if (timeout_ms <= 0) {
        return now;
    }
    return gpr_time_add(now, gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

/* Runs the one batch of a unary call and waits for it. */
static int cli_call_run(struct cli_client *c, struct cli_call *k)
{
    grpc_op ops[6];
    grpc_event ev;

    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = k->n_md;
    ops[0].data.send_initial_metadata.metadata = k->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = k->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &k->recv_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &k->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &k->trailers;
    ops[5].data.recv_status_on_client.status = &k->status;
    ops[5].data.recv_status_on_client.status_details = &k->details;
    ops[5].data.recv_status_on_client.error_string = &k->error_string.c;
    if (grpc_call_start_batch(k->call, ops, LR_ARRAY_LEN(ops), k, NULL) !=
        GRPC_CALL_OK) {
        return LR_GRPC;
    }
    ev = grpc_completion_queue_pluck(c->cq, k,
                                     gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
        return LR_GRPC;
    }
    k->done = true;
    return LR_OK;
}

/* Copies the status the call ended with into @p st. */
static void cli_call_status(const struct cli_call *k, struct cli_status *st)
{
    size_t len = GRPC_SLICE_LENGTH(k->details);

    st->code = (int)k->status;
    if (len == 0 && k->error_string.c && k->status != GRPC_STATUS_OK) {
        lr_strlcpy(st->message, k->error_string.c, sizeof(st->message));
        return;
    }
    if (len >= sizeof(st->message)) {
        len = sizeof(st->message) - 1;
    }
    memcpy(st->message, GRPC_SLICE_START_PTR(k->details), len);
    st->message[len] = '\0';
}

/* Flattens the received message into one malloc'd buffer. */
static int cli_recv_bytes(grpc_byte_buffer *bb, uint8_t **buf, size_t *len)
{
    grpc_byte_buffer_reader r;
    grpc_slice all;
    size_t n;
    uint8_t *p;

    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        return LR_CORRUPT;
    }
    all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    n = GRPC_SLICE_LENGTH(all);
    p = malloc(n ? n : 1);
    if (!p) {
        grpc_slice_unref(all);
        return LR_NOMEM;
    }
    memcpy(p, GRPC_SLICE_START_PTR(all), n);
    grpc_slice_unref(all);
    *buf = p;
    *len = n;
    return LR_OK;
}

int cli_call_raw(struct cli_client *c, const char *method, const uint8_t *req,
                 size_t req_len, int64_t timeout_ms, const struct cli_md *md,
                 size_t n_md, struct cli_status *st, uint8_t **resp_buf,
                 size_t *resp_len)
{
    struct cli_call k;
    void *handle = NULL;
    int rc;

    memset(&k, 0, sizeof(k));
    grpc_metadata_array_init(&k.recv_md);
    grpc_metadata_array_init(&k.trailers);
    k.details = grpc_empty_slice();
    rc = cli_method_handle(c, method, &handle);
    if (rc) {
        goto out;
    }
    rc = cli_call_prepare(&k, req, req_len, md, n_md);
    if (rc) {
        goto out;
    }
    k.call = grpc_channel_create_registered_call(
        c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, handle,
        cli_deadline(timeout_ms), NULL);
    if (!k.call) {
        rc = LR_GRPC;
        goto out;
    }
    rc = cli_call_run(c, &k);
    if (rc) {
        goto out;
    }
    if (k.status != GRPC_STATUS_OK) {
        rc = LR_GRPC;
        goto out;
    }
    rc = k.recv ? cli_recv_bytes(k.recv, resp_buf, resp_len) : LR_CORRUPT;
out:
    /* a status from the wire wins; a local failure gets a client message */
    if (k.done && (rc == LR_OK || k.status != GRPC_STATUS_OK)) {
        cli_call_status(&k, st);
    } else {
        snprintf(st->message, sizeof(st->message), "client: %s",
                 k.done && !k.recv ? "no response message" : lr_strerror(rc));
        st->code = GRPC_STATUS_INTERNAL;
    }
    cli_call_release(&k);
    return rc;
}

/*
 * agent_call.c - one unary call on the gRPC core API, from arrival to close.
 *
 * A call object is posted to gRPC as the tag of a requested call. When a
 * client arrives, agent_call_arrived() runs the cheap refusals first (too
 * many calls in flight, deadline already passed, no message), copies the
 * request into the call's arena and hands it to the method's handler. The
 * handler finishes the call once, from any thread, with one batch
 * (SEND_INITIAL_METADATA, SEND_MESSAGE unless it failed,
 * SEND_STATUS_FROM_SERVER, RECV_CLOSE_ON_SERVER); when that batch completes
 * on the worker, agent_call_closed() releases every per-request allocation
 * in one place and recycles the object.
 */
#include "agent/agent_grpc.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_POOL_MAX 64 /* recycled call objects kept per worker */

static void agent_call_init(struct agent_call *c, struct agent_worker *w)
{
    memset(c, 0, offsetof(struct agent_call, arena));
    c->w = w;
    c->method = -1;
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
    atomic_init(&c->finished, false);
    atomic_init(&c->state, AGENT_CALL_POSTED);
    agent_arena_init(&c->arena, w->srv->arena_limit);
    agent_arena_pb_allocator(&c->arena, &c->pb_alloc);
}

struct agent_call *agent_call_get(struct agent_worker *w, bool pooled)
{
    struct agent_call *c = pooled ? w->pool : NULL;

    if (c != NULL) {
        w->pool = c->next;
        w->n_pool--;
    } else {
        c = malloc(sizeof(*c));
        if (c == NULL)
            return NULL;
    }
    atomic_fetch_add(&w->srv->live_calls, 1);
    agent_call_init(c, w);
    return c;
}

void agent_call_put(struct agent_call *c, bool pooled)
{
    struct agent_worker *w = c->w;

    if (c->payload != NULL)
        grpc_byte_buffer_destroy(c->payload);
    if (c->resp != NULL)
        grpc_byte_buffer_destroy(c->resp);
    if (c->has_status_msg)
        grpc_slice_unref(c->status_msg);
    grpc_metadata_array_destroy(&c->md);
    grpc_call_details_destroy(&c->details);
    if (c->call != NULL)
        grpc_call_unref(c->call);
    agent_arena_reset(&c->arena);
    atomic_fetch_sub(&w->srv->live_calls, 1);
    if (pooled && w->n_pool < AGENT_POOL_MAX) {
        c->next = w->pool;
        w->pool = c;
        w->n_pool++;
    } else {
        free(c);
    }
}

void agent_call_pool_free(struct agent_worker *w)
{
    while (w->pool != NULL) {
        struct agent_call *c = w->pool;
        w->pool = c->next;
        free(c);
    }
    w->n_pool = 0;
}

/* ---- finishing ---------------------------------------------------------- */

static void agent_call_finish(struct agent_call *c, enum agent_status status,
                              const char *msg)
{
    grpc_call *gc = c->call; /* c is not ours once the batch starts */
    grpc_op ops[4];
    size_t n = 0;
    grpc_call_error err;

    if (atomic_exchange(&c->finished, true)) {
        lr_log(LR_LOG_ERROR, "bug: call finished twice (status %d)",
               (int)status);
        return;
    }
    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (status == AGENT_ST_OK && c->resp != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp;
    }
    if (msg != NULL && msg[0] != '\0') {
        c->status_msg = grpc_slice_from_copied_string(msg);
        c->has_status_msg = true;
    }
    c->status = (int)status;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    ops[n++].data.send_status_from_server.status_details =
        c->has_status_msg ? &c->status_msg : NULL;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    /* release: the worker that handles the batch's completion sees every
     * write made here, on whichever thread (the queue orders it too, but
     * inside a library ThreadSanitizer cannot see) */
    atomic_store_explicit(&c->state, AGENT_CALL_CLOSING, memory_order_release);
    err = grpc_call_start_batch(gc, ops, n, c, NULL);
    if (err != GRPC_CALL_OK) {
        /* Our batch shape cannot be refused; if it ever is, no event will
         * come for this tag, so cancel the stream and say so loudly. */
        lr_log(LR_LOG_ERROR, "bug: grpc_call_start_batch refused (%d)",
               (int)err);
        grpc_call_cancel(gc, NULL);
    }
}

void agent_call_fail(struct agent_call *c, enum agent_status status,
                     const char *fmt, ...)
{
    char msg[AGENT_STATUS_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    if (status == AGENT_ST_OK)
        status = AGENT_ST_UNKNOWN; /* a failure is never OK */
    agent_call_finish(c, status, msg);
}

void agent_call_reply(struct agent_call *c, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s;

    if (n > c->w->srv->max_send) {
        lr_log(LR_LOG_ERROR, "response of %zu bytes over the send limit", n);
        agent_call_fail(c, AGENT_ST_INTERNAL, "response too large");
        return;
    }
    s = grpc_slice_malloc(n);
    if (protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s)) != n) {
        grpc_slice_unref(s);
        agent_call_fail(c, AGENT_ST_INTERNAL, "response encoding failed");
        return;
    }
    c->resp = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    agent_call_finish(c, AGENT_ST_OK, NULL);
}

/* ---- arrival ------------------------------------------------------------ */

static void agent_wipe_buffer(grpc_byte_buffer *bb)
{
    grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;

    for (size_t i = 0; i < sb->count; i++)
        lr_wipe(GRPC_SLICE_START_PTR(sb->slices[i]),
                GRPC_SLICE_LENGTH(sb->slices[i]));
}

/*
 * Copies the (decompressed) message into the arena. For methods whose
 * request may hold a secret, gRPC's own copies of the bytes (compressed and
 * not) are wiped once read: nothing reads a received message after us.
 */
static int agent_call_read(struct agent_call *c, bool secret)
{
    grpc_byte_buffer_reader rd;
    grpc_slice_buffer *sb;
    size_t off = 0;

    if (!grpc_byte_buffer_reader_init(&rd, c->payload))
        return LR_INVALID;
    sb = &rd.buffer_out->data.raw.slice_buffer;
    c->req_len = sb->length;
    c->req = agent_arena_alloc(&c->arena, c->req_len);
    if (c->req == NULL) {
        grpc_byte_buffer_reader_destroy(&rd);
        return LR_NOMEM;
    }
    for (size_t i = 0; i < sb->count && off < c->req_len; i++) {
        size_t n = GRPC_SLICE_LENGTH(sb->slices[i]);
        if (n > c->req_len - off)
            n = c->req_len - off;
        memcpy(c->req + off, GRPC_SLICE_START_PTR(sb->slices[i]), n);
        off += n;
    }
    c->req_len = off;
    if (secret) {
        agent_wipe_buffer(rd.buffer_out);
        if (rd.buffer_out != c->payload)
            agent_wipe_buffer(c->payload);
    }
    grpc_byte_buffer_reader_destroy(&rd);
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    return LR_OK;
}

static void agent_call_unknown(struct agent_call *c)
{
    char path[128];
    size_t n = GRPC_SLICE_LENGTH(c->details.method);
    const uint8_t *p = GRPC_SLICE_START_PTR(c->details.method);

    if (n >= sizeof(path))
        n = sizeof(path) - 1;
    for (size_t i = 0; i < n; i++)
        path[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    path[n] = '\0';
    agent_call_fail(c, AGENT_ST_UNIMPLEMENTED, "unknown method %s", path);
}

/*
 * gRPC enforces one receive limit per server, the larger one where admin
 * batches are served; a smaller method is held to its own limit here,
 * before a byte is copied or decoded. True when the call was refused.
 */
static bool agent_call_oversized(struct agent_call *c,
                                 const struct agent_method *m)
{
    size_t limit = m->bulk ? c->w->srv->max_bulk : c->w->srv->max_recv;
    size_t len = grpc_byte_buffer_length(c->payload);

    if (len <= limit)
        return false;
    agent_call_fail(c, AGENT_ST_RESOURCE_EXHAUSTED,
                    "request: %zu bytes, more than the %zu this method "
                    "accepts (agent.%smax_message_bytes)",
                    len, limit, m->bulk ? "admin_" : "");
    return true;
}

void agent_call_arrived(struct agent_call *c)
{
    struct agent_server *srv = c->w->srv;
    const struct agent_method *m;
    unsigned cap = atomic_load(&srv->max_inflight);
    unsigned now = atomic_fetch_add(&c->w->inflight, 1) + 1;
    int rc;

    if (srv->observe != NULL)
        c->arrived_ns = lr_mono_ns();

    atomic_store_explicit(&c->state, AGENT_CALL_ACTIVE, memory_order_relaxed);
    if (c->method < 0) {
        agent_call_unknown(c);
        return;
    }
    m = &srv->methods[c->method];
    if (cap != 0 && now > cap) {
        agent_call_fail(c, AGENT_ST_RESOURCE_EXHAUSTED,
                        "overloaded: %u calls in flight on this worker", cap);
        return;
    }
    if (agent_call_expired(c)) {
        agent_call_fail(c, AGENT_ST_DEADLINE_EXCEEDED,
                        "deadline passed before the call was handled");
        return;
    }
    if (m->handler == NULL) {
        agent_call_fail(c, AGENT_ST_UNIMPLEMENTED, "%s is not implemented",
                        m->path);
        return;
    }
    if (c->payload == NULL) {
        agent_call_fail(c, AGENT_ST_INVALID_ARGUMENT,
                        "request: no message received");
        return;
    }
    if (m->secret)
        c->arena.wipe = true;
    if (agent_call_oversized(c, m))
        return;
    rc = agent_call_read(c, m->secret);
    if (rc) {
        agent_call_fail(c, AGENT_ST_INVALID_ARGUMENT,
                        "request: message could not be read");
        return;
    }
    m->handler(c, srv->ctx);
}

void agent_call_closed(struct agent_call *c)
{
    struct agent_server *srv = c->w->srv;

    if (srv->observe != NULL)
        srv->observe(srv->ctx,
                     c->method >= 0 ? srv->methods[c->method].path : NULL,
                     c->status, lr_mono_ns() - c->arrived_ns);
    atomic_fetch_sub(&c->w->inflight, 1);
    agent_call_put(c, true);
}

enum agent_status agent_status_from_err(int err)
{
    switch (err) {
    case LR_OK:
        return AGENT_ST_OK;
    case LR_NOMEM:
    case LR_FULL:
    case LR_BUSY:
        return AGENT_ST_RESOURCE_EXHAUSTED;
    case LR_NOTFOUND:
        return AGENT_ST_NOT_FOUND;
    case LR_INVALID:
        return AGENT_ST_INVALID_ARGUMENT;
    case LR_DENIED:
        return AGENT_ST_PERMISSION_DENIED;
    case LR_UNAUTH:
        return AGENT_ST_UNAUTHENTICATED;
    case LR_TIMEOUT:
        return AGENT_ST_DEADLINE_EXCEEDED;
    case LR_SHUTDOWN:
        return AGENT_ST_UNAVAILABLE;
    default:
        return AGENT_ST_INTERNAL;
    }
}

/* ---- accessors for handlers --------------------------------------------- */

void agent_call_request(struct agent_call *c, const uint8_t **data, size_t *len)
{
    *data = c->req;
    *len = c->req_len;
}

void agent_call_wipe_request(struct agent_call *c)
{
    lr_wipe(c->req, c->req_len);
}

unsigned agent_call_services(const struct agent_call *c)
{
    return c->ep->services;
}

void agent_call_peer(const struct agent_call *c, char *buf, size_t cap)
{
    char *peer;

    if (cap == 0)
        return;
    buf[0] = '\0';
    if (c->call == NULL)
        return;
    peer = grpc_call_get_peer(c->call);
    if (peer != NULL) {
        lr_strlcpy(buf, peer, cap);
        gpr_free(peer);
    }
}

bool agent_call_expired(const struct agent_call *c)
{
    gpr_timespec now = gpr_now(c->deadline.clock_type);

    return gpr_time_cmp(c->deadline, now) <= 0;
}

void *agent_call_alloc(struct agent_call *c, size_t n)
{
    return agent_arena_alloc(&c->arena, n);
}

ProtobufCAllocator *agent_call_pb_allocator(struct agent_call *c)
{
    return &c->pb_alloc;
}

int agent_call_metadata(const struct agent_call *c, const char *key, char *buf,
                        size_t cap)
{
    size_t klen = strlen(key);

    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *md = &c->md.metadata[i];
        size_t vlen = GRPC_SLICE_LENGTH(md->value);
        if (GRPC_SLICE_LENGTH(md->key) != klen ||
            memcmp(GRPC_SLICE_START_PTR(md->key), key, klen) != 0)
            continue;
        if (vlen >= cap)
            return LR_FULL;
        memcpy(buf, GRPC_SLICE_START_PTR(md->value), vlen);
        buf[vlen] = '\0';
        return LR_OK;
    }
    return LR_NOTFOUND;
}

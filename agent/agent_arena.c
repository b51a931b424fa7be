/*
 * agent_arena.c - the per-call bump allocator.
 *
 * Every allocation a call makes (its request copy, the protobuf-c message
 * unpacked from it, the handler's own state) comes from the call's arena and
 * is released in one place when the call ends. The first 4 KiB live inside
 * the call object, which is recycled, so a typical Evaluate costs no malloc
 * here; larger requests add chunks up to a hard cap derived from the message
 * size limit. When a secret passed through (a password), reset wipes every
 * byte handed out before reuse.
 */
#include "agent/agent.h"

#include <stdlib.h>
#include <string.h>

#define AGENT_ARENA_ALIGN 16
#define AGENT_ARENA_CHUNK_MIN 8192

struct agent_arena_chunk {
    struct agent_arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void agent_arena_init(struct agent_arena *a, size_t limit)
{
    a->used = 0;
    a->total = 0;
    a->limit = limit;
    a->wipe = false;
    a->chunks = NULL;
}

static size_t agent_arena_round(size_t n)
{
    return (n + AGENT_ARENA_ALIGN - 1) & ~(size_t)(AGENT_ARENA_ALIGN - 1);
}

static void *agent_arena_from_chunk(struct agent_arena *a, size_t n)
{
    struct agent_arena_chunk *c = a->chunks;
    size_t cap;

    if (c != NULL && c->cap - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    cap = n > AGENT_ARENA_CHUNK_MIN ? n : AGENT_ARENA_CHUNK_MIN;
    c = malloc(sizeof(*c) + cap);
    if (c == NULL)
        return NULL;
    c->cap = cap;
    c->used = n;
    c->next = a->chunks;
    a->chunks = c;
    return c->data;
}

void *agent_arena_alloc(struct agent_arena *a, size_t n)
{
    void *p;

    if (n == 0)
        n = 1;
    if (n > a->limit)
        return NULL;
    n = agent_arena_round(n);
    if (a->total + n > a->limit)
        return NULL;
    if (sizeof(a->inline_buf) - a->used >= n) {
        p = a->inline_buf + a->used;
        a->used += n;
    } else {
        p = agent_arena_from_chunk(a, n);
        if (p == NULL)
            return NULL;
    }
    a->total += n;
    return p;
}

void agent_arena_reset(struct agent_arena *a)
{
    struct agent_arena_chunk *c = a->chunks;

    while (c != NULL) {
        struct agent_arena_chunk *next = c->next;
        if (a->wipe)
            lr_wipe(c->data, c->used);
        free(c);
        c = next;
    }
    if (a->wipe)
        lr_wipe(a->inline_buf, a->used);
    agent_arena_init(a, a->limit);
}

static void *agent_arena_pb_alloc(void *data, size_t size)
{
    return agent_arena_alloc(data, size);
}

static void agent_arena_pb_free(void *data, void *ptr)
{
    /* released with the whole arena when the call ends */
    (void)data;
    (void)ptr;
}

void agent_arena_pb_allocator(struct agent_arena *a, ProtobufCAllocator *out)
{
    out->alloc = agent_arena_pb_alloc;
    out->free = agent_arena_pb_free;
    out->allocator_data = a;
}

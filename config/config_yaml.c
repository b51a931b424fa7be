/*
 * config_yaml.c - the libyaml adapter: YAML text to a tree of cfg_nodes.
 *
 * The only file that includes <yaml.h>. It reads libyaml's event stream, not
 * its document API, so that it can refuse what a config has no use for and a
 * hostile file could abuse: aliases (the "billion laughs" expansion), tags,
 * several documents, nesting deeper than CFG_DEPTH_MAX and more than
 * CFG_NODES_MAX nodes. The tree keeps each node's line and whether a scalar
 * was plain (a plain 30 is a number, a quoted "30" is a string).
 */
#include "config/config_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct cfg_yaml_builder {
    struct cfg_node *stack[CFG_DEPTH_MAX];
    int depth;
    struct cfg_node *root;
    size_t n_nodes;
    int n_docs;
    struct cfg_yaml_error *err;
};

static int yb_fail(struct cfg_yaml_builder *b, int line, const char *fmt, ...)
    LR_PRINTF(3, 4);

static int yb_fail(struct cfg_yaml_builder *b, int line, const char *fmt, ...)
{
    va_list ap;

    b->err->line = line;
    va_start(ap, fmt);
    vsnprintf(b->err->msg, sizeof(b->err->msg), fmt, ap);
    va_end(ap);
    return LR_CONFIG;
}

static int yb_line(const yaml_mark_t *mark)
{
    if (mark->line >= (size_t)INT_MAX)
        return INT_MAX;
    return (int)mark->line + 1;
}

void cfg_node_free(struct cfg_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        cfg_node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

bool cfg_node_is_null(const struct cfg_node *n)
{
    if (n == NULL)
        return true;
    if (n->kind != CFG_NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 ||
           strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
           strcmp(n->str, "NULL") == 0;
}

const struct cfg_node *cfg_node_get(const struct cfg_node *map, const char *key)
{
    if (map == NULL || map->kind != CFG_NODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n_kids; i += 2) {
        const struct cfg_node *k = map->kids[i];

        if (k->kind == CFG_NODE_SCALAR && strcmp(k->str, key) == 0)
            return map->kids[i + 1];
    }
    return NULL;
}

/* Hangs @p n under the open container, or makes it the root. */
static int yb_attach(struct cfg_yaml_builder *b, struct cfg_node *n)
{
    struct cfg_node *parent;
    struct cfg_node **kids;
    size_t cap;

    if (b->depth == 0) {
        b->root = n;
        return LR_OK;
    }
    parent = b->stack[b->depth - 1];
    if (parent->n_kids == parent->cap_kids) {
        cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
        kids = realloc(parent->kids, cap * sizeof(*kids));
        if (kids == NULL)
            return LR_NOMEM;
        parent->kids = kids;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = n;
    return LR_OK;
}

static int yb_node(struct cfg_yaml_builder *b, enum cfg_node_kind kind,
                   const yaml_event_t *ev, struct cfg_node **out)
{
    struct cfg_node *n;
    int rc;

    if (++b->n_nodes > CFG_NODES_MAX)
        return yb_fail(b, yb_line(&ev->start_mark),
                       "more than %d values in one file", CFG_NODES_MAX);
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return LR_NOMEM;
    n->kind = kind;
    n->line = yb_line(&ev->start_mark);
    if (kind == CFG_NODE_SCALAR) {
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->str = malloc(n->len + 1);
        if (n->str == NULL) {
            free(n);
            return LR_NOMEM;
        }
        memcpy(n->str, ev->data.scalar.value, n->len);
        n->str[n->len] = '\0';
    }
    rc = yb_attach(b, n);
    if (rc) {
        cfg_node_free(n);
        return rc;
    }
    *out = n;
    return LR_OK;
}

static int yb_open(struct cfg_yaml_builder *b, enum cfg_node_kind kind,
                   const yaml_event_t *ev)
{
    struct cfg_node *n = NULL;
    int rc;

    if (b->depth >= CFG_DEPTH_MAX)
        return yb_fail(b, yb_line(&ev->start_mark),
                       "nested deeper than %d levels", CFG_DEPTH_MAX);
    rc = yb_node(b, kind, ev, &n);
    if (rc)
        return rc;
    b->stack[b->depth++] = n;
    return LR_OK;
}

static int yb_tag(struct cfg_yaml_builder *b, const yaml_event_t *ev,
                  const yaml_char_t *tag)
{
    if (tag == NULL)
        return LR_OK;
    return yb_fail(b, yb_line(&ev->start_mark),
                   "YAML tags (%.64s) are not supported", (const char *)tag);
}

static int yb_event(struct cfg_yaml_builder *b, const yaml_event_t *ev)
{
    struct cfg_node *n = NULL;
    int rc;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->n_docs > 1)
            return yb_fail(b, yb_line(&ev->start_mark),
                           "a second YAML document; a config file holds one");
        return LR_OK;
    case YAML_ALIAS_EVENT:
        return yb_fail(b, yb_line(&ev->start_mark),
                       "YAML aliases (*%.64s) are not supported; write the "
                       "value out",
                       (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        rc = yb_tag(b, ev, ev->data.scalar.tag);
        if (rc)
            return rc;
        return yb_node(b, CFG_NODE_SCALAR, ev, &n);
    case YAML_SEQUENCE_START_EVENT:
        rc = yb_tag(b, ev, ev->data.sequence_start.tag);
        if (rc)
            return rc;
        return yb_open(b, CFG_NODE_SEQ, ev);
    case YAML_MAPPING_START_EVENT:
        rc = yb_tag(b, ev, ev->data.mapping_start.tag);
        if (rc)
            return rc;
        return yb_open(b, CFG_NODE_MAP, ev);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return LR_OK;
    default:
        return LR_OK;
    }
}

/* Line of byte @p off of @p text, for reader errors that carry no mark. */
static int yb_offset_line(const char *text, size_t len, size_t off)
{
    int line = 1;

    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n' && line < INT_MAX)
            line++;
    }
    return line;
}

static int yb_syntax(struct cfg_yaml_builder *b, const yaml_parser_t *p,
                     const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    int line;

    if (p->error == YAML_MEMORY_ERROR)
        return LR_NOMEM;
    if (p->error == YAML_READER_ERROR)
        return yb_fail(b, yb_offset_line(text, len, p->problem_offset),
                       "YAML syntax error: %s", problem);
    line = yb_line(&p->problem_mark);
    if (p->problem_mark.index < len && text[p->problem_mark.index] == '\t')
        return yb_fail(b, line,
                       "YAML syntax error: %s (a tab; indent with "
                       "spaces)",
                       problem);
    /* at the end of the text, the line that opened what is unfinished (a
     * bracket, a quote) is the one to fix */
    if (p->context && p->problem_mark.index >= len)
        return yb_fail(b, yb_line(&p->context_mark),
                       "YAML syntax error: %s%s (%s at line %d)", problem,
                       strstr(problem, "end of stream") ? ""
                                                        : " at the end of "
                                                          "the file",
                       p->context, yb_line(&p->context_mark));
    if (p->context && p->context_mark.line != p->problem_mark.line)
        return yb_fail(b, line, "YAML syntax error: %s (%s at line %d)",
                       problem, p->context, yb_line(&p->context_mark));
    return yb_fail(b, line, "YAML syntax error: %s", problem);
}

int cfg_yaml_load(const char *text, size_t len, struct cfg_node **out,
                  struct cfg_yaml_error *err)
{
    struct cfg_yaml_builder b = {.err = err};
    yaml_parser_t parser;
    yaml_event_t ev;
    bool done = false;
    int rc = LR_OK;

    err->line = 0;
    err->msg[0] = '\0';
    if (!yaml_parser_initialize(&parser))
        return LR_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = yb_syntax(&b, &parser, text, len);
            goto out;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = yb_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc)
            goto out;
    }
    *out = b.root;
    b.root = NULL;
out:
    cfg_node_free(b.root);
    yaml_parser_delete(&parser);
    return rc;
}

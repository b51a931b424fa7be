/*
 * config_walk.c - interprets the schema tables of config_schema.c: sets
 * defaults, stores a node tree into struct cfg, validates, frees.
 *
 * Parsing stores a value only when its type is right (and, for numbers, when
 * it fits the range, since an out-of-range number may not fit its C type);
 * a wrong value keeps the default and is remembered as failed, so the
 * validation pass that follows does not report it a second time. Validation
 * looks at the struct, not the tree, which is why cfg_validate can run it
 * again after command-line overrides.
 */
#include "config/config_int.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *cfg_at(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cfg_cat(const void *base, size_t off)
{
    return (const char *)base + off;
}

/*
 * Key paths are for messages only: a path longer than the buffer is cut, and
 * the return values are checked so the compiler knows that is intended.
 */
static void cfg_child(char *buf, size_t cap, const char *path, const char *key)
{
    int n;

    if (path[0] == '\0')
        n = snprintf(buf, cap, "%s", key);
    else
        n = snprintf(buf, cap, "%s.%s", path, key);
    if (n < 0)
        buf[0] = '\0';
}

static void cfg_item(char *buf, size_t cap, const char *path, size_t i)
{
    if (snprintf(buf, cap, "%s[%zu]", path, i) < 0)
        buf[0] = '\0';
}

/* Marks the value at @p addr as failed: validation leaves it alone. */
static void cfg_failed(struct cfg_ctx *ctx, const void *addr, int line)
{
    cfg_where_add(ctx, addr, line > 0 ? -line : -1);
}

static void cfg_type_error(struct cfg_ctx *ctx, int line, const char *path,
                           const char *want, const struct cfg_node *n)
{
    if (cfg_node_is_null(n))
        cfg_err(ctx, line, path, "missing value; expected %s", want);
    else if (n->kind == CFG_NODE_SEQ)
        cfg_err(ctx, line, path, "expected %s, got a list", want);
    else if (n->kind == CFG_NODE_MAP)
        cfg_err(ctx, line, path, "expected %s, got a mapping", want);
    else if (!n->plain)
        cfg_err(ctx, line, path, "expected %s, got the quoted string \"%.40s\"",
                want, n->str);
    else
        cfg_err(ctx, line, path, "expected %s, got \"%.40s\"", want, n->str);
}

/* ---- scalars ---- */

static bool cfg_scan_int(const struct cfg_node *n, double *out, bool *huge)
{
    const char *s = n->str;
    uint64_t v = 0;
    bool neg = false;

    *huge = false;
    if (n->kind != CFG_NODE_SCALAR || !n->plain)
        return false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (!isdigit((unsigned char)*s))
            return false;
        if (v > (UINT64_MAX - d) / 10)
            *huge = true;
        else
            v = v * 10 + d;
    }
    *out = neg ? -(double)v : (double)v;
    return true;
}

static bool cfg_scan_double(const struct cfg_node *n, double *out)
{
    char *end;
    double v;

    if (n->kind != CFG_NODE_SCALAR || !n->plain || n->len == 0)
        return false;
    /* strtod also takes hex, "inf" and "nan": none of them belong here */
    if (strspn(n->str, "0123456789+-.eE") != n->len)
        return false;
    v = strtod(n->str, &end);
    if (*end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* 1 or 0 for a plain true/false in the usual capitalisations, else -1. */
static int cfg_scan_bool(const struct cfg_node *n)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};

    if (n->kind != CFG_NODE_SCALAR || !n->plain)
        return -1;
    for (size_t i = 0; i < LR_ARRAY_LEN(yes); i++) {
        if (strcmp(n->str, yes[i]) == 0)
            return 1;
        if (strcmp(n->str, no[i]) == 0)
            return 0;
    }
    return -1;
}

static bool cfg_in_range(const struct cfg_field *f, double v)
{
    if (f->flags & CFG_F_POSITIVE) {
        if (!(v > f->min))
            return false;
    } else if (v < f->min) {
        return false;
    }
    return v <= f->max;
}

static void cfg_range_error(struct cfg_ctx *ctx, int line, const char *path,
                            const struct cfg_field *f, const char *value)
{
    if (f->flags & CFG_F_POSITIVE)
        cfg_err(ctx, line, path,
                "%.40s is out of range: must be above %g and at most %g", value,
                f->min, f->max);
    else if (f->type == CFG_T_DOUBLE)
        cfg_err(ctx, line, path, "%.40s is out of range %g..%g", value, f->min,
                f->max);
    else
        cfg_err(ctx, line, path, "%.40s is out of range %.0f..%.0f", value,
                f->min, f->max);
}

static double cfg_load_number(const struct cfg_field *f, const void *addr)
{
    switch (f->type) {
    case CFG_T_INT:
        return *(const int *)addr;
    case CFG_T_U32:
        return *(const uint32_t *)addr;
    case CFG_T_U64:
        return (double)*(const uint64_t *)addr;
    default:
        return *(const double *)addr;
    }
}

static void cfg_store_number(const struct cfg_field *f, void *addr, double v)
{
    switch (f->type) {
    case CFG_T_INT:
        *(int *)addr = (int)v;
        break;
    case CFG_T_U32:
        *(uint32_t *)addr = (uint32_t)v;
        break;
    case CFG_T_U64:
        *(uint64_t *)addr = (uint64_t)v;
        break;
    default:
        *(double *)addr = v;
        break;
    }
}

/* Text of a scalar is short enough and clean UTF-8 without NUL bytes. */
static bool cfg_text_ok(struct cfg_ctx *ctx, const struct cfg_node *n,
                        const char *path)
{
    if (n->len > CFG_SCALAR_MAX) {
        cfg_err(ctx, n->line, path, "value is longer than %d bytes",
                CFG_SCALAR_MAX);
        return false;
    }
    if (!lr_utf8_valid(n->str, n->len)) {
        cfg_err(ctx, n->line, path, "value is not valid UTF-8 or holds a NUL");
        return false;
    }
    return true;
}

static void cfg_free_str(const struct cfg_field *f, char **slot)
{
    if (*slot && (f->flags & CFG_F_SECRET))
        lr_wipe(*slot, strlen(*slot));
    free(*slot);
    *slot = NULL;
}

/* ---- parsing, one function per type ---- */

static void cfg_parse_section(struct cfg_ctx *ctx,
                              const struct cfg_section *sec,
                              const struct cfg_node *map, void *base,
                              const char *path, int line);

static void cfg_parse_number(struct cfg_ctx *ctx, const struct cfg_field *f,
                             const struct cfg_node *n, void *addr,
                             const char *path, int line)
{
    bool dbl = f->type == CFG_T_DOUBLE, huge = false, ok;
    double v = 0;

    ok = dbl ? cfg_scan_double(n, &v) : cfg_scan_int(n, &v, &huge);
    if (!ok) {
        cfg_type_error(ctx, line, path, dbl ? "a number" : "an integer", n);
        cfg_failed(ctx, addr, line);
    } else if (huge || !cfg_in_range(f, v)) {
        cfg_range_error(ctx, line, path, f, n->str);
        cfg_failed(ctx, addr, line);
    } else {
        cfg_store_number(f, addr, v);
        cfg_where_add(ctx, addr, line);
    }
}

static void cfg_parse_bool(struct cfg_ctx *ctx, const struct cfg_field *f,
                           const struct cfg_node *n, void *addr,
                           const char *path, int line)
{
    int b = cfg_scan_bool(n);

    if (b < 0) {
        cfg_type_error(ctx, line, path, "true or false", n);
        cfg_failed(ctx, addr, line);
        return;
    }
    if (f->type == CFG_T_BIT && b)
        *(unsigned *)addr |= f->aux_bit;
    else if (f->type == CFG_T_BIT)
        *(unsigned *)addr &= ~f->aux_bit;
    else
        *(bool *)addr = b;
    cfg_where_add(ctx, addr, line);
}

static void cfg_parse_str(struct cfg_ctx *ctx, const struct cfg_field *f,
                          const struct cfg_node *n, void *addr,
                          const char *path, int line)
{
    char **slot = addr;
    char *copy;

    if (cfg_node_is_null(n) || (n->kind == CFG_NODE_SCALAR && n->len == 0)) {
        if (f->flags & (CFG_F_REQUIRED | CFG_F_NOTNULL)) {
            cfg_err(ctx, line, path, "missing value");
            cfg_failed(ctx, addr, line);
            return;
        }
        cfg_free_str(f, slot);
        cfg_where_add(ctx, addr, line);
        return;
    }
    if (n->kind != CFG_NODE_SCALAR) {
        cfg_type_error(ctx, line, path, "a string", n);
        cfg_failed(ctx, addr, line);
        return;
    }
    if (!cfg_text_ok(ctx, n, path)) {
        cfg_failed(ctx, addr, line);
        return;
    }
    copy = cfg_strdup(ctx, n->str);
    if (copy == NULL)
        return;
    cfg_free_str(f, slot);
    *slot = copy;
    cfg_where_add(ctx, addr, line);
}

static void cfg_enum_names(const struct cfg_enum *e, char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < e->n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                                 e->items[i].name);
}

/* Looks a name up in @p e; reports and returns false if it is not there. */
static bool cfg_enum_lookup(struct cfg_ctx *ctx, const struct cfg_enum *e,
                            const struct cfg_node *n, const char *path,
                            int line, int *out)
{
    char names[CFG_WHY_MAX];

    if (n->kind != CFG_NODE_SCALAR || cfg_node_is_null(n)) {
        cfg_type_error(ctx, line, path, "a name", n);
        return false;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(n->str, e->items[i].name) == 0) {
            *out = e->items[i].value;
            return true;
        }
    }
    cfg_enum_names(e, names, sizeof(names));
    cfg_err(ctx, line, path, "unknown value \"%.40s\"; expected one of %s",
            n->str, names);
    return false;
}

static void cfg_parse_enum(struct cfg_ctx *ctx, const struct cfg_field *f,
                           const struct cfg_node *n, void *addr,
                           const char *path, int line)
{
    int v;

    if (!cfg_enum_lookup(ctx, f->aux, n, path, line, &v)) {
        cfg_failed(ctx, addr, line);
        return;
    }
    *(int *)addr = v;
    cfg_where_add(ctx, addr, line);
}

/* A list node's items, or NULL (and an error) if @p n is not a list. */
static bool cfg_list_node(struct cfg_ctx *ctx, const struct cfg_field *f,
                          const struct cfg_node *n, const void *addr,
                          const char *path, int line)
{
    if (n->kind != CFG_NODE_SEQ) {
        cfg_type_error(ctx, line, path, "a list", n);
        cfg_failed(ctx, addr, line);
        return false;
    }
    if ((double)n->n_kids > f->max) {
        cfg_err(ctx, line, path, "%zu items; at most %.0f are allowed",
                n->n_kids, f->max);
        cfg_failed(ctx, addr, line);
        return false;
    }
    return true;
}

static void cfg_free_strlist(char ***slot, size_t *n)
{
    for (size_t i = 0; *slot && i < *n; i++)
        free((*slot)[i]);
    free(*slot);
    *slot = NULL;
    *n = 0;
}

static void cfg_parse_strlist(struct cfg_ctx *ctx, const struct cfg_field *f,
                              const struct cfg_node *n, void *base,
                              const char *path, int line)
{
    char ***slot = cfg_at(base, f->off);
    size_t *n_slot = cfg_at(base, f->n_off), n_ok = 0;
    char ipath[CFG_PATH_MAX];
    bool bad = false;
    char **arr;

    if (!cfg_node_is_null(n) && !cfg_list_node(ctx, f, n, slot, path, line))
        return;
    arr = calloc(n->n_kids ? n->n_kids : 1, sizeof(*arr));
    if (arr == NULL) {
        ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i < n->n_kids && !ctx->nomem; i++) {
        const struct cfg_node *it = n->kids[i];

        cfg_item(ipath, sizeof(ipath), path, i);
        if (it->kind != CFG_NODE_SCALAR || cfg_node_is_null(it)) {
            cfg_type_error(ctx, it->line, ipath, "a string", it);
            bad = true;
            continue;
        }
        if (!cfg_text_ok(ctx, it, ipath)) {
            bad = true;
            continue;
        }
        arr[n_ok] = cfg_strdup(ctx, it->str);
        if (arr[n_ok] == NULL)
            break;
        for (char *c = arr[n_ok]; f->check == CFG_CHK_COUNTRY && *c; c++)
            *c = (char)toupper((unsigned char)*c);
        cfg_where_add(ctx, &arr[n_ok], it->line);
        n_ok++;
    }
    cfg_free_strlist(slot, n_slot);
    *slot = arr;
    *n_slot = n_ok;
    cfg_where_add(ctx, slot, bad ? -line : line);
}

/* An AS number (1..4294967295) or a signal code, for one list item. */
static bool cfg_parse_item(struct cfg_ctx *ctx, const struct cfg_field *f,
                           const struct cfg_node *it, const char *ipath,
                           uint32_t *out)
{
    const char *codes[LR_SIG_COUNT];
    enum lr_signal s;
    const char *hint;
    double v;
    bool huge;

    if (f->type == CFG_T_ASNLIST) {
        if (!cfg_scan_int(it, &v, &huge)) {
            cfg_type_error(ctx, it->line, ipath, "an AS number", it);
            return false;
        }
        if (huge || v < 1 || v > 4294967295.0) {
            cfg_err(ctx, it->line, ipath,
                    "AS number %.40s is out of range 1..4294967295", it->str);
            return false;
        }
        *out = (uint32_t)v;
        return true;
    }
    if (it->kind != CFG_NODE_SCALAR || cfg_node_is_null(it)) {
        cfg_type_error(ctx, it->line, ipath, "a signal code", it);
        return false;
    }
    if (lr_signal_parse(it->str, &s) == LR_OK) {
        *out = (uint32_t)s;
        return true;
    }
    for (int i = 0; i < LR_SIG_COUNT; i++)
        codes[i] = lr_signal_code((enum lr_signal)i);
    hint = cfg_suggest(it->str, codes, LR_SIG_COUNT);
    cfg_err(ctx, it->line, ipath, "unknown signal \"%.40s\"%s%s%s", it->str,
            hint ? "; did you mean \"" : "", hint ? hint : "",
            hint ? "\"?" : "");
    return false;
}

/* Lists of AS numbers (uint32_t) and of signals (enum lr_signal). */
static void cfg_parse_numlist(struct cfg_ctx *ctx, const struct cfg_field *f,
                              const struct cfg_node *n, void *base,
                              const char *path, int line)
{
    void **slot = cfg_at(base, f->off);
    size_t *n_slot = cfg_at(base, f->n_off), n_ok = 0;
    bool sig = f->type == CFG_T_SIGLIST;
    size_t size = sig ? sizeof(enum lr_signal) : sizeof(uint32_t);
    char ipath[CFG_PATH_MAX];
    bool bad = false;
    char *arr;

    if (!cfg_node_is_null(n) && !cfg_list_node(ctx, f, n, slot, path, line))
        return;
    arr = calloc(n->n_kids ? n->n_kids : 1, size);
    if (arr == NULL) {
        ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        uint32_t v;

        cfg_item(ipath, sizeof(ipath), path, i);
        if (!cfg_parse_item(ctx, f, n->kids[i], ipath, &v)) {
            bad = true;
            continue;
        }
        if (sig)
            ((enum lr_signal *)(void *)arr)[n_ok++] = (enum lr_signal)v;
        else
            ((uint32_t *)(void *)arr)[n_ok++] = v;
    }
    free(*slot);
    *slot = arr;
    *n_slot = n_ok;
    cfg_where_add(ctx, slot, bad ? -line : line);
}

static const struct cfg_enum_item cfg_service_items[] = {
    {"risk", CFG_SVC_RISK},
    {"admin", CFG_SVC_ADMIN},
    {"health", CFG_SVC_HEALTH},
};
static const struct cfg_enum cfg_services = {cfg_service_items,
                                             LR_ARRAY_LEN(cfg_service_items)};

static void cfg_parse_services(struct cfg_ctx *ctx, const struct cfg_node *n,
                               void *addr, const char *path, int line)
{
    char ipath[CFG_PATH_MAX];
    unsigned bits = 0;

    if (!cfg_node_is_null(n) && n->kind != CFG_NODE_SEQ) {
        cfg_type_error(ctx, line, path, "a list of services", n);
        cfg_failed(ctx, addr, line);
        return;
    }
    for (size_t i = 0; n->kind == CFG_NODE_SEQ && i < n->n_kids; i++) {
        int bit = 0;

        cfg_item(ipath, sizeof(ipath), path, i);
        if (cfg_enum_lookup(ctx, &cfg_services, n->kids[i], ipath,
                            n->kids[i]->line, &bit))
            bits |= (unsigned)bit;
    }
    *(unsigned *)addr = bits;
    cfg_where_add(ctx, addr, line);
}

static void cfg_parse_windows(struct cfg_ctx *ctx, const struct cfg_field *f,
                              const struct cfg_node *n, void *addr,
                              const char *path, int line)
{
    struct cfg_velocity *v = addr;
    uint32_t w[CFG_WINDOWS_MAX];
    char ipath[CFG_PATH_MAX];
    bool ok = true;

    if (n->kind != CFG_NODE_SEQ || n->n_kids < 1 ||
        n->n_kids > CFG_WINDOWS_MAX) {
        if (n->kind == CFG_NODE_SEQ)
            cfg_err(ctx, line, path, "give 1 to %d windows, not %zu",
                    CFG_WINDOWS_MAX, n->n_kids);
        else
            cfg_type_error(ctx, line, path, "a list of seconds", n);
        cfg_failed(ctx, v->windows_s, line);
        return;
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        const struct cfg_node *it = n->kids[i];
        double d;
        bool huge;

        cfg_item(ipath, sizeof(ipath), path, i);
        if (!cfg_scan_int(it, &d, &huge)) {
            cfg_type_error(ctx, it->line, ipath, "an integer", it);
            ok = false;
        } else if (huge || !cfg_in_range(f, d)) {
            cfg_range_error(ctx, it->line, ipath, f, it->str);
            ok = false;
        } else {
            w[i] = (uint32_t)d;
        }
    }
    if (!ok) {
        cfg_failed(ctx, v->windows_s, line);
        return;
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        v->windows_s[i] = w[i];
        cfg_where_add(ctx, &v->windows_s[i], n->kids[i]->line);
    }
    v->n_windows = (int)n->n_kids;
}

static void cfg_parse_signals(struct cfg_ctx *ctx, const struct cfg_node *n,
                              struct cfg_signal *sigs, const char *path,
                              int line)
{
    int seen[LR_SIG_COUNT] = {0};
    char cpath[CFG_PATH_MAX];
    enum lr_signal s;

    if (cfg_node_is_null(n))
        return;
    if (n->kind != CFG_NODE_MAP) {
        cfg_type_error(ctx, line, path, "a mapping of signal codes", n);
        return;
    }
    for (size_t i = 0; i + 1 < n->n_kids; i += 2) {
        const struct cfg_node *k = n->kids[i];
        const struct cfg_field key = {.type = CFG_T_SIGLIST};
        uint32_t v;

        if (!cfg_parse_item(ctx, &key, k, path, &v))
            continue;
        s = (enum lr_signal)v;
        if (seen[s]) {
            cfg_err(ctx, k->line, path,
                    "duplicate key \"%s\" (first at line %d)", k->str, seen[s]);
            continue;
        }
        seen[s] = k->line;
        cfg_child(cpath, sizeof(cpath), path, k->str);
        cfg_parse_section(ctx, &cfg_schema_signal, n->kids[i + 1], &sigs[s],
                          cpath, k->line);
    }
}

static int cfg_defaults_section(const struct cfg_section *sec, void *base);
static void cfg_free_section(const struct cfg_section *sec, void *base);

static void cfg_free_list(const struct cfg_field *f, void *base)
{
    const struct cfg_list *l = f->aux;
    void **slot = cfg_at(base, f->off);
    size_t *n = cfg_at(base, f->n_off);

    for (size_t i = 0; *slot && i < *n; i++)
        cfg_free_section(l->elem, (char *)*slot + i * l->elem_size);
    free(*slot);
    *slot = NULL;
    *n = 0;
}

/* One element of a list of structs; false if it was not a mapping. */
static bool cfg_parse_elem(struct cfg_ctx *ctx, const struct cfg_list *l,
                           const struct cfg_node *it, void *elem,
                           const char *ipath)
{
    if (it->kind != CFG_NODE_MAP) {
        cfg_type_error(ctx, it->line, ipath, "a mapping", it);
        return false;
    }
    if (cfg_defaults_section(l->elem, elem)) {
        ctx->nomem = true;
        return true; /* keep it so that it is freed */
    }
    *(int *)cfg_at(elem, l->line_off) = it->line;
    cfg_parse_section(ctx, l->elem, it, elem, ipath, it->line);
    if (l->post_parse)
        l->post_parse(elem, it);
    return true;
}

static void cfg_parse_list(struct cfg_ctx *ctx, const struct cfg_field *f,
                           const struct cfg_node *n, void *base,
                           const char *path, int line)
{
    const struct cfg_list *l = f->aux;
    void **slot = cfg_at(base, f->off);
    size_t n_ok = 0;
    char ipath[CFG_PATH_MAX];
    bool skipped = false;
    char *arr;

    if (!cfg_node_is_null(n) && !cfg_list_node(ctx, f, n, slot, path, line))
        return;
    arr = calloc(n->n_kids ? n->n_kids : 1, l->elem_size);
    if (arr == NULL) {
        ctx->nomem = true;
        return;
    }
    for (size_t i = 0; i < n->n_kids && !ctx->nomem; i++) {
        cfg_item(ipath, sizeof(ipath), path, i);
        if (cfg_parse_elem(ctx, l, n->kids[i], arr + n_ok * l->elem_size,
                           ipath))
            n_ok++;
        else
            skipped = true;
    }
    cfg_free_list(f, base);
    *slot = arr;
    *(size_t *)cfg_at(base, f->n_off) = n_ok;
    cfg_where_add(ctx, slot, skipped ? -line : line);
}

static void cfg_parse_field(struct cfg_ctx *ctx, const struct cfg_field *f,
                            const struct cfg_node *n, void *base,
                            const char *path, int line)
{
    void *addr = cfg_at(base, f->off);

    switch (f->type) {
    case CFG_T_SECTION:
        cfg_parse_section(ctx, f->aux, n, base, path, line);
        break;
    case CFG_T_INT:
    case CFG_T_U32:
    case CFG_T_U64:
    case CFG_T_DOUBLE:
        cfg_parse_number(ctx, f, n, addr, path, line);
        break;
    case CFG_T_BOOL:
    case CFG_T_BIT:
        cfg_parse_bool(ctx, f, n, addr, path, line);
        break;
    case CFG_T_STR:
        cfg_parse_str(ctx, f, n, addr, path, line);
        break;
    case CFG_T_ENUM:
        cfg_parse_enum(ctx, f, n, addr, path, line);
        break;
    case CFG_T_STRLIST:
        cfg_parse_strlist(ctx, f, n, base, path, line);
        break;
    case CFG_T_ASNLIST:
    case CFG_T_SIGLIST:
        cfg_parse_numlist(ctx, f, n, base, path, line);
        break;
    case CFG_T_SERVICES:
        cfg_parse_services(ctx, n, addr, path, line);
        break;
    case CFG_T_WINDOWS:
        cfg_parse_windows(ctx, f, n, addr, path, line);
        break;
    case CFG_T_SIGNALS:
        cfg_parse_signals(ctx, n, addr, path, line);
        break;
    case CFG_T_LIST:
        cfg_parse_list(ctx, f, n, base, path, line);
        break;
    }
}

static void cfg_unknown_key(struct cfg_ctx *ctx, const struct cfg_section *sec,
                            const struct cfg_node *k, const char *path)
{
    const char *names[CFG_SECTION_FIELDS];
    const char *hint;
    size_t n = 0;

    for (; n < sec->n_fields && n < CFG_SECTION_FIELDS; n++)
        names[n] = sec->fields[n].key;
    hint = cfg_suggest(k->str, names, n);
    cfg_err(ctx, k->line, NULL, "unknown %s \"%.64s\"%s%s%s%s%s",
            path[0] ? "key" : "section", k->str, path[0] ? " in " : "", path,
            hint ? "; did you mean \"" : "", hint ? hint : "",
            hint ? "\"?" : "");
}

static void cfg_parse_section(struct cfg_ctx *ctx,
                              const struct cfg_section *sec,
                              const struct cfg_node *map, void *base,
                              const char *path, int line)
{
    int seen[CFG_SECTION_FIELDS] = {0};
    char cpath[CFG_PATH_MAX];

    if (cfg_node_is_null(map))
        return;
    if (map->kind != CFG_NODE_MAP) {
        cfg_type_error(ctx, line, path[0] ? path : "top level", "a mapping",
                       map);
        return;
    }
    for (size_t i = 0; i + 1 < map->n_kids; i += 2) {
        const struct cfg_node *k = map->kids[i];
        size_t idx = 0;

        if (k->kind != CFG_NODE_SCALAR) {
            cfg_err(ctx, k->line, path, "keys must be plain names");
            continue;
        }
        while (idx < sec->n_fields && strcmp(sec->fields[idx].key, k->str))
            idx++;
        if (idx == sec->n_fields) {
            cfg_unknown_key(ctx, sec, k, path);
            continue;
        }
        if (seen[idx]) {
            cfg_err(ctx, k->line, path,
                    "duplicate key \"%s\" (first at line %d)", k->str,
                    seen[idx]);
            continue;
        }
        seen[idx] = k->line;
        cfg_child(cpath, sizeof(cpath), path, k->str);
        cfg_parse_field(ctx, &sec->fields[idx], map->kids[i + 1], base, cpath,
                        k->line);
    }
}

void cfg_walk_parse(struct cfg_ctx *ctx, const struct cfg_node *root)
{
    cfg_parse_section(ctx, &cfg_schema_root, root, ctx->cfg, "", 1);
}

/* ---- validation ---- */

static void cfg_validate_section(struct cfg_ctx *ctx,
                                 const struct cfg_section *sec,
                                 const void *base, const char *path,
                                 int fallback);

static void cfg_validate_strlist(struct cfg_ctx *ctx, const struct cfg_field *f,
                                 const void *base, const char *path, int line)
{
    char *const *arr = *(char *const *const *)cfg_cat(base, f->off);
    size_t n = *(const size_t *)cfg_cat(base, f->n_off);
    char ipath[CFG_PATH_MAX], why[CFG_WHY_MAX];

    for (size_t i = 0; i < n; i++) {
        int at = cfg_where_line(ctx, &arr[i]);

        if (cfg_check_value(f->check, arr[i], why, sizeof(why)))
            continue;
        cfg_item(ipath, sizeof(ipath), path, i);
        cfg_err(ctx, at > 0 ? at : line, ipath, "%s", why);
    }
}

static void cfg_validate_list(struct cfg_ctx *ctx, const struct cfg_field *f,
                              const void *base, const char *path, int line,
                              int where)
{
    const struct cfg_list *l = f->aux;
    const char *arr = *(const void *const *)cfg_cat(base, f->off);
    size_t n = *(const size_t *)cfg_cat(base, f->n_off);
    char ipath[CFG_PATH_MAX];

    for (size_t i = 0; i < n; i++) {
        const char *elem = arr + i * l->elem_size;
        int eline = ctx->have_lines ? *(const int *)(elem + l->line_off) : 0;

        cfg_item(ipath, sizeof(ipath), path, i);
        cfg_validate_section(ctx, l->elem, elem, ipath, eline);
    }
    if (where >= 0 && n < l->min_items)
        cfg_err(ctx, line, path, "at least %zu %s required", l->min_items,
                l->min_items == 1 ? "entry is" : "entries are");
    if (l->check_all)
        l->check_all(ctx, arr, n, path);
}

static void cfg_validate_signals(struct cfg_ctx *ctx, const void *addr,
                                 const char *path, int line)
{
    const struct cfg_signal *sigs = addr;
    const struct cfg_signal *locked = &sigs[LR_SIG_ACCOUNT_LOCKED];
    char cpath[CFG_PATH_MAX];

    for (int s = 0; s < LR_SIG_COUNT; s++) {
        cfg_child(cpath, sizeof(cpath), path,
                  lr_signal_code((enum lr_signal)s));
        cfg_validate_section(ctx, &cfg_schema_signal, &sigs[s], cpath, line);
    }
    if (!locked->enabled) {
        int at = cfg_where_line(ctx, &locked->enabled);

        cfg_child(cpath, sizeof(cpath), path, "ACCOUNT_LOCKED");
        cfg_err(ctx, at > 0 ? at : line, cpath,
                "cannot be disabled: locks would stop working (unlock the "
                "accounts instead)");
    }
}

static void cfg_validate_windows(struct cfg_ctx *ctx, const struct cfg_field *f,
                                 const void *addr, const char *path, int line)
{
    const struct cfg_velocity *v = addr;
    char text[32];

    if (v->n_windows < 1 || v->n_windows > CFG_WINDOWS_MAX) {
        cfg_err(ctx, line, path, "give 1 to %d windows, not %d",
                CFG_WINDOWS_MAX, v->n_windows);
        return;
    }
    for (int i = 0; i < v->n_windows; i++) {
        if (cfg_in_range(f, v->windows_s[i]))
            continue;
        snprintf(text, sizeof(text), "%u", (unsigned)v->windows_s[i]);
        cfg_range_error(ctx, line, path, f, text);
    }
}

/* Checks a value of a simple type: number, enum, string or small list. */
static void cfg_validate_value(struct cfg_ctx *ctx, const struct cfg_field *f,
                               const void *addr, const char *path, int line)
{
    char why[CFG_WHY_MAX];
    const char *s;
    double v;

    switch (f->type) {
    case CFG_T_INT:
    case CFG_T_U32:
    case CFG_T_U64:
    case CFG_T_DOUBLE:
        v = cfg_load_number(f, addr);
        if (cfg_in_range(f, v))
            break;
        snprintf(why, sizeof(why), f->type == CFG_T_DOUBLE ? "%g" : "%.0f", v);
        cfg_range_error(ctx, line, path, f, why);
        break;
    case CFG_T_STR:
        s = *(char *const *)addr;
        if (s == NULL && (f->flags & (CFG_F_REQUIRED | CFG_F_NOTNULL)))
            cfg_err(ctx, line, path, "missing value");
        else if (s && !cfg_check_value(f->check, s, why, sizeof(why)))
            cfg_err(ctx, line, path, "%s", why);
        break;
    case CFG_T_SERVICES:
        if ((*(const unsigned *)addr & CFG_SVC_ALL) == 0)
            cfg_err(ctx, line, path,
                    "name at least one of risk, admin, health");
        break;
    default:
        break;
    }
}

static bool cfg_is_list(enum cfg_type t)
{
    return t == CFG_T_STRLIST || t == CFG_T_ASNLIST || t == CFG_T_SIGLIST ||
           t == CFG_T_LIST;
}

static void cfg_validate_field(struct cfg_ctx *ctx, const struct cfg_field *f,
                               const void *base, const char *parent,
                               int fallback)
{
    const void *addr = cfg_cat(base, f->off);
    /* a section or the signal table shares its address with its first
     * member, whose record is not about the whole */
    bool whole = f->type == CFG_T_SECTION || f->type == CFG_T_SIGNALS;
    int where = whole ? 0 : cfg_where_line(ctx, addr);
    int line = where > 0 ? where : fallback;
    char path[CFG_PATH_MAX];

    cfg_child(path, sizeof(path), parent, f->key);
    /* a bad value was reported while parsing and the default kept; a list
     * with a bad item kept its good items, which still get checked */
    if (where < 0 && !cfg_is_list(f->type))
        return;
    /* only elements that came from the file (fallback > 0) miss keys */
    if ((f->flags & CFG_F_REQUIRED) && fallback > 0 && where == 0) {
        cfg_err(ctx, fallback, parent, "missing required key \"%s\"", f->key);
        return;
    }
    switch (f->type) {
    case CFG_T_SECTION:
        cfg_validate_section(ctx, f->aux, base, path, fallback);
        break;
    case CFG_T_STRLIST:
        cfg_validate_strlist(ctx, f, base, path, line);
        break;
    case CFG_T_WINDOWS:
        cfg_validate_windows(ctx, f, addr, path, line);
        break;
    case CFG_T_SIGNALS:
        cfg_validate_signals(ctx, addr, path, fallback);
        break;
    case CFG_T_LIST:
        cfg_validate_list(ctx, f, base, path, line, where);
        break;
    default:
        cfg_validate_value(ctx, f, addr, path, line);
        break;
    }
}

static void cfg_validate_section(struct cfg_ctx *ctx,
                                 const struct cfg_section *sec,
                                 const void *base, const char *path,
                                 int fallback)
{
    for (size_t i = 0; i < sec->n_fields; i++)
        cfg_validate_field(ctx, &sec->fields[i], base, path, fallback);
    if (sec->check)
        sec->check(ctx, base, path, fallback);
}

void cfg_walk_validate(struct cfg_ctx *ctx, const struct cfg *cfg)
{
    cfg_validate_section(ctx, &cfg_schema_root, cfg, "", 0);
}

/* ---- defaults and freeing ---- */

static void cfg_default_signals(struct cfg_signal *sigs)
{
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        sigs[s].points = lr_signal_default_points((enum lr_signal)s);
        sigs[s].min_action = lr_signal_default_min_action((enum lr_signal)s);
        sigs[s].enabled = true;
    }
}

static void cfg_default_windows(struct cfg_velocity *v)
{
    static const uint32_t w[] = {60, 3600, 86400};

    for (size_t i = 0; i < LR_ARRAY_LEN(w); i++)
        v->windows_s[i] = w[i];
    v->n_windows = (int)LR_ARRAY_LEN(w);
}

static int cfg_default_field(const struct cfg_field *f, void *base)
{
    void *addr = cfg_at(base, f->off);
    const struct cfg_list *l = f->aux;

    switch (f->type) {
    case CFG_T_SECTION:
        return cfg_defaults_section(f->aux, base);
    case CFG_T_INT:
    case CFG_T_U32:
    case CFG_T_U64:
    case CFG_T_DOUBLE:
        cfg_store_number(f, addr, f->def);
        return LR_OK;
    case CFG_T_BOOL:
        *(bool *)addr = f->def != 0;
        return LR_OK;
    case CFG_T_ENUM:
        *(int *)addr = (int)f->def;
        return LR_OK;
    case CFG_T_SERVICES:
        *(unsigned *)addr = (unsigned)f->def;
        return LR_OK;
    case CFG_T_STR:
        if (f->def_str == NULL)
            return LR_OK;
        *(char **)addr = strdup(f->def_str);
        return *(char **)addr ? LR_OK : LR_NOMEM;
    case CFG_T_WINDOWS:
        cfg_default_windows(addr);
        return LR_OK;
    case CFG_T_SIGNALS:
        cfg_default_signals(addr);
        return LR_OK;
    case CFG_T_LIST:
        if (l->defaults == NULL)
            return LR_OK;
        return l->defaults(addr, cfg_at(base, f->n_off));
    default:
        return LR_OK;
    }
}

static int cfg_defaults_section(const struct cfg_section *sec, void *base)
{
    int rc;

    for (size_t i = 0; i < sec->n_fields; i++) {
        rc = cfg_default_field(&sec->fields[i], base);
        if (rc)
            return rc;
    }
    return LR_OK;
}

int cfg_walk_defaults(struct cfg *cfg)
{
    return cfg_defaults_section(&cfg_schema_root, cfg);
}

static void cfg_free_field(const struct cfg_field *f, void *base)
{
    void *addr = cfg_at(base, f->off);

    switch (f->type) {
    case CFG_T_SECTION:
        cfg_free_section(f->aux, base);
        break;
    case CFG_T_STR:
        cfg_free_str(f, addr);
        break;
    case CFG_T_STRLIST:
        cfg_free_strlist(addr, cfg_at(base, f->n_off));
        break;
    case CFG_T_ASNLIST:
    case CFG_T_SIGLIST:
        free(*(void **)addr);
        *(void **)addr = NULL;
        *(size_t *)cfg_at(base, f->n_off) = 0;
        break;
    case CFG_T_LIST:
        cfg_free_list(f, base);
        break;
    default:
        break;
    }
}

static void cfg_free_section(const struct cfg_section *sec, void *base)
{
    for (size_t i = 0; i < sec->n_fields; i++)
        cfg_free_field(&sec->fields[i], base);
}

void cfg_walk_free(struct cfg *cfg)
{
    cfg_free_section(&cfg_schema_root, cfg);
}

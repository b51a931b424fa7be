/*
 * config_int.h - internal to config/: the YAML node tree, the schema tables
 * and the load context shared by config.c, config_yaml.c, config_walk.c,
 * config_schema.c and config_check.c.
 *
 * Loading is three steps. config_yaml.c turns the text into a small tree of
 * nodes with line numbers (the only file that speaks libyaml). config_walk.c
 * walks the tree against the schema tables of config_schema.c and stores
 * values by type only, remembering the line each value came from. Then the
 * same walker validates the whole struct (ranges, files, addresses, cross
 * field rules), looking lines up by field address; cfg_validate runs that
 * second pass alone after command-line overrides, where there are no lines.
 */
#ifndef LR_CONFIG_INT_H
#define LR_CONFIG_INT_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>

/* Hard caps on what a (possibly hostile) file can make us build. */
#define CFG_DEPTH_MAX 32      /* nesting of lists and mappings */
#define CFG_NODES_MAX 100000  /* nodes in one file */
#define CFG_SCALAR_MAX 4096   /* bytes in one value */
#define CFG_PATH_MAX 192      /* "policy.rules[12].match.cidrs[3]" */
#define CFG_WHY_MAX 256       /* one checker's explanation */
#define CFG_SECTION_FIELDS 32 /* keys in one mapping of the schema */

/* ---- the node tree (config_yaml.c) ---- */

enum cfg_node_kind {
    CFG_NODE_SCALAR,
    CFG_NODE_SEQ,
    CFG_NODE_MAP,
};

struct cfg_node {
    enum cfg_node_kind kind;
    int line;   /* 1-based */
    bool plain; /* unquoted scalar: may be null, a bool or a number */
    char *str;  /* scalar text, NUL-terminated (may hold NULs: see len) */
    size_t len;
    /* SEQ: items; MAP: key, value, key, value, ... */
    struct cfg_node **kids;
    size_t n_kids;
    size_t cap_kids;
};

/** A syntax error from the adapter: line (1-based, 0 unknown) and text. */
struct cfg_yaml_error {
    int line;
    char msg[CFG_WHY_MAX];
};

/**
 * Parses @p text into a tree. *@p out is NULL for an empty stream or an empty
 * document. LR_CONFIG with @p err filled for syntax errors, aliases, tags,
 * several documents, too deep or too many nodes; LR_NOMEM.
 */
LR_WUR int cfg_yaml_load(const char *text, size_t len, struct cfg_node **out,
                         struct cfg_yaml_error *err);

/** Frees a tree. NULL is a no-op. */
void cfg_node_free(struct cfg_node *n);

/** True for a plain "", "~", "null", "Null" or "NULL" scalar. */
bool cfg_node_is_null(const struct cfg_node *n);

/** The value of @p key in mapping @p map, or NULL. */
const struct cfg_node *cfg_node_get(const struct cfg_node *map,
                                    const char *key);

/* ---- the load context and messages (config.c) ---- */

struct cfg_msg {
    int line;
    size_t seq; /* order of discovery, to keep sorting stable */
    char *text;
};

struct cfg_where {
    const void *addr; /* field or list item */
    int line;
};

struct cfg_ctx {
    const char *name; /* file name in messages */
    bool have_lines;  /* false for cfg_validate: no file behind the values */
    bool nomem;       /* an allocation failed somewhere: result is LR_NOMEM */
    struct cfg *cfg;
    struct cfg_msg *msgs;
    size_t n_msgs;
    size_t cap_msgs;
    size_t n_dropped; /* messages past CFG_ERRORS_MAX */
    struct cfg_where *where;
    size_t n_where;
    size_t cap_where;
    bool where_sorted;
};

/** Records "name:line: path: message"; line 0 leaves the line out. */
void cfg_err(struct cfg_ctx *ctx, int line, const char *path, const char *fmt,
             ...) LR_PRINTF(4, 5);

/**
 * Logs "name:line: path: message" as a warning (lr_log, LR_LOG_WARN): a
 * value that loads but will not do what it seems to say. The load still
 * succeeds. Silent under cfg_validate, which re-checks a loaded config.
 */
void cfg_warn(struct cfg_ctx *ctx, int line, const char *path, const char *fmt,
              ...) LR_PRINTF(4, 5);

/** Remembers that the value at @p addr came from @p line. */
void cfg_where_add(struct cfg_ctx *ctx, const void *addr, int line);

/** The line the value at @p addr came from, or 0. Sorts on first use. */
int cfg_where_line(struct cfg_ctx *ctx, const void *addr);

/** strdup that marks ctx->nomem on failure. */
char *cfg_strdup(struct cfg_ctx *ctx, const char *s);

/* ---- the schema (config_schema.c) and its walker (config_walk.c) ---- */

enum cfg_type {
    CFG_T_SECTION,  /* mapping of more fields on the same base struct */
    CFG_T_INT,      /* int */
    CFG_T_U32,      /* uint32_t */
    CFG_T_U64,      /* uint64_t */
    CFG_T_DOUBLE,   /* double */
    CFG_T_BOOL,     /* bool */
    CFG_T_BIT,      /* bool stored as bit aux_bit of an unsigned */
    CFG_T_STR,      /* char *, NULL = unset */
    CFG_T_ENUM,     /* int-sized enum, names in aux */
    CFG_T_STRLIST,  /* char ** + size_t count at n_off */
    CFG_T_ASNLIST,  /* uint32_t * + size_t count at n_off */
    CFG_T_SIGLIST,  /* enum lr_signal * + size_t count at n_off */
    CFG_T_SERVICES, /* list of service names into cfg_service_bits */
    CFG_T_WINDOWS,  /* struct cfg_velocity windows_s + n_windows */
    CFG_T_SIGNALS,  /* struct cfg signals[] keyed by reason code */
    CFG_T_LIST,     /* array of structs (aux: struct cfg_list) */
};

/* What a string (or each string of a list) must look like. */
enum cfg_check {
    CFG_CHK_NONE,
    CFG_CHK_FILE,       /* an existing readable regular file */
    CFG_CHK_PARENT_DIR, /* a file whose directory exists */
    CFG_CHK_LISTEN,     /* host:port, [v6]:port or unix:/abs/path */
    CFG_CHK_HOSTPORT,   /* host:port or [v6]:port */
    CFG_CHK_CIDR,       /* address or address/prefix */
    CFG_CHK_COUNTRY,    /* ISO 3166-1 alpha-2, upper case */
    CFG_CHK_ACCOUNT,    /* 1..256 bytes of UTF-8 */
    CFG_CHK_NAME,       /* 1..64 of [A-Za-z0-9_.-] */
    CFG_CHK_PHC,        /* $argon2id$v=19$m=..,t=..,p=..$salt$hash */
    CFG_CHK_VERSION,    /* 1..64 printable ASCII, no spaces */
    CFG_CHK_NONEMPTY,   /* anything but "" */
};

enum cfg_field_flags {
    CFG_F_REQUIRED = 1u << 0, /* the key must be present (and not null) */
    CFG_F_POSITIVE = 1u << 1, /* min is exclusive (speeds > 0) */
    CFG_F_SECRET = 1u << 2,   /* wipe before free */
    CFG_F_NOTNULL = 1u << 3,  /* a string that may not be null or absent */
};

struct cfg_field {
    const char *key;
    enum cfg_type type;
    size_t off;          /* from the base struct of the section */
    size_t n_off;        /* lists: offset of the size_t count */
    double min, max;     /* numbers: range; lists: max items in max */
    double def;          /* numbers, bools, enums */
    const char *def_str; /* strings */
    unsigned flags;      /* enum cfg_field_flags */
    unsigned aux_bit;    /* CFG_T_BIT */
    enum cfg_check check;
    const void *aux; /* SECTION: cfg_section, ENUM: cfg_enum, LIST: cfg_list */
};

struct cfg_section {
    const struct cfg_field *fields;
    size_t n_fields;
    /* cross-field checks, run after the fields validated; may be NULL */
    void (*check)(struct cfg_ctx *ctx, const void *base, const char *path,
                  int line);
};

struct cfg_enum_item {
    const char *name;
    int value;
};

struct cfg_enum {
    const struct cfg_enum_item *items;
    size_t n;
};

struct cfg_list {
    size_t elem_size;
    const struct cfg_section *elem;
    size_t line_off; /* offset of the element's int line */
    /* after an element parsed; may be NULL */
    void (*post_parse)(void *elem, const struct cfg_node *map);
    /* over the whole list (duplicates); may be NULL */
    void (*check_all)(struct cfg_ctx *ctx, const void *arr, size_t n,
                      const char *path);
    /* default contents; NULL = empty. LR_NOMEM. */
    int (*defaults)(void **arr, size_t *n);
    size_t min_items; /* fewer is an error (listeners: 1) */
};

/** The root of the schema: the sections of struct cfg. */
extern const struct cfg_section cfg_schema_root;
/** The fields of one policy.signals entry (base struct cfg_signal). */
extern const struct cfg_section cfg_schema_signal;

/** Sets every field of @p cfg to its default. LR_NOMEM. */
LR_WUR int cfg_walk_defaults(struct cfg *cfg);
/** Stores the values of @p root (a mapping, or NULL) into ctx->cfg. */
void cfg_walk_parse(struct cfg_ctx *ctx, const struct cfg_node *root);
/** Checks every value of @p cfg and the rules between them. */
void cfg_walk_validate(struct cfg_ctx *ctx, const struct cfg *cfg);
/** Frees everything the schema says @p cfg owns. */
void cfg_walk_free(struct cfg *cfg);

/* ---- value checkers (config_check.c) ---- */

/**
 * Checks @p s against @p chk. False with a one-line reason in @p why when it
 * does not pass.
 */
bool cfg_check_value(enum cfg_check chk, const char *s, char *why,
                     size_t why_cap);

/** Levenshtein distance, ASCII case-insensitive, capped at @p cap + 1. */
size_t cfg_edit_distance(const char *a, const char *b, size_t cap);

/** The known name closest to @p s when close enough to suggest, or NULL. */
const char *cfg_suggest(const char *s, const char *const *names, size_t n);

/** 64-bit FNV-1a of @p len bytes. */
uint64_t cfg_fnv1a64(const void *p, size_t len);

#endif

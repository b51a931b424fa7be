/*
 * cli_admin.h - riskctl's incident-response and analyst commands, and the
 * parts they share.
 *
 *   cli_admin.c         admin token (RISKCTL_TOKEN or --token-file, never
 *                       argv), the authorised AdminService call, duration and
 *                       time parsing
 *   cli_bulk.c          account ids from arguments, a file or stdin;
 *                       batches; the --resume state file
 *   cli_progress.c      progress bar on a terminal, plain lines otherwise
 *   cli_cmd_lock.c      lock, unlock
 *   cli_cmd_query.c     lock-by-query
 *   cli_cmd_account.c   account, locks, audit, reload
 *   cli_cmd_token.c     token-hash
 *   cli_replay.c        replay: reading events, both engines, the tallies
 *   cli_cmd_replay.c    replay: the command and its report
 *
 * The pure parts (parsing, id files, resume state, flow matrix) are
 * declared here so tests/test_cli_admin.c can reach them.
 *
 * Exit codes of the bulk commands: 0 every batch confirmed, 3 some batches
 * failed (the rest were applied; rerun with --resume), 1 nothing could be
 * done, 2 usage error.
 */
#ifndef LR_CLI_ADMIN_H
#define LR_CLI_ADMIN_H

#include "cli/cli_cmd.h"
#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_PARTIAL 3

#define CLI_TOKEN_MAX 512       /* bytes of an admin token */
#define CLI_ID_MAX 256          /* bytes of one account id */
#define CLI_IDS_MAX 50000000    /* ids one bulk run reads */
#define CLI_BATCH_DEFAULT 10000 /* ids per call */
#define CLI_BATCH_MAX 100000    /* the agent's cap per call */
#define CLI_DURATION_MAX_S (100ull * 365 * 86400)
#define CLI_BULK_TIMEOUT_MS 60000 /* deadline of one bulk call by default */
#define CLI_SAMPLE_MAX 10         /* changed ids shown */

#define CLI_METHOD_LOCK "/loginrisk.v1.AdminService/LockAccounts"
#define CLI_METHOD_UNLOCK "/loginrisk.v1.AdminService/UnlockAccounts"
#define CLI_METHOD_LOCK_BY_QUERY "/loginrisk.v1.AdminService/LockByQuery"
#define CLI_METHOD_GET_ACCOUNT "/loginrisk.v1.AdminService/GetAccount"
#define CLI_METHOD_LIST_LOCKS "/loginrisk.v1.AdminService/ListLocks"
#define CLI_METHOD_RELOAD "/loginrisk.v1.AdminService/ReloadConfig"
#define CLI_METHOD_LIST_AUDIT "/loginrisk.v1.AdminService/ListAudit"

/* gRPC status codes the admin commands look at. */
#define CLI_ST_INVALID_ARGUMENT 3
#define CLI_ST_DEADLINE_EXCEEDED 4
#define CLI_ST_PERMISSION_DENIED 7
#define CLI_ST_RESOURCE_EXHAUSTED 8
#define CLI_ST_UNIMPLEMENTED 12
#define CLI_ST_UNAVAILABLE 14
#define CLI_ST_UNAUTHENTICATED 16

/* ---- token and authorised calls (cli_admin.c) --------------------------- */

/**
 * Reads the admin token from @p file (first line; --token-file) or, with
 * @p file NULL, from $RISKCTL_TOKEN, into @p buf (NUL-terminated). A file
 * other users may read gets a warning on stderr. LR_NOTFOUND when neither
 * is given, LR_IO (file unreadable), LR_INVALID (empty, too long or
 * not printable), with a message in @p err.
 */
LR_WUR int cli_token_load(const char *file, char *buf, size_t cap, char *err,
                          size_t errcap);

/** A connection with the token it authorises its calls with. */
struct cli_admin {
    struct cli_client *client;
    char auth[CLI_TOKEN_MAX + 8]; /* "Bearer <token>", wiped at close */
    int64_t timeout_ms;
    const char *cmd; /* for messages */
};

/**
 * Loads the token and connects with the global settings. Returns an exit
 * code: 0 on success, 2 (no token: message printed), 1.
 */
int cli_admin_open(const struct cli_globals *g, const char *cmd,
                   const char *token_file, struct cli_admin *a);

/** Closes the connection and wipes the token. */
void cli_admin_close(struct cli_admin *a);

/** One authorised unary call (see cli_call_unary). */
LR_WUR int cli_admin_call(struct cli_admin *a, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc,
                          struct cli_status *st, ProtobufCMessage **resp);

/* ---- parsing (cli_admin.c) --------------------------------------------- */

/**
 * Moves the positional arguments of a subcommand's argv (argv[0] is its
 * name) after its options, keeping both orders, so `riskctl lock alice bob
 * --reason R` parses like `riskctl lock --reason R alice bob` (getopt in
 * riskctl stops at the first non-option). Arguments after "--" stay
 * positional. @p sub is the subcommand's option table.
 */
void cli_permute_args(int argc, char **argv, const struct option *sub);

/**
 * "0", "90" (seconds), "90s", "30m", "12h", "7d", "2w" into seconds; at most
 * CLI_DURATION_MAX_S. LR_INVALID otherwise.
 */
LR_WUR int cli_parse_duration(const char *s, uint64_t *out_s);

/**
 * A point in time, in ms since the epoch: RFC 3339
 * ("2024-05-01T22:00:00Z", "2024-05-01T22:00:00.5+02:00", also a space for
 * 'T' and a bare date "2024-05-01" meaning its UTC midnight), epoch
 * milliseconds ("1714600800000"), "now", or relative to @p now_ms ("-12h",
 * "-30m", "-7d", "+1h"). LR_INVALID otherwise.
 */
LR_WUR int cli_parse_time(const char *s, int64_t now_ms, int64_t *out_ms);

/** Formats @p ms as RFC 3339 UTC with milliseconds into @p buf. */
void cli_format_time(int64_t ms, char *buf, size_t cap);

/* ---- account ids and batches (cli_bulk.c) ------------------------------ */

/** Account ids, read once, kept in one buffer. */
struct cli_ids {
    char *buf;
    size_t len, cap;
    size_t *off;
    size_t n, cap_n;
};

/** Frees the ids (the struct itself may live on the stack). */
void cli_ids_free(struct cli_ids *ids);

/**
 * Appends one id of @p len bytes after checking it (1..256 bytes of UTF-8,
 * no NUL). LR_INVALID with the reason in @p err; LR_FULL past CLI_IDS_MAX;
 * LR_NOMEM.
 */
LR_WUR int cli_ids_add(struct cli_ids *ids, const char *s, size_t len,
                       char *err, size_t errcap);

/** The @p i-th id (borrowed until the next add or free). */
const char *cli_ids_get(const struct cli_ids *ids, size_t i);

/**
 * Reads one id per line from @p f: line ends "\n" or "\r\n", blank lines
 * skipped, nothing else trimmed. A bad line stops the read with LR_INVALID
 * and "NAME:LINE: what is wrong" in @p err (@p name names @p f); LR_IO on a
 * read error.
 */
LR_WUR int cli_ids_read(FILE *f, const char *name, struct cli_ids *ids,
                        char *err, size_t errcap);

/**
 * A digest of a bulk run's identity (@p op, the batch size and every id),
 * so a resume file is never applied to another run. FNV-1a, 64 bits.
 */
uint64_t cli_ids_digest(const struct cli_ids *ids, const char *op,
                        size_t batch);

/** What a confirmed batch did. */
struct cli_batch_result {
    uint64_t matched, changed, unchanged;
    int64_t audit_id; /* 0 = none */
};

/**
 * The --resume state: which batches of this run are confirmed. The file is
 * text: a header naming the run, then one line per confirmed batch
 * ("batch I MATCHED CHANGED UNCHANGED AUDIT"), appended as batches are
 * confirmed. Lines that do not parse (a line cut by a crash) are ignored:
 * their batch is sent again, which is harmless since the calls are
 * idempotent.
 */
struct cli_resume {
    FILE *f;
    uint8_t *done; /* one flag per batch */
    size_t n_batches;
    size_t n_done;
    struct cli_batch_result total; /* of the batches already done */
};

/**
 * Opens (creating if needed) @p path for a run of @p n_batches batches
 * identified by @p op, @p batch, @p n_ids and @p digest, loading the
 * batches it has confirmed. LR_INVALID when the file belongs to another
 * run, LR_IO, LR_NOMEM; message in @p err.
 */
LR_WUR int cli_resume_open(const char *path, const char *op, size_t batch,
                           size_t n_ids, uint64_t digest, struct cli_resume *r,
                           char *err, size_t errcap);

/** Records batch @p i as confirmed (written and flushed). LR_IO. */
LR_WUR int cli_resume_mark(struct cli_resume *r, size_t i,
                           const struct cli_batch_result *res);

/** Closes the file and frees @p r's flags. */
void cli_resume_close(struct cli_resume *r);

/**
 * The exit code of a bulk run: 0 when no batch failed, 3 when some failed
 * and others were confirmed (now or by an earlier run), 1 when none was.
 */
int cli_bulk_exit_code(size_t ok, size_t failed, size_t skipped);

/* ---- progress (cli_progress.c) ----------------------------------------- */

struct cli_progress {
    const char *what; /* "lock" */
    uint64_t total;
    bool enabled;
    bool tty;
    int64_t start_ns;
    int64_t last_ns;
};

/**
 * Starts progress output on stderr for @p total units: a bar redrawn in
 * place on a terminal, a plain line at most once a second otherwise.
 */
void cli_progress_init(struct cli_progress *p, const char *what, uint64_t total,
                       bool enabled);

/** Shows @p done of the total (@p failed of them failed). */
void cli_progress_update(struct cli_progress *p, uint64_t done,
                         uint64_t failed);

/** The final line. */
void cli_progress_finish(struct cli_progress *p, uint64_t done,
                         uint64_t failed);

/* ---- replay tallies (cli_replay.c) ------------------------------------- */

#define CLI_ACTIONS (LR_ACTION_MAX + 1)
#define CLI_REASONS_MAX 2048 /* distinct reason codes tallied */

/** Action counts of both policies and the flow between them. */
struct cli_flow {
    uint64_t flow[CLI_ACTIONS][CLI_ACTIONS]; /* [baseline][draft] */
    uint64_t baseline[CLI_ACTIONS];
    uint64_t draft[CLI_ACTIONS];
    uint64_t events;
    uint64_t changed;
};

/** Counts one event decided @p base by the baseline and @p draft. */
void cli_flow_add(struct cli_flow *f, enum lr_action base,
                  enum lr_action draft);

/** How a reason code took part in the decisions that changed. */
struct cli_reason_tally {
    char code[72];
    uint64_t in_changed; /* changed decisions that list it (either side) */
    uint64_t added;      /* ... listed by the draft only */
    uint64_t removed;    /* ... listed by the baseline only */
    uint64_t escalated;  /* ... where the draft's action is stronger */
};

struct cli_reasons {
    struct cli_reason_tally *t;
    size_t n, cap;
    uint64_t dropped; /* reasons past CLI_REASONS_MAX */
};

/**
 * Tallies the reasons of one changed decision: @p base_codes (n_base) from
 * the baseline, @p draft_codes (n_draft) from the draft. LR_NOMEM.
 */
LR_WUR int cli_reasons_add(struct cli_reasons *r, const char *const *base_codes,
                           size_t n_base, const char *const *draft_codes,
                           size_t n_draft, bool escalated);

/** Sorts by in_changed, most first (then by code). */
void cli_reasons_sort(struct cli_reasons *r);

/** Frees the tallies. */
void cli_reasons_free(struct cli_reasons *r);

/** "ALLOW", "CAPTCHA", "2FA", "LOCK", "NONE" (for UNSPECIFIED). */
const char *cli_action_short(enum lr_action a);

/* ---- replay (cli_replay.c) --------------------------------------------- */

#define CLI_REPLAY_BYTES_MAX (4ull << 30) /* events file read in memory */
#define CLI_REPLAY_EVENTS_MAX 50000000    /* events one replay runs */
#define CLI_REPLAY_BAD_KEPT 1000          /* malformed lines listed */
#define CLI_REPLAY_SAMPLE_MAX 1000        /* --sample cap */
#define CLI_REPLAY_REASONS_TEXT 400

struct cli_replay_opts {
    const char *draft_path;    /* --config */
    const char *baseline_path; /* --baseline; NULL = the recorded decisions */
    const char *events_path;   /* "-" = stdin */
    size_t sample;             /* changed decisions kept, 0..1000 */
};

/** One side of a sampled decision. */
struct cli_replay_side {
    enum lr_action action;
    int score;
    char reasons[CLI_REPLAY_REASONS_TEXT]; /* "CODE(points),..." */
};

/** A changed decision kept as an example. */
struct cli_replay_sample {
    unsigned long line;
    int64_t timestamp_ms;
    char account_id[CLI_ID_MAX + 1];
    char ip[48];
    struct cli_replay_side base, draft;
};

struct cli_replay_bad {
    unsigned long line;
    char msg[200];
};

/** What a replay found. */
struct cli_replay {
    struct cli_flow flow;
    struct cli_reasons reasons;
    bool baseline_recorded; /* no --baseline: the events' own decisions */
    char base_version[72];
    char draft_version[72];
    uint64_t lines;     /* non-blank lines read */
    uint64_t malformed; /* of them refused */
    struct cli_replay_bad *bad;
    size_t n_bad;
    uint64_t failed; /* events the engine could not score */
    struct cli_replay_sample *samples;
    size_t n_samples, cap_samples;
    uint64_t rng;
    int64_t first_ms, last_ms;
    double secs;
};

/**
 * Runs the events through a fresh engine per policy (store NULL, no
 * network), in time order (stable: equal timestamps keep their file
 * order). Config problems are appended to @p errs and LR_CONFIG returned;
 * LR_IO / LR_FULL / LR_NOMEM for the events file, with @p err. Malformed
 * lines are counted and listed in @p out, never fatal.
 */
LR_WUR int cli_replay_run(const struct cli_replay_opts *o,
                          struct cli_replay *out, struct cfg_errors *errs,
                          char *err, size_t errcap);

/** Frees what cli_replay_run() allocated. */
void cli_replay_free(struct cli_replay *r);

/* ---- subcommands ------------------------------------------------------- */

int cli_cmd_lock(struct cli_globals *g, int argc, char **argv);
int cli_cmd_unlock(struct cli_globals *g, int argc, char **argv);
int cli_cmd_lock_by_query(struct cli_globals *g, int argc, char **argv);
int cli_cmd_account(struct cli_globals *g, int argc, char **argv);
int cli_cmd_locks(struct cli_globals *g, int argc, char **argv);
int cli_cmd_audit(struct cli_globals *g, int argc, char **argv);
int cli_cmd_reload(struct cli_globals *g, int argc, char **argv);
int cli_cmd_token_hash(struct cli_globals *g, int argc, char **argv);
int cli_cmd_replay(struct cli_globals *g, int argc, char **argv);

#endif

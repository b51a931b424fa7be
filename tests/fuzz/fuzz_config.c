/*
 * fuzz_config.c - libFuzzer target: the YAML config loader.
 *
 * The input is a config file's text, given to cfg_load_string() as the
 * agent's --config file would be. A config that loads is then compiled into
 * an engine policy (rule CIDRs, allowlists: risk_policy_compile, the step
 * a reload takes after loading) and freed; one that does not must say why.
 *
 * Checked besides the sanitizers: a refused config has at least one message
 * and at most CFG_ERRORS_MAX + 1 (the last one counting the rest), each a
 * line of UTF-8 starting with the file name; a loaded config has the
 * invariants the engine relies on (ascending windows, thresholds in order
 * of severity).
 */
#include "config/config.h"
#include "risk/risk.h"
#include "risk/risk_internal.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz.yaml"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_util_init("fuzz_config");
    return 0;
}

static void fuzz_check_errors(const struct cfg_errors *errs)
{
    if (errs->n == 0)
        fuzz_die("refused without a message", NULL);
    /* CFG_ERRORS_MAX kept, then one "... and N more errors" */
    if (errs->n > CFG_ERRORS_MAX + 1)
        fuzz_die("more messages than CFG_ERRORS_MAX + 1", NULL);
    for (size_t i = 0; i < errs->n; i++) {
        const char *m = errs->msgs[i];
        if (m == NULL || strncmp(m, FUZZ_NAME ":", strlen(FUZZ_NAME) + 1))
            fuzz_die("a message without the file name", m);
        if (strchr(m, '\n') != NULL)
            fuzz_die("a message of more than one line", m);
        if (!lr_utf8_valid(m, strlen(m)))
            fuzz_die("a message that is not UTF-8", m);
    }
}

static void fuzz_check_cfg(const struct cfg *c)
{
    const struct cfg_velocity *v = &c->velocity;
    struct risk_policy *pol = NULL;
    struct cfg_errors errs = {0};

    if (v->n_windows < 1 || v->n_windows > CFG_WINDOWS_MAX)
        fuzz_die("window count out of range", NULL);
    for (int i = 1; i < v->n_windows; i++)
        if (v->windows_s[i] <= v->windows_s[i - 1])
            fuzz_die("windows not ascending", NULL);
    if (c->threshold_captcha > c->threshold_2fa ||
        c->threshold_2fa > c->threshold_lock)
        fuzz_die("thresholds out of order", NULL);
    if (c->policy_version == NULL || c->path == NULL)
        fuzz_die("no policy version or path", NULL);
    if (risk_policy_compile(c, NULL, &pol, &errs) == LR_OK)
        risk_policy_free(pol);
    cfg_errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_errors errs = {0};
    struct cfg *c = NULL;
    int rc;

    if (size > CFG_FILE_MAX_BYTES)
        return -1;
    rc = cfg_load_string(FUZZ_NAME, (const char *)data, size, &c, &errs);
    if (rc == LR_OK) {
        if (errs.n != 0)
            fuzz_die("loaded, yet with messages", errs.msgs[0]);
        fuzz_check_cfg(c);
        cfg_free(c);
    } else {
        if (c != NULL)
            fuzz_die("refused, yet *out was written", NULL);
        fuzz_check_errors(&errs);
    }
    cfg_errors_clear(&errs);
    return 0;
}

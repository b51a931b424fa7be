/*
 * test_config_alloc.c - allocation fault injection for test_config.
 *
 * The test binary is linked with -Wl,--wrap=malloc,calloc,realloc,strdup, so
 * every allocation the config code makes (but not libyaml's or libc's own,
 * which live in shared libraries) goes through these wrappers. A test arms
 * them to fail the Nth allocation (once, or from then on), SQLite-style, and
 * checks that every failure point gives LR_NOMEM and leaks nothing.
 */
#include "tests/test_config_alloc.h"

#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);

static unsigned long fault_at;    /* 0 = off */
static unsigned long fault_count; /* allocations seen since armed */
static bool fault_sticky;         /* keep failing after the first */
static bool fault_hit;

void fault_arm(unsigned long nth, bool sticky)
{
    fault_at = nth;
    fault_count = 0;
    fault_sticky = sticky;
    fault_hit = false;
}

void fault_disarm(void)
{
    fault_at = 0;
}

bool fault_fired(void)
{
    return fault_hit;
}

static bool fault_now(void)
{
    if (fault_at == 0)
        return false;
    fault_count++;
    if (fault_count == fault_at || (fault_sticky && fault_count > fault_at)) {
        fault_hit = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    return fault_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fault_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fault_now() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return fault_now() ? NULL : __real_strdup(s);
}

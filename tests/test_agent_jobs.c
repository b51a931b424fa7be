/*
 * test_agent_jobs.c - the agent's bounded pool for blocking work: jobs run,
 * a full queue answers LR_BUSY at once, and free runs everything already
 * queued.
 */
#include "agent/agent_jobs.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>

#include <cmocka.h>

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    bool entered;
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                           false, false};
static atomic_int ran;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

/* Holds its pool thread until the gate opens. */
static void gate_job(void *arg)
{
    struct gate *g = arg;

    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&ran, 1);
}

static void test_agent_jobs_new_bad_arguments(void **state)
{
    struct agent_jobs *j = NULL;

    (void)state;
    assert_int_equal(agent_jobs_new(0, 4, &j), LR_INVALID);
    assert_int_equal(agent_jobs_new(65, 4, &j), LR_INVALID);
    assert_int_equal(agent_jobs_new(1, 0, &j), LR_INVALID);
    assert_int_equal(agent_jobs_new(1, 65537, &j), LR_INVALID);
    assert_null(j);
    agent_jobs_free(NULL);
}

static void test_agent_jobs_submit_runs_every_job(void **state)
{
    struct agent_jobs *j;
    int submitted = 0;

    (void)state;
    atomic_store(&ran, 0);
    assert_int_equal(agent_jobs_new(3, 64, &j), LR_OK);
    for (int i = 0; i < 1000; i++) {
        int rc = agent_jobs_submit(j, count_job, NULL);
        assert_true(rc == LR_OK || rc == LR_BUSY);
        submitted += rc == LR_OK;
    }
    agent_jobs_free(j); /* runs what is queued */
    assert_int_equal(atomic_load(&ran), submitted);
}

static void test_agent_jobs_submit_busy_when_full(void **state)
{
    struct agent_jobs *j;

    (void)state;
    atomic_store(&ran, 0);
    gate.open = false;
    gate.entered = false;
    assert_int_equal(agent_jobs_new(1, 2, &j), LR_OK);
    assert_int_equal(agent_jobs_submit(j, gate_job, &gate), LR_OK);
    pthread_mutex_lock(&gate.mu);
    while (!gate.entered) /* the only thread is now held */
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
    assert_int_equal(agent_jobs_submit(j, count_job, NULL), LR_OK);
    assert_int_equal(agent_jobs_submit(j, count_job, NULL), LR_OK);
    assert_int_equal(agent_jobs_queued(j), 2);
    assert_int_equal(agent_jobs_submit(j, count_job, NULL), LR_BUSY);
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    agent_jobs_free(j);
    assert_int_equal(atomic_load(&ran), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_jobs_new_bad_arguments),
        cmocka_unit_test(test_agent_jobs_submit_runs_every_job),
        cmocka_unit_test(test_agent_jobs_submit_busy_when_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_config_alloc.h - allocation fault injection for test_config (see
 * test_config_alloc.c).
 */
#ifndef LR_TEST_CONFIG_ALLOC_H
#define LR_TEST_CONFIG_ALLOC_H

#include <stdbool.h>

/** Fails the @p nth allocation from now (and every later one if sticky). */
void fault_arm(unsigned long nth, bool sticky);
/** Stops failing allocations. */
void fault_disarm(void);
/** True if an armed failure was handed out since fault_arm. */
bool fault_fired(void);

#endif

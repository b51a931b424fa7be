# agent: request validation and the per-call arena (pure functions; the
# served daemon is exercised end to end by integration/).
lr_add_test(test_agent_validate
  SOURCES test_agent_validate.c
  LIBS agent_core)
lr_add_test(test_agent_jobs
  SOURCES test_agent_jobs.c
  LIBS agent_core)

# ops: production-operations pieces (issue 5).
#
# test_risk_event compiles risk_event.c itself rather than linking `risk`, so
# the decision-record codec is tested on its own, whatever state the rest of
# the engine is in; it needs only geo (IP text) and jansson.
lr_add_test(test_risk_event
  SOURCES test_risk_event.c ${CMAKE_SOURCE_DIR}/risk/risk_event.c
  LIBS geo lr PkgConfig::JANSSON)

# The agent's operations parts (agent_ops): SHA-256/HMAC and pseudonym keys,
# the decision log writer, metrics and their HTTP server.
lr_add_test(test_agent_hmac SOURCES test_agent_hmac.c LIBS agent_ops)
lr_add_test(test_agent_declog SOURCES test_agent_declog.c LIBS agent_ops
  TIMEOUT 60)
lr_add_test(test_agent_metrics SOURCES test_agent_metrics.c LIBS agent_ops m
  TIMEOUT 60)
# The pull callback on a real agent state: agent_core until agent_core links
# agent_ops itself; the embedded default config names the fixture databases.
lr_add_test(test_agent_metrics_state SOURCES test_agent_metrics_state.c
  LIBS agent_ops agent_core TIMEOUT 60)
if(TARGET geo_fixtures)
  add_dependencies(test_agent_metrics_state geo_fixtures)
endif()
# The decision log replayed through a fresh engine gives the same decisions.
lr_add_test(test_agent_declog_replay SOURCES test_agent_declog_replay.c
  LIBS agent_ops TIMEOUT 60)
if(TARGET geo_fixtures)
  add_dependencies(test_agent_declog_replay geo_fixtures)
endif()
# Geo databases replaced under a running state (agent_state_reload_geo, the
# housekeeping thread) and the health decision; a thread, so TSan runs it.
lr_add_test(test_agent_watch SOURCES test_agent_watch.c
  LIBS agent_ops agent_core TIMEOUT 60)
set_property(TEST test_agent_watch APPEND PROPERTY LABELS threads)
if(TARGET geo_fixtures)
  add_dependencies(test_agent_watch geo_fixtures)
endif()

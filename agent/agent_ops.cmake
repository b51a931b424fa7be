# agent_ops: the agent's production-operations parts (issue 5) - decision
# log, account pseudonyms (SHA-256/HMAC), Prometheus metrics over HTTP.
# A library of its own so its unit tests build apart from the daemon's other
# files; agent_core links it.
add_library(agent_ops STATIC
  agent_hmac.c
  agent_pseudonym.c
  agent_declog.c
  agent_metrics.c
  agent_metrics_http.c
  agent_metrics_state.c)
target_link_libraries(agent_ops PUBLIC risk lr lr_proto PkgConfig::MHD
  Threads::Threads)

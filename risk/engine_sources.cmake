# The engine core's sources (owned by the engine; risk/CMakeLists.txt adds
# them to the `risk` library beside the velocity tables and the spray pool).
set(RISK_ENGINE_SOURCES
  risk_engine.c
  risk_policy.c
  risk_signals.c
  risk_travel.c
  risk_sprayed.c
  risk_decide.c
  risk_profile.c
  risk_pfilter.c
  risk_recent.c
  risk_outcome.c
  risk_format.c
  risk_index.c
  risk_event.c
)

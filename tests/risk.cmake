# risk: the engine core, against the fixture GeoIP databases and a real
# SQLite store in a temporary directory.
lr_add_test(test_risk_engine
  SOURCES test_risk_engine.c test_risk_engine_util.c
  LIBS risk config geo store)
add_dependencies(test_risk_engine geo_fixtures)
lr_add_test(test_risk_engine_state
  SOURCES test_risk_engine_state.c test_risk_engine_util.c
  LIBS risk config geo store)
add_dependencies(test_risk_engine_state geo_fixtures)

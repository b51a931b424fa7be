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
# Allocation failure: every allocation of the engine can be made to fail
# (the fault injector of test_config_alloc.c, through the linker's --wrap).
lr_add_test(test_risk_engine_alloc
  SOURCES test_risk_engine_alloc.c test_risk_engine_util.c test_config_alloc.c
  LIBS risk config geo store)
target_link_options(test_risk_engine_alloc PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=strdup)
add_dependencies(test_risk_engine_alloc geo_fixtures)
# The text helpers behind reason details.
lr_add_test(test_risk_format SOURCES test_risk_format.c LIBS risk config geo
  store)
# The filter of accounts with a stored profile, on a real store.
lr_add_test(test_risk_pfilter SOURCES test_risk_pfilter.c LIBS risk config geo
  store)

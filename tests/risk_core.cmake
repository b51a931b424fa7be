# risk_core: the velocity tables and the spray pool, built without the engine.
# Both binaries wrap malloc and calloc for allocation-failure tests.
lr_add_test(test_risk_velocity SOURCES test_risk_velocity.c LIBS risk_core)
lr_add_test(test_risk_spray SOURCES test_risk_spray.c LIBS risk_core)
foreach(t test_risk_velocity test_risk_spray)
  target_link_options(${t} PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc)
endforeach()

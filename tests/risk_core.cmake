# risk_core: the velocity tables and the spray pool, built without the engine.
lr_add_test(test_risk_velocity SOURCES test_risk_velocity.c LIBS risk_core)
lr_add_test(test_risk_spray SOURCES test_risk_spray.c LIBS risk_core)

# ops: production-operations pieces (issue 5).
#
# test_risk_event compiles risk_event.c itself rather than linking `risk`, so
# the decision-record codec is tested on its own, whatever state the rest of
# the engine is in; it needs only geo (IP text) and jansson.
lr_add_test(test_risk_event
  SOURCES test_risk_event.c ${CMAKE_SOURCE_DIR}/risk/risk_event.c
  LIBS geo lr PkgConfig::JANSSON)

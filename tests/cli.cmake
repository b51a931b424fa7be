# cli: the client library and riskctl's shared parts.
lr_add_test(test_cli SOURCES test_cli.c LIBS riskctl_core lrclient lr
  TIMEOUT 60)

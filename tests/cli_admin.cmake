# The admin issue (AdminService and riskctl's admin commands): the pure
# parts of riskctl's lock/unlock/replay, and the agent's token checks.
lr_add_test(test_cli_admin SOURCES test_cli_admin.c LIBS riskctl_admin
  TIMEOUT 60)
lr_add_test(test_agent_auth SOURCES test_agent_auth.c LIBS agent_core
  PkgConfig::ARGON2 TIMEOUT 60)

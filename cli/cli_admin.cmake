# riskctl's incident-response and analyst commands (cli_admin.h): lock,
# unlock, lock-by-query, account, locks, audit, reload, token-hash, replay.
# A library of its own so tests/test_cli_admin.c links what riskctl runs;
# replay runs the engine in-process, hence risk, config and geo.
add_library(riskctl_admin STATIC
  cli_admin.c
  cli_bulk.c
  cli_progress.c
  cli_cmd_lock.c
  cli_cmd_query.c
  cli_cmd_account.c
  cli_cmd_token.c
  cli_replay.c
  cli_cmd_replay.c)
target_link_libraries(riskctl_admin PUBLIC riskctl_core lrclient risk config
  geo store lr PkgConfig::ARGON2 PkgConfig::JANSSON)

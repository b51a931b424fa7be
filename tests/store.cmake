# store/: real SQLite files in a temporary directory, fault tests included.
lr_add_test(test_store SOURCES test_store.c
  LIBS store PkgConfig::SQLITE Threads::Threads TIMEOUT 300)

# config/ unit tests: one binary, real files, libargon2 for real PHC strings.
# The config code's allocations are wrapped for fault injection
# (tests/test_config_alloc.c), which is why the link options below.
lr_add_test(test_config
  SOURCES test_config.c test_config_alloc.c
  LIBS config PkgConfig::ARGON2)
target_link_options(test_config PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=strdup)
# The embedded default names the demo databases: build them first.
if(TARGET geo_fixtures)
  add_dependencies(test_config geo_fixtures)
endif()

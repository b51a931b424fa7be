# geo: parsing, prefixes, distances, and lookups in the fixture databases.
lr_add_test(test_geo SOURCES test_geo.c LIBS geo lr)
add_dependencies(test_geo geo_fixtures)

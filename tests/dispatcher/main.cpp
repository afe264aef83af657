// dispatcher_tests: the dispatcher's unit tests. No database.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

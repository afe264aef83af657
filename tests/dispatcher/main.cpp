// dispatcher_tests and scheduler_tests: unit tests, no database.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

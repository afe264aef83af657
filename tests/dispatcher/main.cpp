// dispatcher_tests: the dispatcher's and the scheduler's timing unit tests. No database.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

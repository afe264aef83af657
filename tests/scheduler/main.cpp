// scheduler_tests: the scheduler's unit tests and clusters in virtual time. No database.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
    // Simulated kills make real instances log warnings by the hundred: keep errors only.
    spdlog::set_level(spdlog::level::err);
    doctest::Context context(argc, argv);
    return context.run();
}

// Short KILL and HATEST runs of the real harness against real instances.
#include <doctest/doctest.h>

#include <filesystem>

#include "jobs/harness/run.h"
#include "logged.h"
#include "test_db.h"

using namespace jobs;
using namespace jobs::harness;

namespace {

Report short_run(Mode mode) {
    RunOptions options;
    options.url = test::fresh_database();
    options.instances = 5;
    options.mode = mode;
    options.duration_s = 45;
    options.since_s = 12;
    options.scheduler = JOBS_SCHEDULER;
    options.log_dir = (std::filesystem::temp_directory_path() / "jobs-harness-test-logs").string();
    options.progress = false;
    return run_load(options).report;
}

}  // namespace

TEST_CASE("a short KILL run passes: three of five instances interrupted, no job lost or doubled" *
          doctest::timeout(180)) {
    const Report r = short_run(Mode::Kill);
    MESSAGE("KILL: " << r.verdict << ", cost " << r.cost_score << ", efficient "
                     << r.efficient_score);
    CHECK(r.pass);
    CHECK(r.mode == "KILL");
    CHECK(test::logged(r.actions, repo::Action::Complete) == r.created);
}

TEST_CASE("a short HATEST run passes: instances restarting every 10-29 s" * doctest::timeout(180)) {
    const Report r = short_run(Mode::HaTest);
    MESSAGE("HATEST: " << r.verdict << ", cost " << r.cost_score << ", efficient "
                       << r.efficient_score);
    CHECK(r.pass);
    CHECK(test::logged(r.actions, repo::Action::Complete) == r.created);
}

// The score formulas against a small database whose answer was worked out by hand.
#include <doctest/doctest.h>

#include "jobs/harness/report.h"
#include "jobs/harness/run.h"
#include "jobs/repo/action.h"
#include "jobs/repo/session.h"
#include "test_db.h"

using namespace jobs;
using namespace jobs::harness;
using repo::Action;

namespace {

// Four jobs due at 12:00:00.000 with the delays 100, 101, 105 and (still locked) none, plus
// one completed early and late-created; and a WorkerLogs of known actions.
void fill(soci::session& sql, bool sqlite) {
    const auto t = [&](const char* text) {
        return sqlite ? std::string("'") + text + "'" : std::string("'") + text + "+00'";
    };
    const auto job = [&](const char* run_at, const char* create_at, const char* lock_at,
                         const char* exec_at, int state) {
        sql << "INSERT INTO Jobs (RunAt, CreateAt, LockAt, ExecuteAt, State) VALUES (" + t(run_at) +
                   ", " + t(create_at) + ", " + (lock_at ? t(lock_at) : "NULL") + ", " +
                   (exec_at ? t(exec_at) : "NULL") + ", " + std::to_string(state) + ")";
    };
    job("2026-01-01 12:00:00.000", "2026-01-01 11:59:00.000", "2026-01-01 11:59:59.000",
        "2026-01-01 12:00:00.100", 2);
    job("2026-01-01 12:00:00.000", "2026-01-01 11:59:00.000", "2026-01-01 12:00:00.001",
        "2026-01-01 12:00:00.101", 2);
    job("2026-01-01 12:00:00.000", "2026-01-01 11:59:00.000", "2026-01-01 11:59:59.500",
        "2026-01-01 12:00:00.105", 2);
    job("2026-01-01 12:00:00.000", "2026-01-01 11:59:00.000", "2026-01-01 11:59:59.500", nullptr,
        1);
    // Created 5 s before RunAt (too late), executed 40 s after it (too slow).
    job("2026-01-01 12:01:00.000", "2026-01-01 12:00:55.000", "2026-01-01 12:00:59.000",
        "2026-01-01 12:01:40.000", 2);
    // Executed 50 ms before RunAt: early.
    job("2026-01-01 12:02:00.000", "2026-01-01 12:01:00.000", "2026-01-01 12:01:59.000",
        "2026-01-01 12:01:59.950", 2);
    const auto log = [&](Action action, int n) {
        for (int i = 0; i < n; ++i)
            sql << "INSERT INTO WorkerLogs (Action, ClientId) VALUES ('" +
                       std::string(repo::action_name(action)) + "', 'hand')";
    };
    log(Action::QueryList, 3);
    log(Action::AcquireFailure, 2);
    log(Action::QueryJob, 5);
    log(Action::AcquireSuccess, 6);
    log(Action::Complete, 5);
    log(Action::Create, 6);
    log(Action::Connect, 2);
    log(Action::QueryLast, 4);
    log(Action::Leave, 1);
    log(Action::StartFailure, 2);
    // A row written by hand under a name no instance writes: listed, and weighed 0.
    sql << "INSERT INTO WorkerLogs (Action, ClientId) VALUES ('BY_HAND', 'hand')";
}

}  // namespace

TEST_CASE("scores of a hand-made database match the figures worked out by hand") {
    const std::string url = test::fresh_database();
    {
        auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
        fill(*sql,
             repo::dialect_of(*sql, repo::ConnectionUrl::parse(url)) == repo::Dialect::Sqlite);
    }
    const Report r = score_database(url).report;
    // Delays of the five completed jobs: 100, 101, 105, 40000, -50.
    // Sum 40256 / 5 = 8051.2 -> truncated 8051.
    CHECK(r.delay_average == 8051);
    // Sample stdev: deviations -7951.2, -7950.2, -7946.2, 31948.8, -8101.2; their squares sum
    // to 1,275,924,618.8; / (n - 1 = 4) = 318,981,154.7; square root 17,860.0435.
    CHECK(r.delay_stdev == doctest::Approx(17860.0435).epsilon(1e-8));
    CHECK(r.efficient_score == doctest::Approx(8051 + 17860.0435).epsilon(1e-8));
    CHECK(r.p50 == 101);
    CHECK(r.max == 40000);
    // 3 x 100 + 2 x 10 + 5 x 1 + 2 x 1 (CONNECT) + 4 x 1 (QUERYLAST) + 1 x 10 (LEAVE)
    // + 2 x 10 (START_FAILURE, a failed write) + 1 x 0 (BY_HAND, unknown).
    CHECK(r.cost_score == 361);
    CHECK(r.actions.at("BY_HAND") == 1);
    CHECK(r.states.at(1) == 1);
    CHECK(r.states.at(2) == 5);
    CHECK(r.early_lock == 5);  // all but the second, locked at 12:00:00.001, locked before RunAt
    CHECK(r.early_exec == 1);
    CHECK(r.delay_exceed == 1);
    CHECK(r.late_created == 1);
    CHECK_FALSE(r.pass);
    CHECK(r.verdict.find("5 of 6 jobs completed") != std::string::npos);
    CHECK(r.verdict.find("1 executed early") != std::string::npos);
    CHECK(csv_row(r, "jobs").starts_with("jobs,score,6,6,2,5,5,3,0,1,5,8051,"));
}

TEST_CASE("the truncated average and the sample stdev of two delays") {
    repo::Statistics stats;
    stats.delays_ms = {100, 101};
    stats.run_at_ms = {0, 0};
    stats.states = {{2, 2}};
    stats.actions = {{std::string(repo::action_name(Action::Complete)), 2}};
    const Report r = make_report(stats);
    CHECK(r.delay_average == 100);  // 100.5, truncated as the reference did
    CHECK(r.delay_stdev == doctest::Approx(0.70710678));
    CHECK(r.pass);
}

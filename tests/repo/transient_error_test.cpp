// Transient failures are retried; a retry never changes who won a lock.
#include <doctest/doctest.h>

#include <thread>

#include "jobs/repo/action.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "test_db.h"

using namespace jobs::repo;
using namespace std::chrono_literals;

TEST_CASE("a call waits out another process's write lock instead of failing") {
    const std::string url = jobs::test::fresh_database();
    JobsRepo repo(RepoOptions{.url = url});
    const JobId id = repo.create_job(repo.db_now() + 20s);
    auto other = open_session(ConnectionUrl::parse(url));
    const bool sqlite = dialect_of(*other, ConnectionUrl::parse(url)) == Dialect::Sqlite;
    // SQLite: hold the database write lock; PostgreSQL: hold the job's row lock.
    if (sqlite) {
        *other << "BEGIN IMMEDIATE";
    } else {
        other->begin();
        *other << "SELECT Id FROM Jobs WHERE Id = " + std::to_string(id) + " FOR UPDATE";
    }
    std::thread release([&] {
        std::this_thread::sleep_for(400ms);
        if (sqlite) {
            *other << "COMMIT";
        } else {
            other->commit();
        }
    });
    const auto begin = std::chrono::steady_clock::now();
    const Lock lock = repo.acquire_job_lock(id);
    const auto waited = std::chrono::steady_clock::now() - begin;
    release.join();
    CHECK(lock.outcome == LockOutcome::Won);
    CHECK(waited >= 300ms);
}

TEST_CASE("a dropped PostgreSQL connection is re-opened and the call retried" *
          doctest::test_suite("postgresql-only")) {
    const std::string url = jobs::test::fresh_database();
    JobsRepo repo(RepoOptions{.url = url, .client_id = "victim"});
    auto admin = open_session(ConnectionUrl::parse(url));
    if (dialect_of(*admin, ConnectionUrl::parse(url)) != Dialect::Postgresql) return;
    const JobId id = repo.create_job(repo.db_now() + 20s);
    *admin << "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()";
    std::this_thread::sleep_for(100ms);
    const Lock lock = repo.acquire_job_lock(id);
    CHECK(lock.outcome == LockOutcome::Won);
    repo.complete_locked_job(id, lock.token);
    CHECK(repo.get_job(id)->state == JobState::Completed);
}

TEST_CASE(
    "a row another transaction holds never makes an instance's statements wait: starts, "
    "renewals, completions and failures skip it and say so, and go through once it is free" *
    doctest::timeout(60)) {
    const std::string url = jobs::test::fresh_database();
    auto other = open_session(ConnectionUrl::parse(url));
    if (dialect_of(*other, ConnectionUrl::parse(url)) != Dialect::Postgresql) return;
    JobsRepo repo(RepoOptions{.url = url, .client_id = "instance"});
    std::vector<JobId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(repo.create_job(repo.db_now() + 20s));
    const std::vector<Lock> locks = repo.acquire_job_locks(ids);
    // ids[0] to start, ids[1] to renew, ids[2] to complete, ids[3] to fail; ids[4] stays free.
    REQUIRE(repo.start_locked_jobs(
                    {{ids[1], locks[1].token}, {ids[2], locks[2].token}, {ids[3], locks[3].token}})
                .started == std::vector<bool>{true, true, true});
    other->begin();
    *other << "SELECT count(*) FROM (SELECT Id FROM Jobs WHERE Id IN (" + std::to_string(ids[0]) +
                  ", " + std::to_string(ids[1]) + ", " + std::to_string(ids[2]) + ", " +
                  std::to_string(ids[3]) + ") FOR UPDATE) AS held";

    const auto begin = std::chrono::steady_clock::now();
    CHECK(repo.start_locked_jobs({{ids[0], locks[0].token}, {ids[4], locks[4].token}}).started ==
          std::vector<bool>{false, true});
    CHECK(repo.renew_run_leases({{ids[1], locks[1].token}, {ids[4], locks[4].token}}) ==
          std::vector<Renewal>{Renewal::Held, Renewal::Renewed});
    const CompletionOutcome completed = repo.complete_locked_jobs(
        {{ids[2], locks[2].token, std::nullopt}, {ids[4], locks[4].token, std::nullopt}});
    CHECK(completed.held == std::vector<JobId>{ids[2]});
    CHECK(completed.refused.empty());
    try {
        repo.fail_locked_job(ids[3], locks[3].token, JobState::Failed, "it failed");
        FAIL("a held row was written");
    } catch (const RepoError& e) {
        CHECK(e.kind() == ErrorKind::RowHeld);
    }
    CHECK(std::chrono::steady_clock::now() - begin < 2s);  // nothing waited on the row locks
    CHECK(repo.statistics().actions[std::string(action_name(Action::Held))] == 4);

    other->commit();
    CHECK(repo.start_locked_jobs({{ids[0], locks[0].token}}).started == std::vector<bool>{true});
    CHECK(repo.renew_run_leases({{ids[1], locks[1].token}}) ==
          std::vector<Renewal>{Renewal::Renewed});
    CHECK(repo.complete_locked_jobs({{ids[2], locks[2].token, std::nullopt}}).held.empty());
    repo.fail_locked_job(ids[3], locks[3].token, JobState::Failed, "it failed");
    CHECK(repo.get_job(ids[2])->state == JobState::Completed);
    CHECK(repo.get_job(ids[3])->state == JobState::Failed);
}

TEST_CASE(
    "a batch lock skips a row another transaction holds, says HELD rather than lost, and wins "
    "it once the row is free" *
    doctest::timeout(60)) {
    const std::string url = jobs::test::fresh_database();
    auto other = open_session(ConnectionUrl::parse(url));
    if (dialect_of(*other, ConnectionUrl::parse(url)) != Dialect::Postgresql) return;
    JobsRepo repo(RepoOptions{.url = url, .client_id = "instance"});
    const JobId held = repo.create_job(repo.db_now() + 20s);
    const JobId free = repo.create_job(repo.db_now() + 20s);
    const JobId taken = repo.create_job(repo.db_now() + 20s);
    REQUIRE(repo.acquire_job_lock(taken).outcome == LockOutcome::Won);
    other->begin();
    *other << "SELECT count(*) FROM (SELECT Id FROM Jobs WHERE Id = " + std::to_string(held) +
                  " FOR UPDATE) AS h";

    const auto begin = std::chrono::steady_clock::now();
    const std::vector<Lock> locks = repo.acquire_job_locks({held, free, taken});
    CHECK(std::chrono::steady_clock::now() - begin < 2s);  // nothing waited on the row lock
    CHECK(locks[0].outcome == LockOutcome::Held);
    CHECK(locks[1].outcome == LockOutcome::Won);
    CHECK(locks[2].outcome == LockOutcome::Lost);  // another's lock, not a held row
    auto stats = repo.statistics();
    CHECK(stats.actions[std::string(action_name(Action::Held))] == 1);
    CHECK(stats.actions[std::string(action_name(Action::AcquireFailure))] == 1);

    other->commit();
    CHECK(repo.acquire_job_locks({held})[0].outcome == LockOutcome::Won);
}

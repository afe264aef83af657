// Transient failures are retried; a retry never changes who won a lock.
#include <doctest/doctest.h>

#include <thread>

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

// Each bad input of SPEC section 3 gets a clear error and changes nothing.
#include <doctest/doctest.h>

#include <set>

#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "logged.h"
#include "require_error.h"
#include "test_db.h"

using namespace jobs::repo;
using jobs::test::logged;
using namespace std::chrono_literals;
using jobs::test::fresh_database;
using jobs::test::require_error;

TEST_CASE("CreateJob refuses a RunAt sooner than now + MinPrepareTime and inserts nothing") {
    JobsRepo repo(RepoOptions{.url = fresh_database()});
    require_error([&] { repo.create_job(repo.db_now() + kMinPrepareTime - 500ms); },
                  ErrorKind::BadInput, "MinPrepareTime");
    require_error([&] { repo.create_job(repo.db_now() - 1s); }, ErrorKind::BadInput,
                  "MinPrepareTime");
    CHECK(repo.statistics().states.empty());
    CHECK(repo.statistics().actions.count(std::string(action_name(Action::Create))) == 0);
}

TEST_CASE("CreateJob refuses an oversized payload") {
    JobsRepo repo(RepoOptions{.url = fresh_database()});
    const std::string huge(kMaxPayloadBytes + 1, 'x');
    require_error([&] { repo.create_job(repo.db_now() + 20s, huge); }, ErrorKind::BadInput,
                  "payload");
    CHECK(repo.statistics().states.empty());
}

TEST_CASE("AcquireJobLock on an unknown id says so and logs the failed attempt") {
    JobsRepo repo(RepoOptions{.url = fresh_database()});
    require_error([&] { repo.acquire_job_lock(424242); }, ErrorKind::NotFound, "no job 424242");
    CHECK(logged(repo.statistics().actions, Action::AcquireFailure) == 1);
}

TEST_CASE("ProcessLockedJob refuses a job that is not locked, or locked by someone else") {
    const std::string url = fresh_database();
    JobsRepo a(RepoOptions{.url = url, .client_id = "a"});
    JobsRepo b(RepoOptions{.url = url, .client_id = "b"});
    const JobId free_job = a.create_job(a.db_now() + 20s);
    require_error([&] { a.complete_locked_job(free_job, std::nullopt); }, ErrorKind::NotLocked,
                  "not locked");
    CHECK(a.get_job(free_job)->state == JobState::Created);

    const Lock lock = a.acquire_job_lock(free_job);
    REQUIRE(lock.outcome == LockOutcome::Won);
    require_error([&] { b.complete_locked_job(free_job, lock.token + 1); }, ErrorKind::NotLocked,
                  "locked by a");
    CHECK(a.get_job(free_job)->state == JobState::Locked);
    require_error([&] { a.complete_locked_job(777777, std::nullopt); }, ErrorKind::NotFound,
                  "no job 777777");
    CHECK(logged(a.statistics().actions, Action::Error) == 3);
    a.complete_locked_job(free_job, lock.token);
    CHECK(a.get_job(free_job)->state == JobState::Completed);
}

TEST_CASE("a malformed connection string is refused with the reason") {
    require_error([] { JobsRepo repo(RepoOptions{.url = "jobs.db"}); }, ErrorKind::BadInput,
                  "backend://");
    require_error([] { JobsRepo repo(RepoOptions{.url = "mysql2://db=x"}); }, ErrorKind::BadInput,
                  "unsupported database backend");
    require_error([] { JobsRepo repo(RepoOptions{.url = "sqlite3://"}); }, ErrorKind::BadInput,
                  "no connection string");
    require_error([] { JobsRepo repo(RepoOptions{.url = "env:JOBS_TEST_NO_SUCH_VARIABLE"}); },
                  ErrorKind::BadInput, "JOBS_TEST_NO_SUCH_VARIABLE");
}

TEST_CASE("an unreachable database is retried, then reported as unavailable") {
    RepoOptions options{.url = "postgresql://host=127.0.0.1 port=1 dbname=none connect_timeout=1"};
    options.retry_for = 300ms;
    require_error([&] { JobsRepo repo(options); }, ErrorKind::Unavailable, "cannot connect");
}

TEST_CASE("a missing schema is created, or refused when creation is off") {
    const std::string url = jobs::test::empty_database();
    RepoOptions options{.url = url};
    options.create_schema = false;
    require_error([&] { JobsRepo repo(options); }, ErrorKind::Schema, "no Jobs and WorkerLogs");
    options.create_schema = true;
    JobsRepo repo(options);
    CHECK(logged(repo.statistics().actions, Action::Connect) == 1);
    const JobId id = repo.create_job(repo.db_now() + 20s);
    CHECK(repo.get_job(id).has_value());
    JobsRepo again(options);  // the second start finds the schema in place
    CHECK(logged(again.statistics().actions, Action::Connect) == 2);
}

TEST_CASE("an incompatible schema is refused with a clear message") {
    const std::string url = jobs::test::empty_database();
    {
        auto sql = open_session(ConnectionUrl::parse(url));
        *sql << "CREATE TABLE Jobs (Id integer PRIMARY KEY, RunAt varchar(30) NOT NULL)";
        *sql << "CREATE TABLE WorkerLogs (Sn integer PRIMARY KEY, Action varchar(50))";
    }
    require_error([&] { JobsRepo repo(RepoOptions{.url = url}); }, ErrorKind::Schema,
                  "incompatible schema");
}

TEST_CASE(
    "SQLite refuses a NULL or unreadable RunAt; a bad row forced past the triggers is skipped") {
    const std::string url = fresh_database();
    auto sql = open_session(ConnectionUrl::parse(url));
    if (dialect_of(*sql, ConnectionUrl::parse(url)) != Dialect::Sqlite)
        return;  // PostgreSQL types it
    for (const char* bad : {"NULL", "'garbage'", "'2026-13-45 99:99:99'", "1700000000"}) {
        CAPTURE(bad);
        try {
            *sql << std::string("INSERT INTO Jobs (RunAt) VALUES (") + bad + ")";
            FAIL("inserted a bad RunAt");
        } catch (const soci::soci_error& e) {
            CHECK(std::string(e.what()).find("RunAt must be UTC text") != std::string::npos);
        }
    }
    // A row written by a tool that bypassed the triggers (an UPDATE: they guard inserts; no
    // trigger is dropped, the file may be a data source other runs share): the list neither
    // fails nor runs it.
    JobsRepo repo(RepoOptions{.url = url});
    const JobId bad = repo.create_job(repo.db_now() + kMinPrepareTime + 500ms);
    *sql << "UPDATE Jobs SET RunAt = '2020-99-99 00:00:00.000' WHERE Id = " + std::to_string(bad);
    const JobId good = repo.create_job(repo.db_now() + kMinPrepareTime + 500ms);
    const auto ready = repo.get_ready_jobs(std::chrono::seconds(20));
    REQUIRE(ready.jobs.size() == 1);
    CHECK(ready.jobs[0].id == good);
}

TEST_CASE(
    "rows no list can read (a time that is not one, -infinity, a list row without a ClientId) "
    "are skipped and reported, and every other job is still listed") {
    const std::string url = fresh_database();
    auto sql = open_session(ConnectionUrl::parse(url));
    const bool sqlite = dialect_of(*sql, ConnectionUrl::parse(url)) == Dialect::Sqlite;
    JobsRepo repo(RepoOptions{.url = url});
    std::vector<JobId> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(repo.create_job(repo.db_now() + 10'500ms));
    const auto set = [&](JobId id, const std::string& assignment) {
        *sql << "UPDATE Jobs SET " + assignment + " WHERE Id = " + std::to_string(id);
    };
    if (sqlite) {
        set(ids[0], "CreateAt = 'not a time'");
        set(ids[2], "CreateAt = '2026-01-01 25:61:00.000'");
    } else {
        set(ids[0], "RunAt = '-infinity'");
        set(ids[2], "CreateAt = '-infinity'");
    }
    *sql << "INSERT INTO WorkerLogs (Action, ClientId) VALUES (" +
                jobs::test::quoted(Action::QueryList) + ", NULL)";
    const ReadyJobs ready = repo.get_ready_jobs(20s, 60s);
    REQUIRE(ready.jobs.size() == 2);
    CHECK(ready.jobs[0].id == ids[1]);
    CHECK(ready.jobs[1].id == ids[3]);
    REQUIRE(ready.unreadable.size() == 3);
    std::set<JobId> unreadable_jobs;
    int log_rows = 0;
    for (const UnreadableRow& row : ready.unreadable) {
        CAPTURE(row.reason);
        CHECK_FALSE(row.reason.empty());
        if (row.job_id) {
            unreadable_jobs.insert(*row.job_id);
        } else {
            ++log_rows;
        }
    }
    CHECK(unreadable_jobs == std::set<JobId>{ids[0], ids[2]});
    CHECK(log_rows == 1);
    // The one-row read of a bad job fails as an error of that call alone.
    require_error([&] { repo.get_job(ids[0]); }, ErrorKind::Database, "");
    CHECK(repo.get_job(ids[1]).has_value());
}

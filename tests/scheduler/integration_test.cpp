// Several jobs-scheduler processes sharing one database; jobs inserted with plain SQL.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <thread>

#include "jobs/harness/instance.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "jobs/repo/simulated_task.h"
#include "logged.h"
#include "test_db.h"

using namespace jobs;
using namespace std::chrono_literals;
using harness::Instance;

namespace {

struct JobRow {
    long long id = 0, delay_ms = 0, state = 0, completes = 0, locks = 0;
};

using test::as_integer;

// Read straight from the tables, not through the repository under test.
std::vector<JobRow> read_jobs(soci::session& sql, bool sqlite) {
    const std::string delay =
        sqlite ? "CAST(round((julianday(ExecuteAt) - julianday(RunAt)) * 86400000) AS INTEGER)"
               : "CAST(round(extract(epoch FROM (ExecuteAt - RunAt)) * 1000) AS bigint)";
    soci::rowset<soci::row> rows = sql.prepare
                                   << "SELECT j.Id + 0, COALESCE(" + delay +
                                          ", -1), j.State + 0, "
                                          "(SELECT count(*) FROM WorkerLogs l WHERE l.JobId = j.Id "
                                          "AND l.Action = " +
                                          jobs::test::quoted(jobs::repo::Action::Complete) +
                                          "), "
                                          "(SELECT count(*) FROM WorkerLogs l WHERE l.JobId = j.Id "
                                          "AND l.Action = " +
                                          jobs::test::quoted(jobs::repo::Action::AcquireSuccess) +
                                          ") "
                                          "FROM Jobs j ORDER BY j.Id";
    std::vector<JobRow> jobs;
    for (const auto& r : rows)
        jobs.push_back({as_integer(r, 0), as_integer(r, 1), as_integer(r, 2), as_integer(r, 3),
                        as_integer(r, 4)});
    return jobs;
}

long long count_done(soci::session& sql) {
    long long n = 0;
    sql << "SELECT count(*) FROM Jobs WHERE State = 2", soci::into(n);
    return n;
}

class Cluster {
  public:
    Cluster(const std::string& url, int instances, const std::vector<std::string>& flags = {})
        : dir_(std::filesystem::temp_directory_path() / "jobs-it") {
        std::filesystem::create_directories(dir_);
        for (int i = 0; i < instances; ++i) {
            const std::string log = (dir_ / ("instance" + std::to_string(i) + ".log")).string();
            std::filesystem::remove(log);
            logs_.push_back(log);
            std::vector<std::string> argv{JOBS_SCHEDULER, "--db", url, "--client-id",
                                          "it" + std::to_string(i)};
            argv.insert(argv.end(), flags.begin(), flags.end());
            instances_.push_back(std::make_unique<Instance>(argv, log));
        }
    }
    // SIGINT, then the exit status within `limit` (nothing if it did not exit).
    std::optional<int> interrupt(std::size_t i, std::chrono::milliseconds limit) {
        instances_[i]->signal(SIGINT);
        const auto status = instances_[i]->wait_for(limit);
        if (!status) MESSAGE("instance " << i << " did not exit; its log is " << logs_[i]);
        return status;
    }
    void kill(std::size_t i) {
        instances_[i]->signal(SIGKILL);
        instances_[i]->wait_for(5s);
    }
    std::size_t size() const { return instances_.size(); }

  private:
    std::filesystem::path dir_;
    std::vector<std::string> logs_;
    std::vector<std::unique_ptr<Instance>> instances_;
};

bool wait_until_done(soci::session& sql, long long total, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (count_done(sql) == total) return true;
        std::this_thread::sleep_for(200ms);
    }
    return false;
}

void check_once_and_on_time(const std::vector<JobRow>& jobs) {
    for (const auto& job : jobs) {
        CHECK_MESSAGE(job.state == 2, "job " << job.id);
        CHECK_MESSAGE(job.completes == 1, "job " << job.id);
        CHECK_MESSAGE(job.locks == 1, "job " << job.id);
        // ExecuteAt is stamped after the 83 ms task: anything less means it started early.
        CHECK_MESSAGE(job.delay_ms >= repo::kTaskLength.count(), "job " << job.id);
        CHECK_MESSAGE(job.delay_ms <= repo::kMaxDelayTime.count(), "job " << job.id);
    }
}

}  // namespace

TEST_CASE(
    "three instances run hand-inserted jobs, a burst of 20 among them, once each and none early" *
    doctest::timeout(120)) {
    const std::string url = test::database_from_schema_file();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    const bool sqlite =
        repo::dialect_of(*sql, repo::ConnectionUrl::parse(url)) == repo::Dialect::Sqlite;
    *sql << test::insert_jobs_sql(20, 14'000);  // the burst: one RunAt
    for (int i = 0; i < 8; ++i) *sql << test::insert_jobs_sql(1, 11'000 + 1'300 * i);
    *sql << test::insert_jobs_sql(2, -5'000);  // overdue when the instances start: run at once
    long long total = 30;

    Cluster cluster(url, 3);
    std::this_thread::sleep_for(3s);
    *sql << test::insert_jobs_sql(3, 10'300);  // added live, with the minimum notice
    total += 3;
    REQUIRE(wait_until_done(*sql, total, 60s));
    for (std::size_t i = 0; i < cluster.size(); ++i) {
        const auto begin = std::chrono::steady_clock::now();
        const auto status = cluster.interrupt(i, 3s);
        CHECK(status == std::optional<int>(0));
        MESSAGE("instance " << i << " stopped in "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - begin)
                                   .count()
                            << " ms");
    }

    const auto jobs = read_jobs(*sql, sqlite);
    REQUIRE(jobs.size() == static_cast<std::size_t>(total));
    // The overdue two (ids 29, 30) are late by design; everything else is checked for time.
    std::vector<JobRow> timed;
    for (const auto& job : jobs) {
        if (job.id != 29 && job.id != 30) timed.push_back(job);
    }
    check_once_and_on_time(timed);
    for (const auto& job : jobs) CHECK(job.completes == 1);

    std::vector<long long> burst;
    for (int i = 0; i < 20; ++i) burst.push_back(jobs[static_cast<std::size_t>(i)].delay_ms);
    const auto [lo, hi] = std::minmax_element(burst.begin(), burst.end());
    const double average = std::accumulate(burst.begin(), burst.end(), 0.0) / 20.0;
    std::vector<long long> all;
    for (const auto& job : timed) all.push_back(job.delay_ms);
    const double mean =
        std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size());
    double var = 0;
    for (const auto d : all)
        var += (static_cast<double>(d) - mean) * (static_cast<double>(d) - mean);
    MESSAGE("burst of 20: delay " << *lo << ".." << *hi << " ms, average " << average
                                  << "; all timed jobs: average " << mean << " ms, stdev "
                                  << std::sqrt(var / static_cast<double>(all.size() - 1)));
    // Run in parallel across children. Serialized on one process's 5 permits the burst would span
    // at least 3 task lengths; the margin of 2 absorbs sanitizer builds on a loaded machine.
    CHECK(*hi - *lo < 2 * repo::kTaskLength.count());
    long long locked = 0;
    *sql << "SELECT count(*) FROM Jobs WHERE State IN (0, 1)", soci::into(locked);
    CHECK(locked == 0);
}

TEST_CASE("SIGINT to two of three instances mid-run loses nothing and leaves nothing locked" *
          doctest::timeout(120)) {
    const std::string url = test::database_from_schema_file();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    const bool sqlite =
        repo::dialect_of(*sql, repo::ConnectionUrl::parse(url)) == repo::Dialect::Sqlite;
    const long long total = 24;
    for (int i = 0; i < total; ++i) *sql << test::insert_jobs_sql(1, 11'000 + 700 * i);

    Cluster cluster(url, 3);
    std::this_thread::sleep_for(16s);  // mid-run: some done, some locked, most still ahead
    CHECK(cluster.interrupt(0, 3s) == std::optional<int>(0));
    std::this_thread::sleep_for(1500ms);
    CHECK(cluster.interrupt(1, 3s) == std::optional<int>(0));
    long long left_locked = 0;
    *sql << "SELECT count(*) FROM Jobs WHERE State = 1 AND (LockedBy = 'it0' OR LockedBy = 'it1')",
        soci::into(left_locked);
    CHECK(left_locked == 0);

    REQUIRE(wait_until_done(*sql, total, 60s));
    CHECK(cluster.interrupt(2, 3s) == std::optional<int>(0));
    const auto jobs = read_jobs(*sql, sqlite);
    REQUIRE(jobs.size() == static_cast<std::size_t>(total));
    check_once_and_on_time(jobs);
}

TEST_CASE(
    "SIGKILL to an instance holding locks: another instance runs its jobs in time, none twice" *
    doctest::timeout(120)) {
    const std::string url = test::database_from_schema_file();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    const bool sqlite =
        repo::dialect_of(*sql, repo::ConnectionUrl::parse(url)) == repo::Dialect::Sqlite;
    const long long total = 16;
    for (int i = 0; i < total; ++i) *sql << test::insert_jobs_sql(1, 11'000 + 1'000 * i);

    Cluster cluster(url, 2);
    // Wait for the moment an instance holds a lock it has not started, then kill it outright.
    std::string victim;
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (victim.empty() && std::chrono::steady_clock::now() < deadline) {
        soci::rowset<soci::row> rows =
            sql->prepare << "SELECT LockedBy FROM Jobs WHERE State = 1 AND StartedAt IS NULL";
        for (const auto& r : rows) victim = r.get<std::string>(0);
        if (victim.empty()) std::this_thread::sleep_for(10ms);
    }
    REQUIRE(!victim.empty());
    const std::string survivor = victim == "it0" ? "it1" : "it0";
    cluster.kill(victim == "it0" ? 0 : 1);
    std::vector<long long> orphans;
    {
        soci::rowset<soci::row> rows =
            sql->prepare
            << "SELECT Id + 0 FROM Jobs WHERE State = 1 AND StartedAt IS NULL AND LockedBy = '" +
                   victim + "'";
        for (const auto& r : rows) orphans.push_back(as_integer(r, 0));
    }
    MESSAGE(orphans.size() << " jobs were locked, unstarted, by the killed instance");

    REQUIRE(wait_until_done(*sql, total, 60s));
    CHECK(cluster.interrupt(victim == "it0" ? 1 : 0, 3s) == std::optional<int>(0));
    const auto jobs = read_jobs(*sql, sqlite);
    for (const auto& job : jobs) {
        CHECK_MESSAGE(job.state == 2, "job " << job.id);
        CHECK_MESSAGE(job.completes == 1, "job " << job.id);
        CHECK_MESSAGE(job.delay_ms >= repo::kTaskLength.count(), "job " << job.id);
        CHECK_MESSAGE(job.delay_ms <= repo::kMaxDelayTime.count(), "job " << job.id);
    }
    for (const long long id : orphans) {
        std::string holder;
        *sql << "SELECT LockedBy FROM Jobs WHERE Id = " + std::to_string(id), soci::into(holder);
        soci::rowset<soci::row> rows = sql->prepare
                                       << "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                                              jobs::test::quoted(jobs::repo::Action::Start) +
                                              " AND JobId = " + std::to_string(id);
        const long long starts = as_integer(*rows.begin(), 0);
        CHECK_MESSAGE(holder == survivor, "job " << id);
        CHECK_MESSAGE(starts == 1, "job " << id);
    }
}

TEST_CASE("SIGKILL to an instance while its tasks run: its workers record every job, once" *
          doctest::timeout(90)) {
    const std::string url = test::database_from_schema_file();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    const bool sqlite =
        repo::dialect_of(*sql, repo::ConnectionUrl::parse(url)) == repo::Dialect::Sqlite;
    const long long total = 10;
    *sql << test::insert_jobs_sql(static_cast<int>(total), 11'000);  // one RunAt

    Cluster cluster(url, 1);
    // The instance writes the burst's fencing starts a start lead (50 ms) before RunAt, then
    // hands the jobs to its workers, whose tasks end 83 ms after RunAt. Killed 40 ms after the
    // starts are seen, it has handed every job over and recorded none (if it is slower than
    // that, some are recorded by the instance: the check below holds either way).
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    long long started = 0;
    while (started < total && std::chrono::steady_clock::now() < deadline) {
        *sql << "SELECT count(*) FROM Jobs WHERE StartedAt IS NOT NULL", soci::into(started);
        if (started < total) std::this_thread::sleep_for(5ms);
    }
    REQUIRE(started == total);
    std::this_thread::sleep_for(40ms);
    cluster.kill(0);
    long long completed_then = 0;
    *sql << "SELECT count(*) FROM Jobs WHERE State = 2", soci::into(completed_then);
    MESSAGE(completed_then << " of " << total << " jobs were recorded when the instance died");

    REQUIRE(wait_until_done(*sql, total, 30s));
    const auto jobs = read_jobs(*sql, sqlite);
    REQUIRE(jobs.size() == static_cast<std::size_t>(total));
    for (const auto& job : jobs) {
        CHECK_MESSAGE(job.completes == 1, "job " << job.id);
        CHECK_MESSAGE(job.delay_ms >= repo::kTaskLength.count(), "job " << job.id);
    }
    long long errors = 0;
    *sql << "SELECT count(*) FROM WorkerLogs WHERE Action IN (" +
                jobs::test::quoted(jobs::repo::Action::Error) + ", " +
                jobs::test::quoted(jobs::repo::Action::Interrupted) + ")",
        soci::into(errors);
    CHECK(errors == 0);
}

TEST_CASE(
    "tasks ten times longer than the run lease complete: their instance renews the lease, and "
    "no instance takes them for interrupted" *
    doctest::timeout(90)) {
    const std::string url = test::database_from_schema_file();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    const long long total = 4;
    *sql << test::insert_jobs_sql(static_cast<int>(total), 11'000);  // one RunAt
    // A run lease of 1.5 s, tasks of 15 s: every list meanwhile (one each 9.7 s) would find the
    // jobs stale if their leases were not renewed.
    Cluster cluster(url, 2,
                    {"--run-lease", "1500", "--worker", JOBS_TEST_FAKE_WORKER, "--worker-arg",
                     "pid", "--worker-arg", "15000"});
    REQUIRE(wait_until_done(*sql, total, 60s));
    long long renewals = 0, refused = 0;
    *sql << "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                jobs::test::quoted(jobs::repo::Action::Renew) + " AND Results = 1",
        soci::into(renewals);
    *sql << "SELECT count(*) FROM WorkerLogs WHERE Action IN (" +
                jobs::test::quoted(jobs::repo::Action::Error) + ", " +
                jobs::test::quoted(jobs::repo::Action::Interrupted) + ")",
        soci::into(refused);
    CHECK(refused == 0);
    // Each lease renewed every 500 to 750 ms for 15 s.
    CHECK(renewals >= total * 10);
    for (std::size_t i = 0; i < cluster.size(); ++i) CHECK(cluster.interrupt(i, 10s) == 0);
}

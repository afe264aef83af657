// PostgreSQL's plans for the batch statements when the table's statistics are stale: each job of
// a batch must be read by its primary key, not by scanning every pending job.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <soci/soci.h>

#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "test_db.h"

using namespace jobs::repo;
using namespace std::chrono_literals;

namespace {

constexpr int kPending = 20'000;
constexpr int kBatch = 256;

struct IndexReads {
    long long pending_tuples = 0;  // index entries read through ix_jobs_pending
    long long pkey_scans = 0;      // scans of jobs_pkey
};

IndexReads index_reads(soci::session& sql) {
    IndexReads r;
    sql << "SELECT pg_stat_clear_snapshot()";
    sql << "SELECT CAST(COALESCE(sum(idx_tup_read) FILTER (WHERE indexrelname = "
           "'ix_jobs_pending'), 0) AS bigint), CAST(COALESCE(sum(idx_scan) FILTER (WHERE "
           "indexrelname = 'jobs_pkey'), 0) AS bigint) FROM pg_stat_user_indexes WHERE "
           "schemaname = current_schema()",
        soci::into(r.pending_tuples), soci::into(r.pkey_scans);
    return r;
}

// Autovacuum kept off the table while the test runs, so its statistics stay stale.
class NoAutovacuum {
  public:
    explicit NoAutovacuum(soci::session& sql) : sql_(sql) {
        sql_ << "ALTER TABLE Jobs SET (autovacuum_enabled = false)";
    }
    // A destructor must not throw: a failed reset leaves only this test's table setting.
    ~NoAutovacuum() {
        try {
            sql_ << "ALTER TABLE Jobs RESET (autovacuum_enabled)";
        } catch (const std::exception& e) {
            MESSAGE("could not turn autovacuum back on: " << e.what());
        }
    }
    NoAutovacuum(const NoAutovacuum&) = delete;
    NoAutovacuum& operator=(const NoAutovacuum&) = delete;

  private:
    soci::session& sql_;
};

}  // namespace

TEST_CASE(
    "batches of locks, starts and completions read each job by its key when the statistics say "
    "that no job is pending") {
    if (jobs::test::speaks_sqlite(jobs::test::test_db())) return;  // PostgreSQL's planner only
    const std::string url = jobs::test::fresh_database();
    auto sql = open_session(ConnectionUrl::parse(url));
    NoAutovacuum guard(*sql);
    // Analyzed while every job was done, then 20,000 pending jobs arrive: the planner believes
    // ix_jobs_pending holds about none, as after a quiet hour before a burst.
    *sql << jobs::test::insert_jobs_sql(300, 60'000);
    *sql << "UPDATE Jobs SET State = 2";
    *sql << "ANALYZE Jobs";
    *sql << jobs::test::insert_jobs_sql(kPending, 60'000);
    // The pending jobs' ids, found by key: a read of ix_jobs_pending here would be counted
    // late, with the statements under test.
    long long last = 0;
    *sql << "SELECT CAST(max(Id) AS bigint) FROM Jobs", soci::into(last);
    std::vector<JobId> ids;
    for (long long id = last - kPending + 1; static_cast<int>(ids.size()) < kBatch; ++id)
        ids.push_back(id);
    REQUIRE(ids.size() == kBatch);

    JobsRepo repo(RepoOptions{.url = url, .client_id = "stale"});
    const IndexReads before = index_reads(*sql);
    const std::vector<Lock> locks = repo.acquire_job_locks(ids);
    std::vector<StartRequest> starts;
    std::vector<Completion> completions;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        REQUIRE(locks[i].outcome == LockOutcome::Won);
        starts.push_back({ids[i], locks[i].token});
        completions.push_back({ids[i], locks[i].token, std::nullopt});
    }
    const StartOutcome started = repo.start_locked_jobs(starts);
    CHECK(std::count(started.started.begin(), started.started.end(), true) == kBatch);
    CHECK(repo.complete_locked_jobs(completions).refused.empty());

    // The repository's session reports its counters once idle for a moment (at most a second
    // or so): wait until its key lookups show, then compare.
    IndexReads after = index_reads(*sql);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (after.pkey_scans - before.pkey_scans < 3 * kBatch &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
        after = index_reads(*sql);
    }
    REQUIRE(after.pkey_scans - before.pkey_scans >= 3 * kBatch);
    // Three statements that each scanned the pending jobs twice would read 120,000 entries.
    CHECK(after.pending_tuples - before.pending_tuples < kPending / 10);
}

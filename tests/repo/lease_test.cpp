// Leases and fencing: a lock expires unless its task starts, and only the lock's holder, within
// its lease, can start the task, once.
#include <doctest/doctest.h>

#include <thread>

#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"
#include "logged.h"
#include "require_error.h"
#include "test_db.h"

using namespace jobs::repo;
using jobs::test::logged;
using jobs::test::require_error;
using namespace std::chrono_literals;

namespace {

RepoOptions with_lease(const std::string& url, const std::string& client,
                       std::chrono::milliseconds lease) {
    RepoOptions options{.url = url, .client_id = client};
    options.lease = lease;
    options.run_lease = lease;
    return options;
}

}  // namespace

TEST_CASE(
    "an expired unstarted lock is taken over, and its old holder can no longer start the job") {
    const std::string url = jobs::test::fresh_database();
    JobsRepo a(with_lease(url, "a", 400ms));
    JobsRepo b(with_lease(url, "b", 400ms));
    const JobId id = a.create_job(a.db_now() + 20s);
    const Lock first = a.acquire_job_lock(id);
    REQUIRE(first.outcome == LockOutcome::Won);
    CHECK(b.acquire_job_lock(id).outcome == LockOutcome::Lost);  // lease still running
    CHECK(b.get_ready_jobs(30s).jobs.empty());                   // and not listed as free

    std::this_thread::sleep_for(600ms);
    const auto listed = b.get_ready_jobs(30s).jobs;
    REQUIRE(listed.size() == 1);  // listed again: its lease ended unstarted
    CHECK(listed[0].state == JobState::Locked);
    CHECK_FALSE(listed[0].started_at.has_value());
    const Lock second = b.acquire_job_lock(id);
    REQUIRE(second.outcome == LockOutcome::Won);
    CHECK(second.token != first.token);

    CHECK_FALSE(a.start_locked_job(id, first.token));  // the old holder woke up too late
    CHECK(b.start_locked_job(id, second.token));
    CHECK(b.start_locked_job(id, second.token));  // a retry of our own start still wins
    CHECK_THROWS_AS(a.complete_locked_job(id, first.token), RepoError);
    b.complete_locked_job(id, second.token);
    const auto job = a.get_job(id);
    CHECK(job->state == JobState::Completed);
    CHECK(job->locked_by == std::optional<std::string>("b"));
    const Statistics stats = a.statistics();
    CHECK(logged(stats.actions, Action::Start) == 2);
    CHECK(logged(stats.actions, Action::StartFailure) == 1);
}

TEST_CASE("a lock cannot be started after its lease ends, even by its holder") {
    const std::string url = jobs::test::fresh_database();
    JobsRepo a(with_lease(url, "a", 300ms));
    const JobId id = a.create_job(a.db_now() + 20s);
    const Lock lock = a.acquire_job_lock(id);
    std::this_thread::sleep_for(500ms);
    CHECK_FALSE(a.start_locked_job(id, lock.token));
    CHECK_FALSE(a.get_job(id)->started_at.has_value());
}

TEST_CASE(
    "a started job is never locked again; once its run lease ends it can only be marked "
    "interrupted") {
    const std::string url = jobs::test::fresh_database();
    JobsRepo a(with_lease(url, "a", 300ms));
    JobsRepo b(with_lease(url, "b", 300ms));
    const JobId id = a.create_job(a.db_now() + 20s);
    const Lock lock = a.acquire_job_lock(id);
    REQUIRE(a.start_locked_job(id, lock.token));
    std::this_thread::sleep_for(500ms);
    CHECK(b.acquire_job_lock(id).outcome == LockOutcome::Lost);
    const auto listed = b.get_ready_jobs(30s).jobs;
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].started_at.has_value());
    b.fail_locked_job(id, *listed[0].lock_token, JobState::Interrupted, "instance vanished");
    CHECK(a.get_job(id)->state == JobState::Interrupted);
    CHECK_THROWS_AS(a.complete_locked_job(id, lock.token), RepoError);  // too late to complete
    CHECK(b.get_ready_jobs(30s).jobs.empty());
    CHECK(logged(a.statistics().actions, Action::Interrupted) == 1);
}

TEST_CASE(
    "a renewed run lease keeps a started job out of every list; renewal works only under the "
    "job's token, only while it is started and unfinished, one RENEW row per job") {
    const std::string url = jobs::test::fresh_database();
    JobsRepo a(with_lease(url, "a", 600ms));
    JobsRepo b(with_lease(url, "b", 600ms));
    const JobId running = a.create_job(a.db_now() + 20s);
    const JobId unstarted = a.create_job(a.db_now() + 20s);
    const JobId done = a.create_job(a.db_now() + 20s);
    const Lock r = a.acquire_job_lock(running);
    const Lock u = a.acquire_job_lock(unstarted);
    const Lock d = a.acquire_job_lock(done);
    REQUIRE(a.start_locked_job(running, r.token));
    REQUIRE(a.start_locked_job(done, d.token));
    a.complete_locked_job(done, d.token);
    // Renewed every 200 ms for 1.2 s: twice the lease, and never listed as stale meanwhile.
    for (int i = 0; i < 6; ++i) {
        std::this_thread::sleep_for(200ms);
        const auto renewed = a.renew_run_leases(
            {{running, r.token}, {unstarted, u.token}, {done, d.token}, {running + 100, 1}});
        CHECK(renewed == std::vector<Renewal>{Renewal::Renewed, Renewal::Waiting, Renewal::Lost,
                                              Renewal::Lost});
        for (const Job& job : b.get_ready_jobs(30s).jobs) CHECK(job.id != running);
    }
    CHECK(b.renew_run_leases({{running, r.token + 1}}) == std::vector<Renewal>{Renewal::Lost});
    // Unrenewed, it lapses and is listed for interruption.
    std::this_thread::sleep_for(800ms);
    bool listed = false;
    for (const Job& job : b.get_ready_jobs(30s).jobs) listed = listed || job.id == running;
    CHECK(listed);
    a.complete_locked_job(running, r.token);  // still its holder's to complete
    const Statistics stats = a.statistics();
    CHECK(logged(stats.actions, Action::Renew) == 6 * 4 + 1);
    require_error(
        [&] {
            a.renew_run_leases({{running, r.token}, {running, r.token}});
        },
        ErrorKind::BadInput, "twice");
}

TEST_CASE(
    "a job is taken for interrupted only while its run lease is lapsed: a renewal since the list "
    "keeps it its instance's") {
    const std::string url = jobs::test::fresh_database();
    JobsRepo a(with_lease(url, "a", 400ms));
    JobsRepo b(with_lease(url, "b", 400ms));
    const JobId id = a.create_job(a.db_now() + 20s);
    const Lock lock = a.acquire_job_lock(id);
    REQUIRE(a.start_locked_job(id, lock.token));
    CHECK_FALSE(b.interrupt_lapsed_job(id, lock.token));  // its lease runs
    std::this_thread::sleep_for(600ms);
    const auto listed = b.get_ready_jobs(30s).jobs;
    REQUIRE(listed.size() == 1);  // lapsed: a list offers it for interruption
    // Its instance was only slow: it renews before the interruption lands.
    REQUIRE(a.renew_run_leases({{id, lock.token}}) == std::vector<Renewal>{Renewal::Renewed});
    CHECK_FALSE(b.interrupt_lapsed_job(id, *listed[0].lock_token));
    CHECK(a.get_job(id)->state == JobState::Locked);
    std::this_thread::sleep_for(600ms);
    CHECK(b.interrupt_lapsed_job(id, lock.token));
    CHECK(b.interrupt_lapsed_job(id, lock.token));  // a retry finds its own write
    CHECK(a.get_job(id)->state == JobState::Interrupted);
    CHECK_THROWS_AS(a.complete_locked_job(id, lock.token), RepoError);
}

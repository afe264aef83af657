// The repository suite: the same cases on SQLite, PostgreSQL and both through ODBC.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <soci/soci.h>

#include "child_process.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "jobs/repo/simulated_task.h"
#include "logged.h"
#include "require_error.h"
#include "test_db.h"

using namespace jobs::repo;
using jobs::test::logged;
using namespace std::chrono_literals;
using jobs::test::fresh_database;
using jobs::test::require_error;

namespace {

RepoOptions options_for(const std::string& url, const std::string& client = "test") {
    return RepoOptions{.url = url, .client_id = client};
}

long long epoch_ms_in(std::chrono::milliseconds delay) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               (std::chrono::system_clock::now() + delay).time_since_epoch())
        .count();
}

std::vector<JobId> create_jobs(JobsRepo& repo, int count, std::chrono::milliseconds ahead = 20s) {
    std::vector<JobId> ids;
    const DbTime run_at = repo.db_now() + ahead;
    for (int i = 0; i < count; ++i)
        ids.push_back(repo.create_job(run_at + std::chrono::milliseconds(i)));
    return ids;
}

}  // namespace

TEST_CASE("a created job reads back with its RunAt, payload and database stamps") {
    JobsRepo repo(options_for(fresh_database()));
    const DbTime before = repo.db_now();
    const DbTime run_at = before + 15'250ms;
    const JobId id = repo.create_job(run_at, std::string("{\"n\": 1}"));
    const auto job = repo.get_job(id);
    REQUIRE(job.has_value());
    CHECK(job->id == id);
    CHECK(job->run_at == run_at);
    CHECK(job->state == JobState::Created);
    CHECK(job->payload == std::optional<std::string>("{\"n\": 1}"));
    CHECK_FALSE(job->lock_at.has_value());
    CHECK_FALSE(job->execute_at.has_value());
    CHECK(job->create_at >= before - 1ms);
    CHECK(job->create_at <= repo.db_now() + 1ms);
}

TEST_CASE("GetReadyJobs lists only free jobs due within the window, by RunAt, and logs each call") {
    JobsRepo repo(options_for(fresh_database()));
    const DbTime now = repo.db_now();
    const JobId late = repo.create_job(now + 12s);
    const JobId early = repo.create_job(now + 11s);
    const JobId far = repo.create_job(now + 60s);
    const JobId taken = repo.create_job(now + 11'500ms);
    REQUIRE(repo.acquire_job_lock(taken).outcome == LockOutcome::Won);

    const ReadyJobs ready = repo.get_ready_jobs(20s);
    REQUIRE(ready.jobs.size() == 2);
    CHECK(ready.jobs[0].id == early);
    CHECK(ready.jobs[1].id == late);
    CHECK(ready.db_now >= now);
    CHECK(repo.get_ready_jobs(5s).jobs.empty());
    CHECK(repo.get_ready_jobs(61s).jobs.size() == 3);
    (void)far;

    const Statistics stats = repo.statistics();
    CHECK(logged(stats.actions, Action::QueryList) == 3);
    CHECK(logged(stats.actions, Action::Create) == 4);
    CHECK(logged(stats.actions, Action::AcquireSuccess) == 1);
}

TEST_CASE("GetReadyJobs on an empty table still reads the database clock") {
    JobsRepo repo(options_for(fresh_database()));
    const DbTime before = repo.db_now();
    const ReadyJobs ready = repo.get_ready_jobs(10s);
    CHECK(ready.jobs.empty());
    CHECK(ready.db_now >= before);
    CHECK(ready.db_now <= repo.db_now());
}

TEST_CASE(
    "a list bounded in rows covers up to its last row, by RunAt then Id, and the next list, "
    "whoever makes it, goes on after it") {
    const std::string url = fresh_database();
    JobsRepo a(options_for(url, "a"));
    JobsRepo b(options_for(url, "b"));
    const DbTime run_at = a.db_now() + 20s;
    std::vector<JobId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(a.create_job(run_at));  // a burst: one RunAt
    // Only jobs created more than kFrontierSlack before a truncated list count as covered by it.
    std::this_thread::sleep_for(kFrontierSlack + 100ms);

    const ReadyJobs first = a.get_ready_jobs(30s, 60s, 2);
    REQUIRE(first.jobs.size() == 2);
    CHECK(first.jobs[0].id == ids[0]);
    CHECK(first.jobs[1].id == ids[1]);
    CHECK(first.truncated);
    REQUIRE(first.stop);
    CHECK(*first.stop == ListStop{run_at, ids[1]});

    const ReadyJobs second = b.get_ready_jobs(30s, 60s, 2);
    REQUIRE(second.jobs.size() == 2);
    CHECK(second.jobs[0].id == ids[2]);
    CHECK(second.jobs[1].id == ids[3]);
    REQUIRE(second.recent_lists.size() == 1);
    CHECK(second.recent_lists[0].truncated);
    CHECK(second.recent_lists[0].stop == first.stop);

    // Created since: not covered by the truncated lists, whatever its RunAt.
    const JobId late = a.create_job(run_at - 1s);
    const ReadyJobs third = a.get_ready_jobs(30s, 60s, 10);
    REQUIRE(third.jobs.size() == 2);
    CHECK(third.jobs[0].id == late);
    CHECK(third.jobs[1].id == ids[4]);
    CHECK_FALSE(third.truncated);
    CHECK_FALSE(third.stop);
    // After a list that was not truncated, everything free comes back.
    const ReadyJobs fourth = b.get_ready_jobs(30s, 60s, 0);
    CHECK(fourth.jobs.size() == 6);
    REQUIRE(fourth.recent_lists.size() == 3);
    CHECK(fourth.recent_lists[1].stop == second.stop);
    CHECK_FALSE(fourth.recent_lists[2].truncated);
    // Without coordination (no history) a list never goes on after another: the first rows.
    const ReadyJobs alone = a.get_ready_jobs(30s, 0s, 2);
    REQUIRE(alone.jobs.size() == 2);
    CHECK(alone.jobs[0].id == late);
    CHECK(alone.truncated);
    require_error([&] { a.get_ready_jobs(30s, 60s, kMaxListLimit + 1); }, ErrorKind::BadInput,
                  "limit");
}

TEST_CASE(
    "lists return the recent lists and departures of every instance; a look reads the latest in "
    "one row") {
    const std::string url = fresh_database();
    JobsRepo a(options_for(url, "a"));
    JobsRepo b(options_for(url, "b"));
    const ClusterPeek empty = a.peek_lists();
    CHECK_FALSE(empty.last_list);
    CHECK_FALSE(empty.last_leave);

    const ReadyJobs first = a.get_ready_jobs(10s, 60s);
    std::this_thread::sleep_for(5ms);
    b.leave();
    const ReadyJobs second = b.get_ready_jobs(10s, 60s);
    CHECK(first.recent_lists.empty());
    REQUIRE(second.recent_lists.size() == 2);
    CHECK(second.recent_lists[0].client_id == "a");
    CHECK_FALSE(second.recent_lists[0].leave);
    CHECK(second.recent_lists[0].at <= first.db_now + 1ms);
    CHECK(second.recent_lists[1].client_id == "b");
    CHECK(second.recent_lists[1].leave);
    // Without history, no rows of the log come back.
    CHECK(a.get_ready_jobs(10s).recent_lists.empty());

    const ClusterPeek peek = a.peek_lists();
    // The clock sample is read after the statement's start, never before it.
    // The clock sample is read after the statement's start, never before it. A list's stamp is
    // not a sample: made within a millisecond of the list before (as here), it is a millisecond
    // after that one's, a moment ahead of the clock.
    const auto us = [](DbTime t) { return std::chrono::microseconds(t.time_since_epoch()); };
    CHECK(peek.clock >= us(peek.db_now));
    CHECK(peek.clock < us(peek.db_now) + 1s);
    CHECK(second.clock >= us(second.db_now - 5ms));
    CHECK(second.clock < us(second.db_now) + 1s);
    REQUIRE(peek.last_list);
    REQUIRE(peek.last_leave);
    CHECK(*peek.last_list >= second.db_now - 1ms);
    CHECK(*peek.last_list <= peek.db_now + 5ms);
    CHECK(*peek.last_leave >= first.db_now);
    CHECK(*peek.last_leave <= second.db_now);
    const Statistics stats = a.statistics();
    CHECK(logged(stats.actions, Action::QueryLast) == 2);
    CHECK(logged(stats.actions, Action::Leave) == 1);
    CHECK(logged(stats.actions, Action::QueryList) == 3);
}

TEST_CASE(
    "lists made at the same moment by several instances are ordered: no two share a stamp, and "
    "each one's history holds every list stamped before it" *
    doctest::timeout(120)) {
    // Two lists that each miss the other's row would both take the same jobs. The backend
    // serializes lists, so a list sees every list stamped before its own stamp.
    const std::string url = fresh_database();
    constexpr int kThreads = 3;
    struct Seen {
        std::string client;
        DbTime at;
        std::vector<ListRecord> recent;
    };
    std::vector<std::vector<Seen>> seen(kThreads);
    std::vector<std::string> errors(kThreads);
    const bool sqlite = jobs::test::speaks_sqlite(jobs::test::test_db());
    const std::chrono::microseconds breath = sqlite ? 10ms : 500us;
    const int kLists = sqlite ? 8 : 20;  // slow through the ODBC driver while contended
    const auto start = std::chrono::steady_clock::now() + 500ms;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                const std::string client = "lister" + std::to_string(t);
                RepoOptions options = options_for(url, client);
                // SQLite hands its write lock to whichever waiter polls first, so one lister can
                // wait out every other lister's turns (seen under ThreadSanitizer through the
                // ODBC driver: 10 s). The test is about order, not speed: wait as long as the
                // test may run.
                options.retry_for = 100s;
                JobsRepo repo(options);
                std::this_thread::sleep_until(start);
                for (int i = 0; i < kLists; ++i) {
                    ReadyJobs ready = repo.get_ready_jobs(10s, 300s);
                    seen[t].push_back({client, ready.db_now, std::move(ready.recent_lists)});
                    // A breath between lists: SQLite grants its write lock to no one in turn,
                    // and a thread that never pauses could starve the others. Its lists are
                    // serialized by that lock anyway; PostgreSQL's need the overlap to be tested.
                    std::this_thread::sleep_for(breath * ((i + t) % 4));
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) REQUIRE_MESSAGE(error.empty(), error);
    int pairs = 0;
    int missed = 0;
    int shared = 0;  // two lists with one stamp: their order would be undefined
    std::string example;
    for (const auto& lister : seen) {
        for (const auto& later : lister) {
            for (const auto& other : seen) {
                for (const auto& earlier : other) {
                    if (&earlier != &later && earlier.at == later.at) ++shared;
                    // Within the history the lists asked for, with room for a slow backend.
                    if (!(earlier.at < later.at) || later.at - earlier.at > 250s) continue;
                    ++pairs;
                    const bool found = std::any_of(
                        later.recent.begin(), later.recent.end(), [&](const ListRecord& r) {
                            return r.client_id == earlier.client && r.at == earlier.at;
                        });
                    if (found) continue;
                    ++missed;
                    if (example.empty()) {
                        example = later.client + "'s list did not see " + earlier.client +
                                  "'s, stamped " + std::to_string((later.at - earlier.at).count()) +
                                  " ms before it";
                    }
                }
            }
        }
    }
    CHECK(pairs > kThreads * kLists);
    CHECK_MESSAGE(missed == 0, missed << " of " << pairs << " pairs; e.g. " << example);
    CHECK(shared == 0);
}

TEST_CASE("GetJob logs QUERYJOB and returns nothing for an unknown id") {
    JobsRepo repo(options_for(fresh_database()));
    const JobId id = create_jobs(repo, 1)[0];
    CHECK(repo.get_job(id).has_value());
    CHECK_FALSE(repo.get_job(id + 1000).has_value());
    CHECK(logged(repo.statistics().actions, Action::QueryJob) == 2);
}

TEST_CASE("a lock is won once: a second attempt, even by its winner, loses and is logged") {
    const std::string url = fresh_database();
    JobsRepo a(options_for(url, "a"));
    JobsRepo b(options_for(url, "b"));
    const JobId id = create_jobs(a, 1)[0];
    const Lock won = a.acquire_job_lock(id);
    CHECK(won.outcome == LockOutcome::Won);
    CHECK(won.token != 0);
    CHECK(b.acquire_job_lock(id).outcome == LockOutcome::Lost);
    CHECK(a.acquire_job_lock(id).outcome == LockOutcome::Lost);
    const auto job = b.get_job(id);
    REQUIRE(job);
    CHECK(job->state == JobState::Locked);
    CHECK(job->locked_by == std::optional<std::string>("a"));
    CHECK(job->lock_token == won.token);
    const Statistics stats = a.statistics();
    CHECK(logged(stats.actions, Action::AcquireSuccess) == 1);
    CHECK(logged(stats.actions, Action::AcquireFailure) == 2);
}

TEST_CASE("racing threads and processes for the same 200 jobs: each won exactly once") {
    const std::string url = fresh_database();
    JobsRepo setup(options_for(url, "setup"));
    const std::vector<JobId> ids = create_jobs(setup, 200, 60s);
    const JobId first = ids.front();
    const JobId last = ids.back();
    REQUIRE(last - first == 199);

    constexpr int kProcesses = 3;
    constexpr int kThreads = 2;
    const std::string start = std::to_string(epoch_ms_in(1500ms));
    std::vector<std::unique_ptr<jobs::test::ChildProcess>> racers;
    for (int p = 0; p < kProcesses; ++p) {
        racers.push_back(std::make_unique<jobs::test::ChildProcess>(std::vector<std::string>{
            JOBS_TEST_RACER, "lock", url, "racer" + std::to_string(p), std::to_string(first),
            std::to_string(last), std::to_string(kThreads), start}));
    }
    std::map<JobId, int> wins;
    for (auto& racer : racers) {
        std::string output;
        REQUIRE(racer->wait(output) == 0);
        std::istringstream lines(output);
        std::string tag;
        JobId id = 0;
        while (lines >> tag >> id) ++wins[id];
    }
    CHECK(wins.size() == 200);
    for (const auto& [id, count] : wins) CHECK_MESSAGE(count == 1, "job " << id);

    const Statistics stats = setup.statistics();
    const long long attempts = 200LL * kProcesses * kThreads;
    CHECK(logged(stats.actions, Action::AcquireSuccess) == 200);
    CHECK(logged(stats.actions, Action::AcquireFailure) == attempts - 200);
    CHECK(stats.states.at(static_cast<int>(JobState::Locked)) == 200);
}

TEST_CASE("ProcessLockedJob runs the task, then completes the job with ExecuteAt after it") {
    JobsRepo repo(options_for(fresh_database()));
    const JobId id = create_jobs(repo, 1)[0];
    const Lock lock = repo.acquire_job_lock(id);
    REQUIRE(lock.outcome == LockOutcome::Won);
    const DbTime before = repo.db_now();
    repo.process_locked_job(id, lock.token);
    const auto job = repo.get_job(id);
    REQUIRE(job);
    CHECK(job->state == JobState::Completed);
    REQUIRE(job->execute_at);
    CHECK(*job->execute_at >= before + kTaskLength - 1ms);
    CHECK(*job->lock_at <= before);
    CHECK(logged(repo.statistics().actions, Action::Complete) == 1);
}

TEST_CASE("a batch of completions completes each job under its own token, in one call") {
    const std::string url = fresh_database();
    JobsRepo repo(options_for(url));
    const std::vector<JobId> ids = create_jobs(repo, 5);
    std::vector<Lock> locks;
    for (JobId id : ids) locks.push_back(repo.acquire_job_lock(id));
    const std::string odd_result = "it's \"done\"\t\\ {\"json\": [1]} \xc3\xa9";
    const DbTime before = repo.db_now();
    // ids[3] with someone else's token and ids[4] not locked at all are refused; the rest are
    // completed, each with its own result.
    CHECK(repo.complete_locked_jobs({{ids[4], 0, std::nullopt}}).refused.size() == 1);
    repo.fail_locked_job(ids[4], locks[4].token, JobState::Failed, "taken out of the batch");
    const std::vector<Completion> batch = {{ids[0], locks[0].token, odd_result},
                                           {ids[1], locks[1].token, std::string()},
                                           {ids[2], locks[2].token, std::nullopt},
                                           {ids[3], locks[3].token + 1, std::nullopt},
                                           {ids[4], locks[4].token, std::nullopt}};
    const std::vector<JobId> refused = repo.complete_locked_jobs(batch).refused;
    CHECK(std::set<JobId>(refused.begin(), refused.end()) == std::set<JobId>{ids[3], ids[4]});
    for (int i = 0; i < 3; ++i) {
        const auto job = repo.get_job(ids[i]);
        REQUIRE(job);
        CHECK(job->state == JobState::Completed);
        REQUIRE(job->execute_at);
        CHECK(*job->execute_at >= before - 1ms);
    }
    CHECK(repo.get_job(ids[3])->state == JobState::Locked);
    CHECK(repo.get_job(ids[4])->state == JobState::Failed);
    auto sql = open_session(ConnectionUrl::parse(url));
    std::string result;
    soci::indicator ind = soci::i_ok;
    *sql << "SELECT Result FROM Jobs WHERE Id = " + std::to_string(ids[0]), soci::into(result, ind);
    CHECK(result == odd_result);
    for (JobId id : {ids[1], ids[2]}) {
        *sql << "SELECT Result FROM Jobs WHERE Id = " + std::to_string(id), soci::into(result, ind);
        CHECK(ind == soci::i_null);
    }
    const Statistics stats = repo.statistics();
    CHECK(logged(stats.actions, Action::Complete) == 3);
    CHECK(logged(stats.actions, Action::Error) == 3);
    // A retry of the same batch (its reply lost) finds its own completions: only the jobs it
    // never held are refused.
    const std::vector<JobId> again = repo.complete_locked_jobs({batch[0], batch[3]}).refused;
    CHECK(again == std::vector<JobId>{ids[3]});
    CHECK_THROWS_AS(repo.complete_locked_jobs({batch[3], batch[3]}), RepoError);
    CHECK(repo.complete_locked_jobs({}).refused.empty());
}

TEST_CASE(
    "five permits per process: ten tasks in one process take two task lengths, in two do not") {
    const std::string url = fresh_database();
    JobsRepo setup(options_for(url, "setup"));
    const std::vector<JobId> ids = create_jobs(setup, 20, 60s);
    const auto run = [&](std::vector<std::pair<JobId, JobId>> ranges) {
        const std::string start = std::to_string(epoch_ms_in(2000ms));
        std::vector<std::unique_ptr<jobs::test::ChildProcess>> children;
        for (const auto& [from, to] : ranges) {
            children.push_back(std::make_unique<jobs::test::ChildProcess>(std::vector<std::string>{
                JOBS_TEST_RACER, "process", url, "p" + std::to_string(from), std::to_string(from),
                std::to_string(to), start}));
        }
        long long slowest = 0;
        for (auto& child : children) {
            std::string output;
            REQUIRE(child->wait(output) == 0);
            slowest = std::max(slowest, std::stoll(output));
        }
        return slowest;
    };
    const long long one_process = run({{ids[0], ids[9]}});
    const long long two_processes = run({{ids[10], ids[14]}, {ids[15], ids[19]}});
    MESSAGE("10 tasks in one process: " << one_process << " ms; 5+5 in two: " << two_processes
                                        << " ms");
    // The permit limit forces two rounds; two processes have five permits each.
    CHECK(one_process >= 2 * kTaskLength.count());
    CHECK(two_processes < one_process - kTaskLength.count() / 2);
    CHECK(setup.statistics().states.at(static_cast<int>(JobState::Completed)) == 20);
}

TEST_CASE("every stamp is taken from the database clock") {
    JobsRepo repo(options_for(fresh_database()));
    const DbTime t0 = repo.db_now();
    const JobId id = create_jobs(repo, 1)[0];
    const Lock lock = repo.acquire_job_lock(id);
    repo.process_locked_job(id, lock.token);
    const DbTime t1 = repo.db_now();
    const auto job = repo.get_job(id);
    REQUIRE(job);
    for (const DbTime stamp : {job->create_at, *job->lock_at, *job->execute_at}) {
        CHECK(stamp >= t0 - 1ms);
        CHECK(stamp <= t1 + 1ms);
    }
    CHECK(*job->lock_at <= *job->execute_at);
}

TEST_CASE("Reset empties both tables and restarts the ids") {
    JobsRepo repo(options_for(fresh_database()));
    create_jobs(repo, 3);
    repo.reset();
    const Statistics stats = repo.statistics();
    CHECK(stats.actions.empty());
    CHECK(stats.states.empty());
    CHECK(create_jobs(repo, 1)[0] == 1);
}

TEST_CASE(
    "one batch locks the free jobs and loses the taken and unknown ones; one batch of fencing "
    "starts wins only under live tokens") {
    const std::string url = fresh_database();
    JobsRepo a(options_for(url, "a"));
    JobsRepo b(options_for(url, "b"));
    const std::vector<JobId> ids = create_jobs(a, 4);
    REQUIRE(b.acquire_job_lock(ids[1]).outcome == LockOutcome::Won);
    const JobId unknown = ids.back() + 1'000;
    const std::vector<Lock> locks = a.acquire_job_locks({ids[0], ids[1], unknown, ids[2], ids[3]});
    REQUIRE(locks.size() == 5);
    CHECK(locks[0].outcome == LockOutcome::Won);
    CHECK(locks[1].outcome == LockOutcome::Lost);
    CHECK(locks[2].outcome == LockOutcome::Lost);
    CHECK(locks[3].outcome == LockOutcome::Won);
    CHECK(locks[4].outcome == LockOutcome::Won);
    CHECK(locks[0].token != locks[3].token);
    CHECK(a.get_job(ids[0])->locked_by == std::optional<std::string>("a"));
    CHECK(a.get_job(ids[1])->locked_by == std::optional<std::string>("b"));
    const Statistics stats = a.statistics();
    CHECK(logged(stats.actions, Action::AcquireSuccess) == 4);  // b's one, a's three
    CHECK(logged(stats.actions, Action::AcquireFailure) == 2);

    const DbTime before_start = a.db_now();
    const StartOutcome started = a.start_locked_jobs(
        {{ids[0], locks[0].token}, {ids[3], locks[3].token + 1}, {ids[4 - 1 - 1], locks[3].token}});
    CHECK(started.started == std::vector<bool>{true, false, true});
    // The statement's clock reading: a sample taken just before tasks begin.
    CHECK(started.clock >= std::chrono::microseconds(before_start.time_since_epoch()));
    CHECK(started.clock <= std::chrono::microseconds(a.db_now().time_since_epoch()) + 1ms);
    CHECK(a.get_job(ids[0])->started_at.has_value());
    CHECK_FALSE(a.get_job(ids[3])->started_at.has_value());
    CHECK(logged(a.statistics().actions, Action::Start) == 2);
    CHECK(logged(a.statistics().actions, Action::StartFailure) == 1);
    require_error([&] { a.acquire_job_locks({ids[0], ids[0]}); }, ErrorKind::BadInput, "twice");
}

TEST_CASE(
    "batches of locks from racing instances, in opposite orders: each job won exactly once, "
    "no deadlock" *
    doctest::timeout(120)) {
    const std::string url = fresh_database();
    JobsRepo setup(options_for(url, "setup"));
    const std::vector<JobId> ids = create_jobs(setup, 200);
    constexpr int kRacers = 4;
    std::vector<std::vector<Lock>> outcomes(kRacers);
    std::vector<std::string> errors(kRacers);
    std::vector<std::thread> racers;
    for (int r = 0; r < kRacers; ++r) {
        racers.emplace_back([&, r] {
            try {
                JobsRepo repo(options_for(url, "racer-" + std::to_string(r)));
                std::vector<JobId> mine = ids;
                if (r % 2 == 1) std::reverse(mine.begin(), mine.end());
                // Batches of 50, overlapping the others' in the opposite order.
                for (std::size_t i = 0; i < mine.size(); i += 50) {
                    const std::vector<JobId> batch(mine.begin() + static_cast<long>(i),
                                                   mine.begin() + static_cast<long>(i + 50));
                    for (const Lock& l : repo.acquire_job_locks(batch)) outcomes[r].push_back(l);
                }
            } catch (const std::exception& e) {
                errors[r] = e.what();
            }
        });
    }
    for (auto& t : racers) t.join();
    long long won = 0;
    for (int r = 0; r < kRacers; ++r) {
        CHECK(errors[r] == "");
        for (const Lock& l : outcomes[r]) won += l.outcome == LockOutcome::Won ? 1 : 0;
    }
    CHECK(won == 200);
    const Statistics stats = setup.statistics();
    CHECK(stats.states.at(static_cast<int>(JobState::Locked)) == 200);
    CHECK(logged(stats.actions, Action::AcquireSuccess) == 200);
}

TEST_CASE("jobs created in one batch are all inserted, or none when one is too soon") {
    const std::string url = fresh_database();
    JobsRepo repo(options_for(url));
    const DbTime now = repo.db_now();
    std::vector<DbTime> run_ats;
    for (int i = 0; i < 1'000; ++i) run_ats.push_back(now + 20s + std::chrono::milliseconds(i));
    repo.create_jobs(run_ats);
    Statistics stats = repo.statistics();
    CHECK(stats.states.at(static_cast<int>(JobState::Created)) == 1'000);
    CHECK(logged(stats.actions, Action::Create) == 1'000);
    const ReadyJobs ready = repo.get_ready_jobs(30s, 0s);
    REQUIRE(ready.jobs.size() == 1'000);
    CHECK(ready.jobs.front().run_at == run_ats.front());
    CHECK(ready.jobs.back().run_at == run_ats.back());
    require_error(
        [&] {
            repo.create_jobs({now + 30s, now + 1s});
        },
        ErrorKind::BadInput, "MinPrepareTime");
    stats = repo.statistics();
    CHECK(stats.states.at(static_cast<int>(JobState::Created)) == 1'000);
}

TEST_CASE(
    "results and messages of any bytes are stored, NUL and malformed UTF-8 as U+FFFD, and never "
    "fail the batch they are in; a payload that is not text is refused with a clear error") {
    using namespace std::string_literals;
    const std::string url = fresh_database();
    JobsRepo repo(options_for(url));
    const std::vector<JobId> ids = create_jobs(repo, 3);
    std::vector<Lock> locks;
    for (JobId id : ids) locks.push_back(repo.acquire_job_lock(id));
    const std::vector<Completion> batch = {{ids[0], locks[0].token, "bad \xff\xfe utf-8"s},
                                           {ids[1], locks[1].token, "a\0nul"s},
                                           {ids[2], locks[2].token, "fine"s}};
    CHECK(repo.complete_locked_jobs(batch).refused.empty());
    auto sql = open_session(ConnectionUrl::parse(url));
    const auto result_of = [&](JobId id) {
        std::string result;
        *sql << "SELECT Result FROM Jobs WHERE Id = " + std::to_string(id), soci::into(result);
        return result;
    };
    CHECK(result_of(ids[0]) == "bad \xef\xbf\xbd\xef\xbf\xbd utf-8");
    CHECK(result_of(ids[1]) == "a\xef\xbf\xbdnul");
    CHECK(result_of(ids[2]) == "fine");

    const JobId failing = create_jobs(repo, 1)[0];
    const Lock lock = repo.acquire_job_lock(failing);
    repo.fail_locked_job(failing, lock.token, JobState::Failed, "crashed: \xc0\0"s);
    CHECK(repo.get_job(failing)->state == JobState::Failed);
    CHECK(result_of(failing) == "crashed: \xef\xbf\xbd\xef\xbf\xbd");

    require_error([&] { repo.create_job(repo.db_now() + 20s, "\x89PNG\r\n\x1a\n\0\0"s); },
                  ErrorKind::BadInput, "base64");
}

// The per-job phases, decided without I/O (job_tracker.h).
#include <doctest/doctest.h>

#include "jobs/repo/jobs_repo.h"
#include "jobs/scheduler/job_tracker.h"

using namespace jobs::scheduler;
using jobs::repo::DbTime;
using jobs::repo::Job;
using namespace std::chrono_literals;

namespace {

const DbTime kNow{std::chrono::milliseconds{1'735'732'800'000}};

Job job(jobs::repo::JobId id, DbTime run_at) {
    Job j;
    j.id = id;
    j.run_at = run_at;
    return j;
}

// The decision's kind, or nothing: safe to compare when there is no decision.
std::optional<JobTracker::HandOver> kind(const std::optional<JobTracker::HandOverDecision>& d) {
    if (!d) return std::nullopt;
    return d->kind;
}

}  // namespace

TEST_CASE(
    "a job goes waiting, checking, locked, handed over; a second list does not plan it "
    "again while it is in hand") {
    JobTracker t;
    REQUIRE(t.admit(job(1, kNow + 5s), true) != nullptr);
    CHECK(t.admit(job(1, kNow + 5s), true) == nullptr);
    REQUIRE(t.begin_check(1) != nullptr);
    CHECK(t.begin_check(1) == nullptr);  // one check per lock time
    CHECK(t.busy());
    REQUIRE(t.on_checked(1, true, 42) != nullptr);
    CHECK(t.find(1)->token == 42);
    CHECK(kind(t.hand_over(1, true)) == JobTracker::HandOver::Push);
    CHECK_FALSE(t.hand_over(1, true));  // never handed over twice
    CHECK_FALSE(t.busy());
}

TEST_CASE("a lost race ends the job here; listed again later, it is planned again") {
    JobTracker t;
    t.admit(job(1, kNow + 5s), false);
    t.begin_check(1);
    CHECK(t.on_checked(1, false, 0) == nullptr);
    CHECK(t.find(1)->phase == JobPhase::Done);
    CHECK(t.admit(job(1, kNow + 5s), false) != nullptr);
}

TEST_CASE("a plain worker's job waits for the scheduler's fencing start before it is done") {
    JobTracker t;
    t.admit(job(1, kNow), true);
    t.begin_check(1);
    t.on_checked(1, true, 7);
    CHECK(kind(t.hand_over(1, false)) == JobTracker::HandOver::Fence);
    CHECK(t.busy());
    t.on_started(1);
    CHECK_FALSE(t.busy());
}

TEST_CASE("an oversized payload is refused at hand-over, not run") {
    JobTracker t;
    Job big = job(1, kNow);
    big.payload = std::string(jobs::repo::kMaxPayloadBytes + 1, 'x');
    t.admit(big, true);
    t.begin_check(1);
    t.on_checked(1, true, 7);
    const auto refused = t.hand_over(1, true);
    REQUIRE(refused);
    CHECK(refused->kind == JobTracker::HandOver::Refuse);
    CHECK(refused->refusal.find("exceeds") != std::string::npos);
}

TEST_CASE(
    "stopping lets waiting jobs go with their timers, keeps locked ones, and checks no more") {
    JobTracker t;
    t.admit(job(1, kNow + 5s), true)->timer = 11;
    t.admit(job(2, kNow + 1s), true);
    t.begin_check(2);
    t.on_checked(2, true, 7);
    t.admit(job(3, kNow + 6s), true);
    const auto s = t.stop();
    CHECK(s.let_go == 2);
    CHECK(s.locked == 1);
    CHECK(s.cancel == std::vector<EventLoop::TimerId>{11});
    CHECK(t.begin_check(3) == nullptr);
    CHECK(t.busy());  // job 2 still runs
    CHECK(kind(t.hand_over(2, true)) == JobTracker::HandOver::Push);
    CHECK_FALSE(t.busy());
}

TEST_CASE(
    "jobs due within a second of each other count as one burst; finished ones are "
    "forgotten once no list can return them") {
    JobTracker t;
    for (int i = 1; i <= 20; ++i) t.admit(job(i, kNow + 10s), true);
    t.admit(job(21, kNow + 12s), true);
    CHECK(t.due_together(kNow + 10s, 1s) == 20);
    t.begin_check(21);
    t.on_checked(21, false, 0);
    t.forget_done_before(kNow + 13s);
    CHECK_FALSE(t.knows(21));
    CHECK(t.knows(1));
}

TEST_CASE(
    "the burst count follows each job's phase: a lost race, a hand-over and a stop take a job "
    "out of it, a job only listed by another's turn never enters it") {
    JobTracker t;
    for (int i = 1; i <= 10; ++i) t.admit(job(i, kNow + 10s), true);
    t.admit(job(11, kNow + 10s), false);  // not ours: counted only once locked
    CHECK(t.due_together(kNow + 10s, 1s) == 10);
    t.begin_check(11);
    t.on_checked(11, true, 7);
    CHECK(t.due_together(kNow + 10s, 1s) == 11);
    t.begin_check(1);
    t.on_checked(1, false, 0);
    CHECK(t.due_together(kNow + 10s, 1s) == 10);
    t.begin_check(2);
    t.on_checked(2, true, 8);
    t.hand_over(2, true);
    CHECK(t.due_together(kNow + 10s, 1s) == 9);
    // Listed again after it was done with here: counted again, once.
    t.admit(job(1, kNow + 10s), true);
    CHECK(t.due_together(kNow + 10s, 1s) == 10);
    const auto stopping = t.stop();
    CHECK(stopping.let_go == 9);
    CHECK(t.due_together(kNow + 10s, 1s) == 1);  // job 11, locked, still runs
    CHECK(t.due_together(kNow + 20s, 1s) == 0);
}

#include "cluster.h"

#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "jobs/harness/load_profile.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/scheduler/scheduler.h"
#include "memory_store.h"
#include "sim_workers.h"
#include "virtual_world.h"

namespace jobs::scheduler::sim {
namespace {

using namespace std::chrono_literals;
using repo::Action;
using repo::DbTime;

const TimePoint kSteadyStart{std::chrono::hours(1'000)};
const DbTime kDbStart{milliseconds(1'800'000'000'000)};
// After the load ends, the harness waits MaxDelayTime + MinPrepareTime before it scores.
constexpr milliseconds kTail = repo::kScoreTail;
// A task begun later than this after RunAt counts as a late start.
constexpr milliseconds kOnTime{10};

struct Instance {
    std::unique_ptr<SimLoop> loop;
    std::unique_ptr<SimWorkers> workers;
    std::unique_ptr<Scheduler> scheduler;
};

std::unique_ptr<DbLane> lane(VirtualWorld& world, int owner, MemoryDatabase& db,
                             const std::string& client, const ClusterOptions& o,
                             std::uint64_t seed) {
    return std::make_unique<SimLane>(world, owner, std::make_unique<MemoryStore>(db, client),
                                     LatencyDraw(o.latency, seed));
}

// Step 4 of the load: a job with 10.1 s of notice every 1-3 s, while the load lasts.
void live_load(VirtualWorld& world, MemoryDatabase& db, const harness::LoadProfile& profile,
               std::mt19937_64& rng) {
    world.at(world.now() + harness::live_pause(rng), kWorld, [&world, &db, profile, &rng] {
        if (!harness::live_continues(profile, db.now())) return;
        db.create_job(db.now() + repo::kLiveNotice);
        live_load(world, db, profile, rng);
    });
}

void score(const MemoryDatabase& db, const TaskRuns& runs, ClusterResult& r) {
    std::vector<double> delays;
    std::set<DbTime> moments;
    for (const auto& [id, job] : db.jobs()) {
        ++r.jobs;
        if (job.state == repo::JobState::Completed) {
            ++r.completed;
            moments.insert(job.run_at);
            delays.push_back(static_cast<double>((*job.execute_at - job.run_at).count()));
        } else if (job.state == repo::JobState::Interrupted) {
            ++r.interrupted;
        } else {
            ++r.unfinished;
        }
        const auto it = runs.find(id);
        if (it == runs.end()) {
            // Interrupted between its fencing start and its task: started, so never rerun.
            if (job.state != repo::JobState::Interrupted) ++r.never_ran;
            continue;
        }
        if (it->second.size() > 1) ++r.ran_twice;
        for (const DbTime began : it->second) {
            const milliseconds late = began - job.run_at;
            if (late < 0ms) {
                ++r.early;
                r.early_run_ats.push_back(job.run_at);
            }
            r.late_30s += late > repo::kMaxDelayTime ? 1 : 0;
            r.late_starts += late > kOnTime ? 1 : 0;
            r.worst_start = std::max(r.worst_start, late);
        }
    }
    r.moments = static_cast<int>(moments.size());
    if (delays.empty()) return;
    double sum = 0;
    for (const double d : delays) sum += d;
    r.delay_average = sum / static_cast<double>(delays.size());
    double squares = 0;
    for (const double d : delays) squares += (d - r.delay_average) * (d - r.delay_average);
    if (delays.size() > 1)
        r.delay_stdev = std::sqrt(squares / static_cast<double>(delays.size() - 1));
}

}  // namespace

DbTime cluster_db_start() { return kDbStart; }

long long lists_needed(const ClusterOptions& o) {
    return (o.since + o.duration + kTail) / o.scheduler.poll_interval + 1 + o.instances;
}

ClusterResult run_cluster(const ClusterOptions& o) {
    VirtualWorld world(kSteadyStart);
    MemoryDatabase db(world, kDbStart);
    TaskRuns runs;
    std::mt19937_64 rng(o.seed);

    const harness::LoadProfile profile{kDbStart + o.since, kDbStart + o.since + o.duration};
    for (const auto& planned : harness::initial_jobs(profile, rng)) db.create_job(planned.run_at);
    for (int i = 0; i < o.burst; ++i) db.create_job(kDbStart + o.since + o.burst_at);
    live_load(world, db, profile, rng);

    SchedulerOptions options = o.scheduler;
    options.worker_starts_jobs = o.workers == SimWorker::Fences;
    options.worker_waits = o.workers != SimWorker::Plain;
    std::vector<Instance> instances;
    std::uniform_int_distribution<long long> start(0, o.start_spread.count());
    for (int i = 0; i < o.instances; ++i) {
        const std::string client = "inst-" + std::to_string(i + 1);
        const std::uint64_t seed = o.seed * 1'000 + static_cast<std::uint64_t>(i) * 10;
        Instance inst;
        inst.loop = std::make_unique<SimLoop>(world, i);
        inst.workers = std::make_unique<SimWorkers>(world, i, db, client, o.workers,
                                                    LatencyDraw(o.latency, seed + 1), runs, o.task);
        Lanes lanes{
            lane(world, i, db, client, o, seed + 2), lane(world, i, db, client, o, seed + 3),
            lane(world, i, db, client, o, seed + 4), lane(world, i, db, client, o, seed + 5)};
        inst.scheduler = std::make_unique<Scheduler>(*inst.loop, options, client, std::move(lanes),
                                                     *inst.workers, seed);
        inst.workers->attach(*inst.scheduler);
        Scheduler* scheduler = inst.scheduler.get();
        world.at(kSteadyStart + o.start_offset + milliseconds(start(rng)), i,
                 [scheduler] { scheduler->start(); });
        instances.push_back(std::move(inst));
    }
    for (const auto& [when, by] : o.clock_steps) {
        world.at(kSteadyStart + when, kWorld, [&db, by = by] { db.step_clock(by); });
    }
    for (const auto& [i, n] : o.undeliverable) {
        instances[static_cast<std::size_t>(i)].workers->fail_deliveries(n);
    }
    for (const auto& [i, at] : o.kills) {
        world.at(kSteadyStart + at, kWorld, [&world, i = i] { world.kill(i); });
    }
    int drained = 0;
    for (const auto& [i, at] : o.stops) {
        Scheduler* scheduler = instances[static_cast<std::size_t>(i)].scheduler.get();
        world.at(kSteadyStart + at, i,
                 [scheduler, &drained] { scheduler->stop([&drained] { ++drained; }); });
    }

    world.run_until(kSteadyStart + o.since + o.duration + kTail + o.extra_tail);

    ClusterResult r;
    score(db, runs, r);
    r.drained = drained;
    for (const auto& inst : instances) r.closed += inst.workers->closed() ? 1 : 0;
    r.lists = db.count(Action::QueryList);
    r.looks = db.count(Action::QueryLast);
    r.checks = db.count(Action::QueryJob);
    r.lock_failures = db.count(Action::AcquireFailure);
    r.start_failures = db.count(Action::StartFailure);
    r.leaves = db.count(Action::Leave);
    r.errors = db.count(Action::Error);
    r.renewals = db.count(Action::Renew);
    r.releases = db.count(Action::Release);
    r.failures = db.count(Action::Failed);
    r.cost = db.cost();
    r.completion_statements = db.completion_statements();
    r.events = world.events_run();
    return r;
}

}  // namespace jobs::scheduler::sim

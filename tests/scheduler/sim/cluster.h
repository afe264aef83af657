#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "jobs/scheduler/options.h"
#include "sim_lane.h"
#include "sim_workers.h"

// N real Schedulers over one in-memory database on a virtual clock, under the exercise's load
// (SPEC section 5): a 10-minute run in well under a second. What they did is read back from the
// database and from the workers, as the harness reads a real run.
namespace jobs::scheduler::sim {

struct ClusterOptions {
    int instances = 5;
    std::uint64_t seed = 1;
    SchedulerOptions scheduler;
    SimWorker workers = SimWorker::Timed;  // jobs-worker
    milliseconds start_spread{1'000};      // instances start at a random moment within this
    milliseconds start_offset{0};          // after this
    Latency latency;
    // SIGKILL (no goodbye) and SIGINT (a graceful stop), at these moments from the start:
    // {instance, when}.
    std::vector<std::pair<int, milliseconds>> kills;
    std::vector<std::pair<int, milliseconds>> stops;
    milliseconds since{30'000};  // the load: jobs from `since` for `duration`, then 40 s more
    milliseconds duration{600'000};
    milliseconds task{83};
    // The run goes on this much longer after the harness's tail: for tasks longer than it.
    milliseconds extra_tail{0};
    // Besides the load: this many jobs more, all due at `since` + burst_at, in the database from
    // the start.
    // The database's clock steps by `by` at `when` from the start: {when, by}.
    std::vector<std::pair<milliseconds, milliseconds>> clock_steps;
    // The first n tasks each instance hands over reach no worker: {instance, n}.
    std::vector<std::pair<int, int>> undeliverable;
    int burst = 0;
    milliseconds burst_at{20'000};
};

struct ClusterResult {
    int jobs = 0;
    int completed = 0;
    int interrupted = 0;  // its task began, then its instance and worker were killed
    int unfinished = 0;   // not completed nor interrupted at the end
    int ran_twice = 0;    // a task begun more than once
    int never_ran = 0;    // not begun, and not interrupted after its fencing start
    int early = 0;        // a task begun before RunAt
    std::vector<repo::DbTime> early_run_ats;  // their RunAts
    int late_30s = 0;                         // a task begun more than MaxDelayTime after RunAt
    int late_starts = 0;                      // a task begun more than 10 ms after RunAt
    milliseconds worst_start{0};              // the latest start of a task after its RunAt
    double delay_average = 0;  // ExecuteAt - RunAt of completed jobs, as the harness reports
    double delay_stdev = 0;
    long long lists = 0, looks = 0, checks = 0, lock_failures = 0, start_failures = 0;
    long long leaves = 0, errors = 0, renewals = 0, releases = 0, failures = 0;
    long long cost = 0;
    long long completion_statements = 0;
    int moments = 0;  // distinct RunAt of the completed jobs
    int drained = 0;  // stopped instances whose locked jobs had all been handed over
    int closed = 0;   // instances that closed their sink (the executors' queue)
    std::uint64_t events = 0;
};

ClusterResult run_cluster(const ClusterOptions& options);

// The database's clock when a cluster starts (before any step).
repo::DbTime cluster_db_start();

// Lists a cluster that lost no instance needs: one per interval over the run and its tail, and
// one more per instance for joining.
long long lists_needed(const ClusterOptions& options);

}  // namespace jobs::scheduler::sim

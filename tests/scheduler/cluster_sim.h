#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

// A whole cluster of coordinators run against a simulated database, in simulated time: every
// statement takes a random time, a list's row becomes visible to others only when it commits,
// and jobs follow the harness's load profile. It shows what the cost and the lock races of a
// coordination design are over a standard run, in milliseconds of test time.
namespace jobs::scheduler::sim {

using std::chrono::milliseconds;

struct SimOptions {
    int instances = 5;
    std::uint64_t seed = 1;
    milliseconds start_spread{1'000};  // instances start at a random moment within this
    milliseconds start_offset{0};      // after this, from a moment 3 s into a 9.7 s interval
    milliseconds latency_min{2};       // a statement's time to commit and answer
    milliseconds latency_max{30};
    double spike_chance = 0.02;  // a statement stalled by a busy machine, up to spike_max
    milliseconds spike_max{400};
    // Lists serialized by the database (PostgreSQL's advisory lock, SQLite's write lock): a
    // list waits for one in flight to commit, and then sees it.
    bool serialized_lists = false;
    // Instances killed (SIGKILL: no goodbye) at these moments from the start: {instance, when}.
    std::vector<std::pair<int, milliseconds>> kills;
    milliseconds since{30'000};  // the harness's profile: jobs from `since` for `duration`
    milliseconds duration{600'000};
};

struct SimResult {
    int lists = 0;
    int looks = 0;
    int jobs = 0;
    int locked = 0;              // jobs locked once
    int lock_failures = 0;       // lock attempts on a job another instance had locked
    int never_locked = 0;        // jobs nobody locked by the end
    milliseconds worst_late{0};  // the latest lock after a job's RunAt
};

SimResult simulate(const SimOptions& options);

}  // namespace jobs::scheduler::sim

#pragma once

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "jobs/repo/types.h"

namespace jobs::scheduler {

using std::chrono::milliseconds;

struct CoordinatorOptions {
    // The cluster as a whole lists about this often, however many instances there are.
    milliseconds cluster_interval{9'000};
    // No instance waits longer than this between its own lists: if every other instance died at
    // once, a job with 10 s of notice is still listed within 30 s of its RunAt.
    milliseconds max_own_interval{38'000};
    milliseconds window{10'000};          // what a list covers ahead
    milliseconds overdue_grace{500};      // a job still free this long after RunAt is abandoned
    milliseconds history{120'000};        // how far back lists are read
};

// Coordination through the database alone. Every list returns the lists instances made lately
// (their WorkerLogs rows), so each instance knows, without any other channel:
//  - how many instances are polling: those that listed within their expected cycle;
//  - when to list next: in its own slots, so the cluster lists about every cluster_interval in
//    total (one instance of N lists every N x interval);
//  - which jobs are its own: a job belongs to the first list that covered it. The owner locks
//    it straight away (no GetJob, no lost races); a job still free after its RunAt is
//    abandoned (its owner stopped) and belongs to whoever lists it next.
class Coordinator {
public:
    Coordinator(std::string me, CoordinatorOptions options, std::uint64_t seed);

    // After each of this instance's lists, made at `listed_at` (database time).
    void on_list(repo::DbTime listed_at, const std::vector<repo::ListRecord>& recent);

    int instances() const { return instances_; }
    // When this instance should list next (database time).
    repo::DbTime next_list() const { return next_; }
    // Whether a job with this RunAt, seen in the list made at `listed_at`, is ours to run.
    bool owns(repo::DbTime run_at, repo::DbTime listed_at) const;

private:
    const std::string me_;
    const CoordinatorOptions options_;
    std::mt19937_64 rng_;
    std::vector<std::pair<repo::DbTime, bool>> lists_;  // (when, mine), oldest first
    int instances_ = 1;
    repo::DbTime next_{};
};

}  // namespace jobs::scheduler

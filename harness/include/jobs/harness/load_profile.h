#pragma once

#include <chrono>
#include <random>
#include <vector>

#include "jobs/repo/exercise.h"
#include "jobs/repo/types.h"

namespace jobs::harness {

using std::chrono::milliseconds;

// The exercise's load (SPEC section 5, its numbers in jobs/repo/exercise.h), relative to
// `since`, up to `until`: steps 1-3 inserted at once, at the start; step 4 live.
struct LoadProfile {
    repo::DbTime since;
    repo::DbTime until;
};

enum class Step { Every3s = 1, Batch13s = 2, Random = 3, Live = 4 };

struct PlannedJob {
    repo::DbTime run_at;
    Step step;
};

// Steps 1-3, in the order the exercise inserts them.
std::vector<PlannedJob> initial_jobs(const LoadProfile& profile, std::mt19937_64& rng);

// Step 4's pause before the next live job.
milliseconds live_pause(std::mt19937_64& rng);
// Whether step 4 goes on at database time `now`.
bool live_continues(const LoadProfile& profile, repo::DbTime now);

}  // namespace jobs::harness

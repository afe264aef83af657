#pragma once

#include <chrono>
#include <random>
#include <vector>

#include "jobs/repo/types.h"

namespace jobs::harness {

using std::chrono::milliseconds;

// The exercise's load (SPEC section 5), relative to `since`, up to `until`:
//   1. every 3 s one job;  2. every 13 s a batch of 20 at one RunAt;
//   3. one job every 1000 + rand(0..1999) ms.  (All inserted at once, at the start.)
//   4. live: sleep 1000 + rand(0..1999) ms, then one job at now + 10 s + 100 ms, while
//      now + 10 s < until.
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

inline constexpr milliseconds kLiveNotice{10'100};

// Step 4's pause before the next live job.
milliseconds live_pause(std::mt19937_64& rng);
// Whether step 4 goes on at database time `now`.
bool live_continues(const LoadProfile& profile, repo::DbTime now);

}  // namespace jobs::harness

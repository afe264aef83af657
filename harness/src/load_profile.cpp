#include "jobs/harness/load_profile.h"

namespace jobs::harness {
namespace {

milliseconds random_gap(std::mt19937_64& rng) {
    // int, as ever: a seeded run draws the same load it always did.
    std::uniform_int_distribution<int> extra(0, static_cast<int>(repo::kRandomGapSpread.count()));
    return repo::kRandomGapMin + milliseconds(extra(rng));
}

}  // namespace

std::vector<PlannedJob> initial_jobs(const LoadProfile& profile, std::mt19937_64& rng) {
    std::vector<PlannedJob> jobs;
    for (auto t = profile.since; t < profile.until; t += repo::kEveryJobPeriod) {
        jobs.push_back({t, Step::Every3s});
    }
    for (auto t = profile.since; t < profile.until; t += repo::kBatchPeriod) {
        for (int i = 0; i < repo::kBatchSize; ++i) jobs.push_back({t, Step::Batch13s});
    }
    for (auto t = profile.since; t < profile.until; t += random_gap(rng))
        jobs.push_back({t, Step::Random});
    return jobs;
}

milliseconds live_pause(std::mt19937_64& rng) { return random_gap(rng); }

bool live_continues(const LoadProfile& profile, repo::DbTime now) {
    return now + repo::kMinPrepareTime < profile.until;
}

}  // namespace jobs::harness

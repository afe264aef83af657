#include "jobs/harness/load_profile.h"

namespace jobs::harness {
namespace {

milliseconds random_gap(std::mt19937_64& rng) {
    std::uniform_int_distribution<int> extra(0, 1999);
    return milliseconds(1000 + extra(rng));
}

}  // namespace

std::vector<PlannedJob> initial_jobs(const LoadProfile& profile, std::mt19937_64& rng) {
    std::vector<PlannedJob> jobs;
    for (auto t = profile.since; t < profile.until; t += milliseconds(3000)) jobs.push_back({t, Step::Every3s});
    for (auto t = profile.since; t < profile.until; t += milliseconds(13000)) {
        for (int i = 0; i < 20; ++i) jobs.push_back({t, Step::Batch13s});
    }
    for (auto t = profile.since; t < profile.until; t += random_gap(rng)) jobs.push_back({t, Step::Random});
    return jobs;
}

milliseconds live_pause(std::mt19937_64& rng) { return random_gap(rng); }

bool live_continues(const LoadProfile& profile, repo::DbTime now) {
    return now + milliseconds(10'000) < profile.until;
}

}  // namespace jobs::harness

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "jobs/harness/load_profile.h"
#include "jobs/harness/rate_load.h"

using namespace jobs;
using namespace jobs::harness;
using namespace std::chrono_literals;

TEST_CASE(
    "the exercise's load over 600 s: 200 every 3 s, 940 in batches of 20, about 300 at random") {
    const repo::DbTime since{std::chrono::milliseconds(1'800'000'000'000)};
    const LoadProfile profile{since, since + 600s};
    std::mt19937_64 rng(7);
    const auto jobs = initial_jobs(profile, rng);
    std::map<Step, std::vector<repo::DbTime>> by_step;
    for (const auto& job : jobs) {
        CHECK(job.run_at >= profile.since);
        CHECK(job.run_at < profile.until);
        by_step[job.step].push_back(job.run_at);
    }
    CHECK(by_step[Step::Every3s].size() == 200);
    CHECK(by_step[Step::Batch13s].size() == 940);
    CHECK(by_step[Step::Random].size() >= 200);  // 600 s / 1-3 s: 200 to 600, about 300
    CHECK(by_step[Step::Random].size() <= 600);
    for (std::size_t i = 1; i < by_step[Step::Every3s].size(); ++i) {
        CHECK(by_step[Step::Every3s][i] - by_step[Step::Every3s][i - 1] == repo::kEveryJobPeriod);
    }
    const auto& batches = by_step[Step::Batch13s];
    for (std::size_t i = 0; i < batches.size(); ++i) {
        CHECK(batches[i] ==
              since + repo::kBatchPeriod *
                          static_cast<long long>(i / static_cast<std::size_t>(repo::kBatchSize)));
    }
    const auto& random = by_step[Step::Random];
    for (std::size_t i = 1; i < random.size(); ++i) {
        CHECK(random[i] - random[i - 1] >= repo::kRandomGapMin);
        CHECK(random[i] - random[i - 1] <= repo::kRandomGapMin + repo::kRandomGapSpread);
    }
}

TEST_CASE("live jobs come every 1-3 s while now + MinPrepareTime is before the end") {
    const repo::DbTime since{std::chrono::milliseconds(1'800'000'000'000)};
    const LoadProfile profile{since, since + 60s};
    std::mt19937_64 rng(11);
    for (int i = 0; i < 1000; ++i) {
        const auto pause = live_pause(rng);
        CHECK(pause >= repo::kRandomGapMin);
        CHECK(pause <= repo::kRandomGapMin + repo::kRandomGapSpread);
    }
    CHECK(live_continues(profile, since));
    CHECK(live_continues(profile, profile.until - repo::kMinPrepareTime - 1ms));
    CHECK_FALSE(live_continues(profile, profile.until - repo::kMinPrepareTime));
}

TEST_CASE(
    "the rate profile spreads its jobs evenly, and feeding it in slices gives each job once, in "
    "order") {
    const repo::DbTime since{std::chrono::milliseconds(1'800'000'000'000)};
    const RateProfile profile{since, since + 60s, 2'000, 0};
    CHECK(rate_jobs(profile) == 120'000);
    std::vector<repo::DbTime> all;
    // Slices of uneven lengths, as the feeder's clock gives them.
    repo::DbTime from = since;
    for (int i = 0; from < profile.until; ++i) {
        const repo::DbTime to =
            std::min(profile.until, from + std::chrono::milliseconds(97 + i % 13));
        const auto slice = rate_run_ats(profile, from, to);
        for (const auto t : slice) {
            CHECK(t >= from);
            CHECK(t < to);
        }
        all.insert(all.end(), slice.begin(), slice.end());
        from = to;
    }
    REQUIRE(all.size() == 120'000);
    CHECK(all.front() == since);
    CHECK(all.back() < profile.until);
    CHECK(std::is_sorted(all.begin(), all.end()));
    // 2,000 a second: two a millisecond.
    CHECK(rate_run_ats(profile, since + 10s, since + 11s).size() == 2'000);
    CHECK(rate_run_ats(RateProfile{since, since + 60s, 0, 20'000}, since, since + 60s).empty());
}

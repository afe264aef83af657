// Whole clusters of coordinators over a standard run, in simulated time (cluster_sim.h): what
// the coordination costs and whether it ever makes two instances race for a job.
#include <doctest/doctest.h>

#include <algorithm>

#include "cluster_sim.h"
#include "jobs/scheduler/coordinator.h"

using namespace jobs::scheduler::sim;
using namespace std::chrono_literals;

namespace {

// Lists the cluster needs over a standard run (one per cluster interval, tail included), and
// one more per instance for joining.
int needed_lists(const SimOptions& o) {
    const auto run = o.since + o.duration + 40s;
    return static_cast<int>(run / jobs::scheduler::CoordinatorOptions{}.cluster_interval) + 1 +
           o.instances;
}

// n instances started together, lists serialized by the database, as on both backends.
SimOptions serialized(int n, std::uint64_t seed) {
    SimOptions o;
    o.instances = n;
    o.seed = seed;
    o.serialized_lists = true;
    return o;
}

// What a cluster that lost no instance must show: every job locked once, on time, by its owner
// alone, for one list per interval plus one per instance, and about a look per two intervals.
void check_clean_run(const SimOptions& o, const SimResult& r) {
    CHECK(r.lock_failures == 0);
    CHECK(r.never_locked == 0);
    CHECK(r.locked == r.jobs);
    CHECK(r.lists <= needed_lists(o) + 1);
    CHECK(r.worst_late <= 20ms);
    CHECK(r.looks <= o.instances * 40);
}

}  // namespace

TEST_CASE(
    "instances started together, 2 to 10 of them, list once per interval after joining and never "
    "race for a lock") {
    for (const int n : {2, 3, 5, 8, 10}) {
        int lists = 0;
        int looks = 0;
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            SimOptions o = serialized(n, seed);
            const SimResult r = simulate(o);
            CAPTURE(n);
            CAPTURE(seed);
            check_clean_run(o, r);
            lists += r.lists;
            looks += r.looks;
        }
        // Run with -s to see them (docs/benchmarks.md quotes them).
        MESSAGE(n << " instances, 5 runs: " << lists / 5.0 << " lists and " << looks / 5.0
                  << " looks a run, COST " << (lists * 100 + looks) / 5.0 << " without CONNECT");
    }
}

TEST_CASE("if two lists can overlap (no serializing lock), lock races stay rare") {
    int failures = 0;
    int jobs = 0;
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        SimOptions o;
        o.instances = 10;
        o.seed = seed;
        const SimResult r = simulate(o);
        failures += r.lock_failures;
        jobs += r.jobs;
        CHECK(r.never_locked == 0);
        CHECK(r.worst_late <= 2s);
    }
    MESSAGE(failures << " lost lock races in " << jobs << " jobs");
    CHECK(failures * 100 <= jobs);
}

TEST_CASE("all instances but one killed at once: the survivor locks every job within 25 s") {
    std::chrono::milliseconds worst{0};
    for (const int n : {3, 10}) {
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            SimOptions o = serialized(n, seed);
            for (int k = 0; k + 1 < n; ++k) {
                o.kills.push_back({k, std::chrono::milliseconds(200'000 + 1'234 * seed)});
            }
            const SimResult r = simulate(o);
            CAPTURE(n);
            CAPTURE(seed);
            CHECK(r.never_locked == 0);
            CHECK(r.lock_failures == 0);
            CHECK(r.worst_late <= 25s);
            worst = std::max(worst, r.worst_late);
        }
    }
    MESSAGE("latest lock after RunAt: " << worst.count() << " ms");
}

TEST_CASE("instances killed one a minute: every job is locked, none more than 15 s late") {
    for (const int n : {3, 10}) {
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            SimOptions o = serialized(n, seed);
            for (int k = 0; k + 1 < n; ++k) {
                o.kills.push_back(
                    {k, std::chrono::milliseconds(100'000 + 60'000 * k + 777 * seed)});
            }
            const SimResult r = simulate(o);
            CAPTURE(n);
            CAPTURE(seed);
            CHECK(r.never_locked == 0);
            CHECK(r.worst_late <= 15s);
        }
    }
}

TEST_CASE(
    "instances started together across the start of an interval still list once per interval") {
    for (const int n : {3, 5, 10}) {
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            SimOptions o = serialized(n, seed);
            o.start_offset =
                6'200ms;  // joins from 9.2 s into the run's first interval: 0.5 s before its end
            const SimResult r = simulate(o);
            CAPTURE(n);
            CAPTURE(seed);
            check_clean_run(o, r);
        }
    }
}

TEST_CASE("more than 10 instances: still one list per interval, and no lock races") {
    for (const int n : {12, 20}) {
        for (std::uint64_t seed = 1; seed <= 3; ++seed) {
            SimOptions o = serialized(n, seed);
            const SimResult r = simulate(o);
            CAPTURE(n);
            CAPTURE(seed);
            check_clean_run(o, r);
        }
    }
}

TEST_CASE("two of ten instances killed at the same moment: every job is locked within 15 s") {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        SimOptions o = serialized(10, seed);
        o.kills = {{3, std::chrono::milliseconds(150'000 + 999 * seed)},
                   {4, std::chrono::milliseconds(150'000 + 999 * seed)}};
        const SimResult r = simulate(o);
        CAPTURE(seed);
        CHECK(r.never_locked == 0);
        CHECK(r.worst_late <= 15s);
        // The two missed slots are listed by their successors, not by every looker.
        CHECK(r.lists <= needed_lists(o) + 4);
    }
}

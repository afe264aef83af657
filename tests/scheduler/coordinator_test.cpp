#include <doctest/doctest.h>

#include <set>

#include "jobs/scheduler/coordinator.h"

using namespace jobs;
using namespace jobs::scheduler;
using namespace std::chrono_literals;

namespace {

const repo::DbTime t0{std::chrono::milliseconds(1'800'000'000'000)};

}  // namespace

TEST_CASE("alone, an instance lists every cluster interval and owns every job") {
    Coordinator c("a", CoordinatorOptions{}, 1);
    c.on_list(t0, {});
    CHECK(c.instances() == 1);
    CHECK(c.next_list() > t0);
    CHECK(c.next_list() <= t0 + 9'450ms);  // one interval, plus the parting delay
    CHECK(c.owns(t0 + 5s, t0));
}

TEST_CASE("five instances share the slots: together they list once per interval, each every 5 intervals") {
    const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
    CoordinatorOptions options;
    options.max_own_interval = 60s;  // no cap here: 5 x 9 s
    std::map<std::string, Coordinator> nodes;
    for (const auto& n : names) nodes.emplace(n, Coordinator(n, options, n[0]));
    // Each lists once, a second apart, and learns of the others from the log rows.
    std::vector<repo::ListRecord> log;
    std::map<std::string, repo::DbTime> next;
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto at = round == 0 ? t0 + std::chrono::seconds(i) : next[names[i]];
            std::vector<repo::ListRecord> recent;
            for (const auto& r : log) {
                if (r.at < at && r.at > at - 120s) recent.push_back(r);
            }
            nodes.at(names[i]).on_list(at, recent);
            log.push_back({names[i], at});
            next[names[i]] = nodes.at(names[i]).next_list();
        }
    }
    std::set<repo::DbTime> slots;
    for (const auto& n : names) {
        CHECK(nodes.at(n).instances() == 5);
        slots.insert(next[n]);
    }
    REQUIRE(slots.size() == 5);  // five different moments, one interval apart
    // One interval apart, give or take the random parting (a twentieth of a slot).
    const auto first = *slots.begin();
    int i = 0;
    for (const auto s : slots) {
        const auto off = std::chrono::duration_cast<std::chrono::milliseconds>(s - (first + 9s * i++)).count();
        CHECK(off > -1000);
        CHECK(off < 1000);
    }
}

TEST_CASE("an instance that misses its turn drops out, and the cap bounds every wait") {
    CoordinatorOptions options;  // cap 38 s
    Coordinator c("a", options, 2);
    // Four others listed recently: five instances, cycle capped at 38 s.
    std::vector<repo::ListRecord> recent = {{"b", t0 - 7s}, {"c", t0 - 15s}, {"d", t0 - 22s}, {"e", t0 - 30s}};
    c.on_list(t0, recent);
    CHECK(c.instances() == 5);
    CHECK(c.next_list() <= t0 + 38s + 400ms);
    // Much later, only b kept listing: the rest are gone.
    c.on_list(t0 + 60s, {{"b", t0 + 55s}});
    CHECK(c.instances() == 2);
    CHECK(c.next_list() <= t0 + 60s + 18s + 450ms);
}

TEST_CASE("a job belongs to the first list that covered it; one still free after RunAt to whoever lists") {
    Coordinator a("a", CoordinatorOptions{}, 3);
    // b listed at t0 (covering RunAt < t0 + 10 s), then a lists at t0 + 9 s.
    a.on_list(t0 + 9s, {{"b", t0}});
    CHECK_FALSE(a.owns(t0 + 9'500ms, t0 + 9s));  // b saw it first
    CHECK(a.owns(t0 + 12s, t0 + 9s));            // only a's list covers it
    CHECK(a.owns(t0 + 8s, t0 + 9s));             // due a second ago and still free: abandoned
}

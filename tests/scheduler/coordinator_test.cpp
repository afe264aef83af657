#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "jobs/scheduler/coordinator.h"

using namespace jobs;
using namespace jobs::scheduler;
using namespace std::chrono_literals;

namespace {

const repo::DbTime t0{std::chrono::milliseconds(1'800'000'000'000)};
// The cluster interval and the random part of a list's moment in its slot.
const std::chrono::milliseconds I = CoordinatorOptions{}.cluster_interval;
const std::chrono::milliseconds part = CoordinatorOptions{}.part;

}  // namespace

TEST_CASE("alone, an instance lists every cluster interval and owns every job") {
    Coordinator c("a", CoordinatorOptions{}, 1);
    c.on_list(t0, {});
    CHECK(c.instances() == 1);
    CHECK(c.next_list() > t0);
    CHECK(c.next_list() <= t0 + I + part);  // one interval, plus the parting delay
    CHECK_FALSE(c.next_look());             // nobody else to watch
    CHECK(c.owns(t0 + 5s, t0 - 60s, t0, 1));
}

namespace {

// Runs instances against a shared log in time order, lists and looks alike, as the database
// would see them. Returns the moments of every list.
struct Cluster {
    std::map<std::string, Coordinator> nodes;
    std::vector<repo::ListRecord> log;
    std::vector<repo::DbTime> lists;
    int looks = 0;

    explicit Cluster(const std::vector<std::string>& names) {
        for (const auto& n : names) nodes.emplace(n, Coordinator(n, CoordinatorOptions{}, n[0]));
    }

    void list(const std::string& name, repo::DbTime at) {
        std::vector<repo::ListRecord> recent;
        for (const auto& r : log) {
            if (r.at < at && r.at > at - CoordinatorOptions{}.history) recent.push_back(r);
        }
        nodes.at(name).on_list(at, recent);
        log.push_back({name, at, false});
        lists.push_back(at);
    }

    void run(repo::DbTime from, repo::DbTime until) {
        std::map<std::string, repo::DbTime> due;
        int i = 0;
        for (const auto& [name, node] : nodes)
            due[name] = from + std::chrono::milliseconds(137 * i++);
        std::map<std::string, bool> first;
        for (;;) {
            auto it = std::min_element(due.begin(), due.end(), [](const auto& x, const auto& y) {
                return x.second < y.second;
            });
            if (it->second >= until) return;
            const std::string name = it->first;
            const repo::DbTime at = it->second;
            Coordinator& node = nodes.at(name);
            const auto look = node.next_look();
            if (first[name] && look && *look <= at) {
                ++looks;
                repo::ClusterPeek peek{at, std::nullopt, std::nullopt};
                for (const auto& r : log) {
                    if (r.at <= at && !r.leave)
                        peek.last_list = std::max(peek.last_list.value_or(r.at), r.at);
                }
                if (!node.on_look(peek)) {
                    due[name] = node.next_look() ? std::min(*node.next_look(), node.next_list())
                                                 : node.next_list();
                    continue;
                }
            }
            list(name, at);
            first[name] = true;
            due[name] =
                node.next_look() ? std::min(*node.next_look(), node.next_list()) : node.next_list();
        }
    }
};

}  // namespace

TEST_CASE(
    "five instances share the slots: together they list once per interval, each every 5 "
    "intervals") {
    Cluster cluster({"a", "b", "c", "d", "e"});
    cluster.run(t0, t0 + 600s);
    for (const auto& [name, node] : cluster.nodes) CHECK(node.instances() == 5);
    // After the first minute: one list per slot, give or take the random part.
    std::vector<repo::DbTime> steady;
    for (const auto at : cluster.lists) {
        if (at > t0 + 60s) steady.push_back(at);
    }
    REQUIRE(steady.size() > 50);
    for (std::size_t i = 1; i < steady.size(); ++i) {
        const auto gap =
            std::chrono::duration_cast<std::chrono::milliseconds>(steady[i] - steady[i - 1]);
        CHECK(gap >= I - part);
        CHECK(gap <= I + part);
    }
    // The whole run, start-up included: one list per interval, a few more while they meet.
    MESSAGE(cluster.lists.size() << " lists, " << cluster.looks << " looks in 600 s");
    CHECK(cluster.lists.size() <= static_cast<std::size_t>(600s / I + 8));
    CHECK(cluster.looks <= 2 * 600s / I + 10);  // two per instance per cycle of 5 intervals
}

TEST_CASE(
    "between its own lists an instance looks at most 22 s apart, and just after the slot before "
    "its own") {
    Coordinator c("a", CoordinatorOptions{}, 2);
    // Five instances in their slots: a (rank 0) lists at the start of a cycle, the others listed
    // in the slots before.
    const repo::DbTime start{t0.time_since_epoch() / (5 * I) * (5 * I)};
    const std::vector<repo::ListRecord> recent = {{"b", start - 4 * I, false},
                                                  {"c", start - 3 * I, false},
                                                  {"d", start - 2 * I, false},
                                                  {"e", start - I, false}};
    c.on_list(start + 100ms, recent);
    CHECK(c.instances() == 5);
    const repo::DbTime next = c.next_list();
    CHECK(next >= start + 5 * I);
    CHECK(next <= start + 5 * I + part);
    std::vector<repo::DbTime> moments = {start};
    repo::ClusterPeek fine{start, start + 60s, std::nullopt};  // the cluster lists on time
    while (auto look = c.next_look()) {
        moments.push_back(*look);
        fine.db_now = *look;
        CHECK_FALSE(c.on_look(fine));
    }
    moments.push_back(next);
    CHECK(moments.size() >= 4);
    for (std::size_t i = 1; i < moments.size(); ++i) CHECK(moments[i] - moments[i - 1] <= 22s);
    // The last look follows the slot before ours (e's) by less than a second.
    CHECK(moments[moments.size() - 2] >= start + 4 * I);
    CHECK(moments[moments.size() - 2] <= start + 4 * I + 1s);
}

namespace {

// The lists of instances that have held their slots (one every `n` intervals) for longer than
// the history a founder could claim: `others` are ranked 1.. after "a", and the list of rank r
// was made (n - r) intervals before `start`.
std::vector<repo::ListRecord> established(const std::vector<std::string>& others, int n,
                                          repo::DbTime start) {
    std::vector<repo::ListRecord> rows;
    for (int cycle = 5; cycle >= 0; --cycle) {
        for (std::size_t r = 1; r <= others.size(); ++r) {
            rows.push_back(
                {others[r - 1], start - (n - static_cast<int>(r)) * I - cycle * n * I, false});
        }
    }
    std::erase_if(rows, [&](const auto& row) { return row.at < start - 300s; });
    std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.at < y.at; });
    return rows;
}

// The start of a slot that is a's (rank 0) in a cluster of n.
repo::DbTime cycle_start(int n) { return repo::DbTime{t0.time_since_epoch() / (n * I) * (n * I)}; }

}  // namespace

TEST_CASE(
    "a missed slot: the next slot's instance lists at once, takes what is overdue, and the silent "
    "instance drops out once it has missed its cycle") {
    Coordinator a("a", CoordinatorOptions{}, 5);
    const repo::DbTime start = cycle_start(2);
    const auto rows = established({"b"}, 2, start);
    a.on_list(start + 100ms, rows);
    REQUIRE(a.instances() == 2);
    const auto look = a.next_look();
    REQUIRE(look);  // just after b's slot, the one before a's
    CHECK(*look > start + I);
    // b's last list is the one a already knows: its slot went by without a list.
    CHECK(a.on_look({*look, rows.back().at, std::nullopt}));
    // The list made at once: b may only be late, so it still counts, but what b's last list
    // covered is overdue and goes to whoever lists.
    const repo::DbTime now = *look + 50ms;
    a.on_list(now, rows);
    CHECK(a.instances() == 2);
    CHECK(a.owns(now - 1s, t0 - 600s, now, 1));
    // A cycle and half an interval after its last list, b is out of every plan.
    const repo::DbTime later = rows.back().at + 2 * I + I / 2 + 1s;
    a.on_list(later, rows);
    CHECK(a.instances() == 1);
}

TEST_CASE(
    "a look at a slot that is not the one before ours does not list at once: it looks again, and "
    "lists only if the slot is still without a list") {
    const repo::DbTime start = cycle_start(5);
    const auto rows = established({"b", "c", "d", "e"}, 5, start);
    for (const bool came_late : {false, true}) {
        Coordinator a("a", CoordinatorOptions{}, 11);
        a.on_list(start + 100ms, rows);
        REQUIRE(a.instances() == 5);
        auto look = a.next_look();
        REQUIRE(look);
        REQUIRE(*look < start + 3 * I);  // c's slot (the third), not e's (the one before ours)
        const repo::DbTime slot{look->time_since_epoch() / I * I};
        CHECK_FALSE(a.on_look({*look, slot - I, std::nullopt}));
        const auto again = a.next_look();
        REQUIRE(again);
        CHECK(*again - *look == CoordinatorOptions{}.recheck);
        // The slot's list came after the first look: nothing to do. Still missing: list now.
        const repo::DbTime last = came_late ? slot + 1s : slot - I;
        CHECK(a.on_look({*again, last, std::nullopt}) == !came_late);
    }
}

TEST_CASE("a departure already taken over by a later list does not make a look list again") {
    const repo::DbTime start = cycle_start(3);
    Coordinator a("a", CoordinatorOptions{}, 12);
    a.on_list(start + 100ms, established({"b", "c"}, 3, start));
    auto look = a.next_look();
    REQUIRE(look);
    // b left after a's list, and the slot's list came two seconds later: it took b's jobs.
    CHECK_FALSE(a.on_look({*look, *look - 100ms, *look - 2s}));
    // Another departure, after the slot's list, with no list since: a lists now.
    a.on_list(start + 3s, established({"b", "c"}, 3, start));
    look = a.next_look();
    REQUIRE(look);
    CHECK(a.on_look({*look, *look - 300ms, *look - 250ms}));
}

TEST_CASE(
    "instances started together take their first round in join order, then their slots by "
    "rank: one list per slot from the first") {
    // Joined in the order e, c, a, d, b, each seeing those before it (lists are serialized).
    const std::vector<std::string> order = {"e", "c", "a", "d", "b"};
    const repo::DbTime start = cycle_start(5) + 200ms;
    std::map<std::string, Coordinator> nodes;
    std::vector<repo::ListRecord> log;
    std::map<std::string, repo::DbTime> next;
    for (std::size_t i = 0; i < order.size(); ++i) {
        const auto at = start + std::chrono::milliseconds(100 * i);
        auto& node =
            nodes.emplace(order[i], Coordinator(order[i], CoordinatorOptions{}, i)).first->second;
        node.on_list(at, log);
        log.push_back({order[i], at, false});
        next[order[i]] = node.next_list();
    }
    // The i-th to join lists i slots after the joining slot.
    const auto slot_of = [](repo::DbTime at) { return at.time_since_epoch() / I; };
    for (std::size_t i = 0; i < order.size(); ++i) {
        CHECK(slot_of(next[order[i]]) == slot_of(start) + static_cast<long long>(i) + 1);
    }
    // Run them: each lists when due, and every slot after joining has exactly one list.
    std::map<long long, int> per_slot;
    for (int step = 0; step < 40; ++step) {
        const auto it =
            std::min_element(next.begin(), next.end(),
                             [](const auto& x, const auto& y) { return x.second < y.second; });
        const std::string name = it->first;
        const repo::DbTime at = it->second;
        std::vector<repo::ListRecord> recent;
        for (const auto& r : log) {
            if (r.at > at - 320s) recent.push_back(r);
        }
        nodes.at(name).on_list(at, recent);
        log.push_back({name, at, false});
        ++per_slot[slot_of(at)];
        next[name] = nodes.at(name).next_list();
        CHECK(nodes.at(name).instances() == 5);
    }
    REQUIRE(per_slot.size() > 30);
    const long long first = slot_of(start) + 1;
    for (long long k = first; k < first + 38; ++k) {
        CAPTURE(k - first);
        CHECK(per_slot[k] == 1);
    }
}

TEST_CASE(
    "an instance that announced leaving is dropped, and the first list after it owns its jobs") {
    Coordinator a("a", CoordinatorOptions{}, 6);
    Coordinator c("c", CoordinatorOptions{}, 7);
    // b listed at t0 (covering up to t0 + 12 s) and left at t0 + 2 s; c listed at t0 + 3 s.
    const std::vector<repo::ListRecord> at_c = {{"b", t0, false}, {"b", t0 + 2s, true}};
    c.on_list(t0 + 3s, at_c);
    CHECK(c.instances() == 1);
    CHECK(c.owns(t0 + 8s, t0 - 60s, t0 + 3s, 1));  // b's, and c listed first after b left
    std::vector<repo::ListRecord> at_a = at_c;
    at_a.push_back({"c", t0 + 3s, false});
    a.on_list(t0 + 4s, at_a);
    CHECK(a.instances() == 2);
    CHECK_FALSE(a.owns(t0 + 8s, t0 - 60s, t0 + 4s, 1));   // c took it over first
    CHECK_FALSE(a.owns(t0 + 14s, t0 - 60s, t0 + 4s, 1));  // first covered by c's own list
    CHECK(a.owns(t0 + 15'500ms, t0 - 60s, t0 + 4s, 1));   // only a's list covers it
}

TEST_CASE("a look reacts to a departure it has not seen, once, and not to older ones") {
    Coordinator a("a", CoordinatorOptions{}, 8);
    // Three instances: a lists at the start of its cycle, so looks come before its next list.
    const repo::DbTime start{t0.time_since_epoch() / (3 * I) * (3 * I)};
    a.on_list(start,
              {{"b", start - 2 * I, false}, {"c", start - I, false}, {"x", start - 30s, true}});
    REQUIRE(a.instances() == 3);
    auto look = a.next_look();
    REQUIRE(look);
    CHECK_FALSE(a.on_look({*look, *look - 100ms, start - 30s}));  // known from the list
    a.on_list(start + 1s, {{"b", start - 2 * I, false}, {"c", start - I, false}});
    look = a.next_look();
    REQUIRE(look);
    CHECK(a.on_look({*look, *look - 100ms, *look - 50ms}));  // b or c left since the last list
}

TEST_CASE("an instance that misses its turns drops out, and the cycle shrinks") {
    Coordinator c("a", CoordinatorOptions{}, 2);
    c.on_list(t0, {{"b", t0 - I, false}, {"c", t0 - 2 * I, false}});
    CHECK(c.instances() == 3);
    // Much later, only b kept listing: c is gone.
    c.on_list(t0 + 60s, {{"b", t0 + 55s, false}});
    CHECK(c.instances() == 2);
    CHECK(c.next_list() <= t0 + 60s + 2 * I + part);
}

TEST_CASE(
    "a job belongs to the first list that covered it; one still free after RunAt to whoever "
    "lists") {
    Coordinator a("a", CoordinatorOptions{}, 3);
    // b listed at t0 (covering RunAt < t0 + 12 s), then a lists one interval later.
    a.on_list(t0 + I, {{"b", t0, false}});
    CHECK_FALSE(a.owns(t0 + 11s, t0 - 60s, t0 + I, 1));  // b saw it first
    CHECK(a.owns(t0 + I + 11s, t0 - 60s, t0 + I, 1));    // only a's list covers it
    CHECK(a.owns(t0 + I - 1s, t0 - 60s, t0 + I, 1));  // due a second ago and still free: abandoned
}

TEST_CASE("a job due at the very edge of a list's window belongs to the next list") {
    Coordinator a("a", CoordinatorOptions{}, 9);
    const auto window = CoordinatorOptions{}.window;
    // b listed at t0; its window ends at t0 + 12 s. A job due 10 ms before that edge may not
    // have been in b's answer (its window was measured a moment before its LogDate).
    a.on_list(t0 + I, {{"b", t0, false}});
    CHECK(a.owns(t0 + window - 10ms, t0 - 60s, t0 + I, 1));
    CHECK_FALSE(a.owns(t0 + window - 1s, t0 - 60s, t0 + I, 1));
    // And at the edge of a's own window: not a's either, but the next list's.
    CHECK_FALSE(a.owns(t0 + I + window - 10ms, t0 - 60s, t0 + I, 1));
    CHECK(a.owns(t0 + I + window - 100ms, t0 - 60s, t0 + I, 1));
}

TEST_CASE("a list made before a job existed does not own it, even if its window covers its RunAt") {
    Coordinator a("a", CoordinatorOptions{}, 4);
    // b listed at t0; the job was created 100 ms later with 10.1 s of notice; a lists next.
    a.on_list(t0 + I, {{"b", t0, false}});
    CHECK(a.owns(t0 + 10'200ms, t0 + 100ms, t0 + I, 1));
    // Created 10 ms before b's list: perhaps not committed when b looked, so not b's either.
    CHECK(a.owns(t0 + 10'200ms, t0 - 10ms, t0 + I, 1));
    // Created well before b's list: b's.
    CHECK_FALSE(a.owns(t0 + 10'200ms, t0 - 1s, t0 + I, 1));
}

TEST_CASE(
    "a truncated list covers the jobs up to its last row: the rest belong to the next list, and "
    "one whose last row is gone covers none") {
    Coordinator a("a", CoordinatorOptions{}, 11);
    const repo::DbTime burst = t0 + 8s;
    // b's list at t0 held its limit, stopping at job 40 of a burst; a lists 2 s later, also
    // truncated, at job 90.
    repo::ListRecord b{"b", t0, false, true, repo::ListStop{burst, 40}};
    a.on_list(t0 + 2s, {b}, true, repo::ListStop{burst, 90});
    CHECK_FALSE(a.owns(burst, t0 - 60s, t0 + 2s, 40));  // b's last row
    CHECK(a.owns(burst, t0 - 60s, t0 + 2s, 41));        // after b's stop: a's
    CHECK(a.owns(burst, t0 - 60s, t0 + 2s, 90));
    CHECK_FALSE(a.owns(burst, t0 - 60s, t0 + 2s, 91));   // after a's own stop: the next list's
    CHECK_FALSE(a.owns(t0 + 3s, t0 - 60s, t0 + 2s, 7));  // due before the burst: b's
    // A truncated list whose stop could not be read covers nothing; the next list does.
    Coordinator c("c", CoordinatorOptions{}, 12);
    c.on_list(t0 + 2s, {{"b", t0, false, true, std::nullopt}});
    CHECK(c.owns(t0 + 3s, t0 - 60s, t0 + 2s, 7));
}

#include "cluster_sim.h"

#include <algorithm>
#include <map>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "jobs/scheduler/coordinator.h"
#include "jobs/scheduler/lock_timing.h"
#include "jobs/scheduler/options.h"

namespace jobs::scheduler::sim {

namespace {

using repo::DbTime;
using namespace std::chrono_literals;

const DbTime t0{milliseconds(1'800'000'000'000)};

struct Job {
    DbTime created;
    DbTime run_at;
    std::optional<DbTime> locked_at;
};

struct Row {
    repo::ListRecord record;
    DbTime visible;  // when its statement committed
};

enum class Kind { Act, Done, Lock };

struct Event {
    DbTime at;
    Kind kind;
    int node;
    std::size_t job = 0;  // for Lock
    bool operator>(const Event& o) const { return at > o.at; }
};

struct Node {
    std::string name;
    Coordinator coordinator;
    bool listed = false;
    std::optional<DbTime> killed_at;
    bool must_list = false;  // a look asked for a list at once
    std::set<std::size_t> claimed;
    // The statement in flight: a list's answer or a look's, read at its start.
    bool listing = false;
    DbTime started{};
    std::vector<repo::ListRecord> recent;
    std::vector<std::size_t> due;
    repo::ClusterPeek peek{};
};

std::vector<Job> load_profile(std::mt19937_64& rng, const SimOptions& o) {
    std::vector<Job> jobs;
    const DbTime since = t0 + o.since;
    const DbTime until = since + o.duration;
    for (DbTime t = since; t < until; t += 3s) jobs.push_back({t0, t, {}});
    for (DbTime t = since; t < until; t += 13s) {
        for (int i = 0; i < 20; ++i) jobs.push_back({t0, t, {}});
    }
    std::uniform_int_distribution<int> gap(0, 1'999);
    for (DbTime t = since; t < until; t += milliseconds(1'000 + gap(rng)))
        jobs.push_back({t0, t, {}});
    for (DbTime now = t0 + milliseconds(1'000 + gap(rng)); now + 10s < until;
         now += milliseconds(1'000 + gap(rng))) {
        jobs.push_back({now, now + 10'100ms, {}});
    }
    return jobs;
}

}  // namespace

SimResult simulate(const SimOptions& o) {
    std::mt19937_64 rng(o.seed);
    std::vector<Job> jobs = load_profile(rng, o);
    std::vector<Node> nodes;
    for (int i = 0; i < o.instances; ++i) {
        const std::string name = "inst-" + std::to_string(i + 1);
        nodes.push_back({name, Coordinator(name, CoordinatorOptions{}, o.seed * 100 + i)});
    }
    std::vector<Row> log;
    std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
    std::uniform_int_distribution<long long> start(0, o.start_spread.count());
    for (int i = 0; i < o.instances; ++i)
        events.push({t0 + o.start_offset + milliseconds(start(rng)), Kind::Act, i});

    std::uniform_int_distribution<long long> latency(o.latency_min.count(), o.latency_max.count());
    std::uniform_int_distribution<long long> spike(0, o.spike_max.count());
    std::bernoulli_distribution spiked(o.spike_chance);
    const SchedulerOptions scheduler;  // the lock leads of a default instance
    const CoordinatorOptions co;
    const DbTime end = t0 + o.since + o.duration + 40s;
    for (const auto& [i, at] : o.kills) nodes[static_cast<std::size_t>(i)].killed_at = t0 + at;
    DbTime lists_busy_until{};
    SimResult result;
    result.jobs = static_cast<int>(jobs.size());

    auto schedule_next = [&](int i, DbTime now) {
        const Coordinator& c = nodes[i].coordinator;
        DbTime next = c.next_list();
        if (const auto look = c.next_look(); look && *look < next) next = *look;
        events.push({std::max(now, next), Kind::Act, i});
    };

    while (!events.empty()) {
        const Event e = events.top();
        events.pop();
        if (e.at >= end) break;
        Node& n = nodes[static_cast<std::size_t>(e.node)];
        if (n.killed_at && e.at >= *n.killed_at) continue;
        if (e.kind == Kind::Lock) {
            Job& job = jobs[e.job];
            if (job.locked_at) {
                ++result.lock_failures;
                continue;
            }
            job.locked_at = e.at;
            ++result.locked;
            result.worst_late = std::max(
                result.worst_late, std::chrono::duration_cast<milliseconds>(e.at - job.run_at));
            continue;
        }
        if (e.kind == Kind::Act) {
            long long took = latency(rng);
            if (spiked(rng)) took += spike(rng);
            const auto look = n.coordinator.next_look();
            n.listing = n.must_list || !n.listed || !look || *look >= n.coordinator.next_list();
            n.must_list = false;
            n.started = e.at;
            if (n.listing && o.serialized_lists) {
                n.started = std::max(e.at, lists_busy_until);
                lists_busy_until = n.started + milliseconds(took);
            }
            if (n.listing) {
                const DbTime at = n.started;
                ++result.lists;
                n.recent.clear();
                for (const auto& r : log) {
                    if (r.visible <= at && r.record.at > at - n.coordinator.history())
                        n.recent.push_back(r.record);
                }
                n.due.clear();
                for (std::size_t j = 0; j < jobs.size(); ++j) {
                    const Job& job = jobs[j];
                    if (job.created <= at && job.run_at < at + co.window &&
                        (!job.locked_at || *job.locked_at > at))
                        n.due.push_back(j);
                }
                log.push_back({{n.name, at, false}, at + milliseconds(took)});
            } else {
                ++result.looks;
                n.peek = {e.at, std::nullopt, std::nullopt};
                for (const auto& r : log) {
                    if (r.visible <= e.at && !r.record.leave)
                        n.peek.last_list =
                            std::max(n.peek.last_list.value_or(r.record.at), r.record.at);
                }
            }
            events.push({n.started + milliseconds(took), Kind::Done, e.node});
            continue;
        }
        // Kind::Done: the answer arrives.
        if (!n.listing) {
            if (n.coordinator.on_look(n.peek)) {
                n.must_list = true;
                events.push({e.at, Kind::Act, e.node});
                continue;
            }
            schedule_next(e.node, e.at);
            continue;
        }
        n.listed = true;
        n.coordinator.on_list(n.started, n.recent);
        for (const std::size_t j : n.due) {
            if (n.claimed.contains(j)) continue;
            if (!n.coordinator.owns(jobs[j].run_at, jobs[j].created, n.started)) continue;
            n.claimed.insert(j);
            const DbTime lock_at = lock_time(jobs[j].run_at, e.at, scheduler, rng);
            events.push({lock_at, Kind::Lock, e.node, j});
        }
        schedule_next(e.node, e.at);
    }
    for (const auto& job : jobs) result.never_locked += job.locked_at ? 0 : 1;
    return result;
}

}  // namespace jobs::scheduler::sim

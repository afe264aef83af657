#pragma once

#include <chrono>
#include <memory>
#include <random>

#include "jobs/repo/job_store.h"
#include "jobs/scheduler/db_lane.h"
#include "virtual_world.h"

namespace jobs::scheduler::sim {

using std::chrono::milliseconds;

// How long a statement takes, commit and answer: uniform between min and max, and now and then
// stalled by a busy machine.
struct Latency {
    milliseconds min{2};
    milliseconds max{30};
    double spike_chance = 0.02;
    milliseconds spike_max{400};
};

class LatencyDraw {
  public:
    LatencyDraw(Latency latency, std::uint64_t seed) : latency_(latency), rng_(seed) {}

    std::chrono::microseconds next() {
        std::uniform_int_distribution<long long> base(
            std::chrono::microseconds(latency_.min).count(),
            std::chrono::microseconds(latency_.max).count());
        std::chrono::microseconds took(base(rng_));
        if (std::bernoulli_distribution(latency_.spike_chance)(rng_)) {
            took += std::chrono::microseconds(std::uniform_int_distribution<long long>(
                0, std::chrono::microseconds(latency_.spike_max).count())(rng_));
        }
        return took;
    }

    // A moment within a statement of length `took`.
    std::chrono::microseconds within(std::chrono::microseconds took) {
        return std::chrono::microseconds(
            std::uniform_int_distribution<long long>(0, took.count())(rng_));
    }

  private:
    Latency latency_;
    std::mt19937_64 rng_;
};

// A database lane in virtual time: its calls run one after another, each when posted or when
// the one before it ended, whichever is later, and each takes a statement's latency; the
// database reads its clock at a random moment within it.
class SimLane final : public DbLane {
  public:
    SimLane(VirtualWorld& world, int owner, std::unique_ptr<repo::JobStore> store,
            LatencyDraw latency)
        : world_(world), owner_(owner), store_(std::move(store)), latency_(latency) {}

    void post(std::function<void(repo::JobStore&)> work) override {
        if (finished_) return;
        const auto took = latency_.next();
        const auto read_at = latency_.within(took);
        const TimePoint begin = std::max(world_.now(), busy_until_);
        busy_until_ = begin + took;
        world_.at(begin, owner_, [this, took, read_at, work = std::move(work)] {
            world_.statement(took, read_at, [&] { work(*store_); });
        });
    }
    // What was posted is already in the world's queue and runs there; later posts are dropped.
    void finish() override { finished_ = true; }

  private:
    VirtualWorld& world_;
    const int owner_;
    std::unique_ptr<repo::JobStore> store_;
    LatencyDraw latency_;
    TimePoint busy_until_{};
    bool finished_ = false;
};

}  // namespace jobs::scheduler::sim

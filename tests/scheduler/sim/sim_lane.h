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

  private:
    Latency latency_;
    std::mt19937_64 rng_;
};

// A database lane in virtual time: its calls run one after another, each a statement's latency
// after it was posted or after the one before it ended, whichever is later.
class SimLane final : public DbLane {
  public:
    SimLane(VirtualWorld& world, int owner, std::unique_ptr<repo::JobStore> store,
            LatencyDraw latency)
        : world_(world), owner_(owner), store_(std::move(store)), latency_(latency) {}

    void post(std::function<void(repo::JobStore&)> work) override {
        if (finished_) return;
        busy_until_ = std::max(world_.now() + latency_.next(), busy_until_);
        world_.at(busy_until_, owner_, [this, work = std::move(work)] { work(*store_); });
    }
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

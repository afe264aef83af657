#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <set>
#include <vector>

#include "jobs/scheduler/event_loop.h"

// Virtual time for whole clusters: one ordered queue of events, each owned by an instance (or by
// the world, owner kWorld), run in time order with nothing real to wait for. Killing an owner
// drops its events, as SIGKILL drops a process's timers and threads.
namespace jobs::scheduler::sim {

using TimePoint = EventLoop::TimePoint;

inline constexpr int kWorld = -1;

class VirtualWorld {
  public:
    explicit VirtualWorld(TimePoint start) : now_(start) {}

    TimePoint now() const { return now_; }
    // Runs `work` at `when` (at once if that has passed), after whatever is due before it.
    void at(TimePoint when, int owner, std::function<void()> work);
    void kill(int owner) { dead_.insert(owner); }
    bool alive(int owner) const { return !dead_.contains(owner); }
    // Runs events in order until none is left before `end`; the clock then reads `end`.
    void run_until(TimePoint end);
    std::uint64_t events_run() const { return run_; }

  private:
    struct Event {
        TimePoint at;
        std::uint64_t seq;
        int owner;
        std::function<void()> work;
    };
    struct Later {
        bool operator()(const Event& a, const Event& b) const {
            return a.at != b.at ? a.at > b.at : a.seq > b.seq;
        }
    };

    TimePoint now_;
    std::uint64_t seq_ = 0;
    std::uint64_t run_ = 0;
    std::priority_queue<Event, std::vector<Event>, Later> events_;
    std::set<int> dead_;
};

// One instance's loop in the world: its timers and posts are the world's events, under its name.
class SimLoop final : public EventLoop {
  public:
    SimLoop(VirtualWorld& world, int owner) : world_(world), owner_(owner) {}

    TimePoint now() const override { return world_.now(); }
    void post(std::function<void()> work) override;
    TimerId at(TimePoint when, std::function<void()> work) override;
    void cancel(TimerId id) override { pending_.erase(id); }

  private:
    VirtualWorld& world_;
    const int owner_;
    TimerId next_id_ = 1;
    std::set<TimerId> pending_;
};

}  // namespace jobs::scheduler::sim

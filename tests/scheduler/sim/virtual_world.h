#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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

    // The clock. Inside a statement (see statement()), it reads the statement's end once the
    // database has read its own clock: the statement's round trip has then passed.
    TimePoint now() const {
        return statement_ && statement_->read ? now_ + statement_->took : now_;
    }
    // The moment a statement under way reads the database's clock: somewhere within its round
    // trip, drawn when it began; outside a statement, now.
    TimePoint db_now();
    // Runs one database statement that takes `took` in all and reads the database's clock
    // `read_at` into it; `work` sees the clock move as a real caller would (sent, then the
    // database's moment, then received), and whatever it schedules comes after the round trip.
    void statement(EventLoop::Clock::duration took, EventLoop::Clock::duration read_at,
                   const std::function<void()>& work);
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

    struct Statement {
        EventLoop::Clock::duration took;
        EventLoop::Clock::duration read_at;
        bool read = false;
    };

    TimePoint now_;
    std::optional<Statement> statement_;
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

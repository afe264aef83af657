#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace jobs::scheduler {

// The clock and timers the scheduler runs on: one thread runs every handler, so the scheduler's
// state needs no lock. AsioLoop is the real one; the tests run the same scheduler on a virtual
// clock, thousands of simulated seconds in a second.
class EventLoop {
  public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    using TimerId = std::uint64_t;

    virtual ~EventLoop() = default;

    // The steady clock (any thread).
    virtual TimePoint now() const = 0;
    // Runs `work` on the loop's thread soon (any thread: how database threads answer).
    virtual void post(std::function<void()> work) = 0;
    // Runs `work` on the loop's thread once `when` has come (loop thread only).
    virtual TimerId at(TimePoint when, std::function<void()> work) = 0;
    // A timer not yet run never runs; cancelling one that ran is harmless (loop thread only).
    virtual void cancel(TimerId id) = 0;
};

}  // namespace jobs::scheduler

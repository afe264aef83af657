#pragma once

#include <map>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "jobs/scheduler/event_loop.h"

namespace jobs::scheduler {

// The real loop: an io_context run by one thread. Every timer is kept in one ordered map under
// a single asio timer armed for the earliest, so planning a job costs a map insert whatever the
// number of jobs held. With no timer left the asio timer is idle, so io_context::run returns
// once the scheduler has nothing more to do.
class AsioLoop final : public EventLoop {
  public:
    explicit AsioLoop(boost::asio::io_context& io);
    AsioLoop(const AsioLoop&) = delete;
    AsioLoop& operator=(const AsioLoop&) = delete;

    TimePoint now() const override { return Clock::now(); }
    void post(std::function<void()> work) override;
    TimerId at(TimePoint when, std::function<void()> work) override;
    void cancel(TimerId id) override;

  private:
    using Key = std::pair<TimePoint, TimerId>;

    void arm();
    void fire();

    boost::asio::io_context& io_;
    boost::asio::steady_timer timer_;
    std::map<Key, std::function<void()>> due_;  // by time, then by order of arming
    std::unordered_map<TimerId, TimePoint> when_;
    TimerId next_id_ = 1;
    bool armed_ = false;
    TimePoint armed_for_{};
};

}  // namespace jobs::scheduler

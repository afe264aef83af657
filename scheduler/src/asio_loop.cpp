#include "jobs/scheduler/asio_loop.h"

#include <boost/asio/post.hpp>

namespace jobs::scheduler {

AsioLoop::AsioLoop(boost::asio::io_context& io) : io_(io), timer_(io) {}

void AsioLoop::post(std::function<void()> work) { boost::asio::post(io_, std::move(work)); }

EventLoop::TimerId AsioLoop::at(TimePoint when, std::function<void()> work) {
    const TimerId id = next_id_++;
    due_.emplace(Key{when, id}, std::move(work));
    when_.emplace(id, when);
    arm();
    return id;
}

void AsioLoop::cancel(TimerId id) {
    const auto it = when_.find(id);
    if (it == when_.end()) return;
    due_.erase(Key{it->second, id});
    when_.erase(it);
    arm();
}

void AsioLoop::arm() {
    if (due_.empty()) {
        timer_.cancel();
        armed_ = false;
        return;
    }
    const TimePoint earliest = due_.begin()->first.first;
    if (armed_ && armed_for_ == earliest) return;
    armed_ = true;
    armed_for_ = earliest;
    timer_.expires_at(earliest);  // cancels the wait armed for a later moment
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) fire();
    });
}

void AsioLoop::fire() {
    armed_ = false;
    // Handlers may arm and cancel timers: take each due one out before running it.
    while (!due_.empty() && due_.begin()->first.first <= Clock::now()) {
        auto node = due_.extract(due_.begin());
        when_.erase(node.key().second);
        node.mapped()();
    }
    arm();
}

}  // namespace jobs::scheduler

#include "virtual_world.h"

namespace jobs::scheduler::sim {

void VirtualWorld::at(TimePoint when, int owner, std::function<void()> work) {
    events_.push({when < now() ? now() : when, seq_++, owner, std::move(work)});
}

TimePoint VirtualWorld::db_now() {
    if (!statement_) return now_;
    statement_->read = true;
    return now_ + statement_->read_at;
}

void VirtualWorld::statement(EventLoop::Clock::duration took, EventLoop::Clock::duration read_at,
                             const std::function<void()>& work) {
    statement_ = Statement{took, read_at};
    work();
    statement_.reset();
}

void VirtualWorld::run_until(TimePoint end) {
    while (!events_.empty() && events_.top().at < end) {
        Event event = events_.top();
        events_.pop();
        now_ = event.at;
        if (!alive(event.owner)) continue;
        ++run_;
        event.work();
    }
    now_ = end;
}

void SimLoop::post(std::function<void()> work) { world_.at(world_.now(), owner_, std::move(work)); }

EventLoop::TimerId SimLoop::at(TimePoint when, std::function<void()> work) {
    const TimerId id = next_id_++;
    pending_.insert(id);
    world_.at(when, owner_, [this, id, work = std::move(work)] {
        if (pending_.erase(id) == 0) return;  // cancelled
        work();
    });
    return id;
}

}  // namespace jobs::scheduler::sim

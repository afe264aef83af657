#include "jobs/scheduler/fixed_polls.h"

#include "jobs/scheduler/lock_timing.h"

namespace jobs::scheduler {

FixedPolls::FixedPolls(const SchedulerOptions& options, std::uint64_t seed)
    : options_(options), rng_(seed) {}

NextPoll FixedPolls::next(const DbClock&, EventLoop::TimePoint last_sent) {
    return {NextPoll::Kind::List, next_poll(last_sent, options_, rng_)};
}

}  // namespace jobs::scheduler

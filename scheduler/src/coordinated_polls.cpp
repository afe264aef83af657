#include "jobs/scheduler/coordinated_polls.h"

namespace jobs::scheduler {
namespace {

CoordinatorOptions coordinator_options(const SchedulerOptions& options) {
    CoordinatorOptions c;
    c.cluster_interval = options.poll_interval;
    c.window = options.window;
    return c;
}

}  // namespace

CoordinatedPolls::CoordinatedPolls(const SchedulerOptions& options, const std::string& client_id,
                                   std::uint64_t seed)
    : coordinator_(client_id, coordinator_options(options), seed) {}

void CoordinatedPolls::on_list(const repo::ReadyJobs& ready) {
    coordinator_.on_list(ready.db_now, ready.recent_lists, ready.truncated, ready.stop);
}

bool CoordinatedPolls::takes(const repo::Job& job, repo::DbTime listed_at) const {
    return coordinator_.owns(job.run_at, job.create_at, listed_at, job.id);
}

NextPoll CoordinatedPolls::next(const DbClock& clock, EventLoop::TimePoint) {
    const auto look_at = coordinator_.next_look();
    if (look_at && *look_at < coordinator_.next_list()) {
        return {NextPoll::Kind::Look, clock.steady_at(*look_at)};
    }
    return {NextPoll::Kind::List, clock.steady_at(coordinator_.next_list())};
}

}  // namespace jobs::scheduler

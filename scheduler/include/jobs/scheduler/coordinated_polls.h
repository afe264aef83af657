#pragma once

#include "jobs/scheduler/coordinator.h"
#include "jobs/scheduler/poll_policy.h"

namespace jobs::scheduler {

// Polls shared out through the database (coordinator.h): the cluster lists about once per
// interval in all, an instance looks between its own lists, and a job belongs to the first list
// that covered it, whose instance locks it without a GetJob.
class CoordinatedPolls final : public PollPolicy {
  public:
    CoordinatedPolls(const SchedulerOptions& options, const std::string& client_id,
                     std::uint64_t seed);

    std::chrono::milliseconds history() const override { return coordinator_.history(); }
    void on_list(const repo::ReadyJobs& ready) override;
    bool takes(const repo::Job& job, repo::DbTime listed_at) const override;
    bool locks_without_check() const override { return true; }
    NextPoll next(const DbClock& clock, EventLoop::TimePoint last_sent) override;
    bool on_look(const repo::ClusterPeek& peek) override { return coordinator_.on_look(peek); }
    bool announces_leave() const override { return true; }
    int instances() const override { return coordinator_.instances(); }

  private:
    Coordinator coordinator_;
};

}  // namespace jobs::scheduler

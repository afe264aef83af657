#pragma once

#include <random>

#include "jobs/scheduler/poll_policy.h"

namespace jobs::scheduler {

// The exercise's shape: every instance lists every poll_interval (less a random jitter) and
// takes every job it sees, checking each with GetJob before trying its lock.
class FixedPolls final : public PollPolicy {
  public:
    FixedPolls(const SchedulerOptions& options, std::uint64_t seed);

    std::chrono::milliseconds history() const override { return std::chrono::milliseconds(0); }
    void on_list(const repo::ReadyJobs&) override {}
    bool takes(const repo::Job&, repo::DbTime) const override { return true; }
    bool locks_without_check() const override { return false; }
    NextPoll next(const DbClock& clock, EventLoop::TimePoint last_sent) override;
    // Never asked: next() only ever plans lists.
    bool on_look(const repo::ClusterPeek&) override { return true; }
    bool announces_leave() const override { return false; }
    int instances() const override { return 1; }

  private:
    const SchedulerOptions options_;
    std::mt19937_64 rng_;
};

}  // namespace jobs::scheduler

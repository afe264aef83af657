#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "jobs/repo/types.h"
#include "jobs/scheduler/db_clock.h"
#include "jobs/scheduler/event_loop.h"
#include "jobs/scheduler/options.h"

namespace jobs::scheduler {

// What the poll timer does next, and when (steady time).
struct NextPoll {
    // Continue: a list after a truncated one, once the instance has room for more work.
    enum class Kind { List, Look, Continue };
    Kind kind = Kind::List;
    EventLoop::TimePoint at;
};

// When an instance lists and looks, and which of the listed jobs it takes: the one thing that
// differs between a coordinated cluster and the exercise's every-instance-every-interval shape.
class PollPolicy {
  public:
    virtual ~PollPolicy() = default;

    // How far back each list must read the log of lists.
    virtual std::chrono::milliseconds history() const = 0;
    // After each of this instance's lists.
    virtual void on_list(const repo::ReadyJobs& ready) = 0;
    // Whether a job this list returned is this instance's to run (it may still lose the race).
    virtual bool takes(const repo::Job& job, repo::DbTime listed_at) const = 0;
    // True: a job taken is locked straight away. False: checked with GetJob first.
    virtual bool locks_without_check() const = 0;
    // After a list or a look: what next, given when the last list was sent.
    virtual NextPoll next(const DbClock& clock, EventLoop::TimePoint last_sent) = 0;
    // After a look: true when this instance should list now.
    virtual bool on_look(const repo::ClusterPeek& peek) = 0;
    // Whether an instance that stops with jobs it was going to lock tells the others.
    virtual bool announces_leave() const = 0;
    // How many instances it believes are polling (1 when it does not know).
    virtual int instances() const = 0;
};

// The coordinated policy (coordinated_polls.h), or the fixed interval (fixed_polls.h) when
// options.coordinate is off.
std::unique_ptr<PollPolicy> make_poll_policy(const SchedulerOptions& options,
                                             const std::string& client_id, std::uint64_t seed);

}  // namespace jobs::scheduler

#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/repo/job_store.h"
#include "jobs/scheduler/event_loop.h"

namespace jobs::scheduler {

// The tasks this instance handed to its executors and has not heard back from, with when each
// run lease was last written: what the heartbeat renews, so a task that runs longer than its
// lease is never taken for one whose instance vanished. The loop thread adds and renews; the
// executors remove as they report.
class RunningTasks {
  public:
    using TimePoint = EventLoop::TimePoint;

    void add(repo::JobId id, repo::LockToken token, TimePoint leased_at) EXCLUDES(mutex_);
    // True when no task is left.
    bool remove(repo::JobId id) EXCLUDES(mutex_);
    bool contains(repo::JobId id) const EXCLUDES(mutex_);
    // The tasks whose lease was last written at or before `written_before`.
    std::vector<repo::StartRequest> due(TimePoint written_before) const EXCLUDES(mutex_);
    // Their leases were written at `at` (those still running).
    void renewed(const std::vector<repo::JobId>& ids, TimePoint at) EXCLUDES(mutex_);
    bool empty() const EXCLUDES(mutex_);
    std::size_t size() const EXCLUDES(mutex_);

  private:
    struct Task {
        repo::LockToken token = 0;
        TimePoint leased_at;
    };
    mutable Mutex mutex_;
    std::map<repo::JobId, Task> tasks_ GUARDED_BY(mutex_);
};

}  // namespace jobs::scheduler

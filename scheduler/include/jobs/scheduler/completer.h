#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"

#include "jobs/repo/types.h"
#include "jobs/scheduler/db_lane.h"

namespace jobs::scheduler {

// Records the tasks that ended well, on a lane of its own, in as few statements as it can:
// whatever has arrived while the previous batch was on its way goes in the next one. A burst's
// 20 tasks end within a millisecond or two; one completion each would have their 20 statements
// compete for the CPU with the tasks still ending (see docs/benchmarks.md).
class Completer {
  public:
    // `recorded` is called on the lane's thread for each completion once its statement has
    // answered (written, refused, or given up on), never for one whose row was held.
    explicit Completer(
        std::unique_ptr<DbLane> lane,
        std::function<void(repo::JobId)> recorded = [](repo::JobId) {});
    Completer(const Completer&) = delete;
    Completer& operator=(const Completer&) = delete;

    // Any thread.
    void add(repo::Completion completion) EXCLUDES(mutex_);
    // Several at once: they go in one batch (up to its bound) if none is on its way.
    void add(std::vector<repo::Completion> completions) EXCLUDES(mutex_);
    // Records what was added, then returns. Later adds are dropped with an error in the log.
    void finish() EXCLUDES(mutex_);

  private:
    // On the lane: records batches until none is left.
    void record(repo::JobStore& store) EXCLUDES(mutex_);
    // One batch; if the database refuses it (not merely away), each completion alone. Returns
    // the completions whose rows another transaction held.
    std::vector<repo::Completion> complete(repo::JobStore& store,
                                           const std::vector<repo::Completion>& batch);
    // Held completions wait a moment and go again, for up to about a minute each.
    void retry_held(std::vector<repo::Completion> held) EXCLUDES(mutex_);

    Mutex mutex_;
    std::vector<repo::Completion> pending_ GUARDED_BY(mutex_);
    bool in_flight_ GUARDED_BY(mutex_) = false;  // a batch is on the lane
    bool closing_ GUARDED_BY(mutex_) = false;
    std::map<repo::JobId, int> held_tries_;  // the lane's thread only
    const std::function<void(repo::JobId)> recorded_;
    std::unique_ptr<DbLane> lane_;  // last: finished before the state it uses goes
};

}  // namespace jobs::scheduler

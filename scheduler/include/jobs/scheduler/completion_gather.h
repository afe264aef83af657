#pragma once

#include <map>
#include <optional>
#include <vector>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/repo/types.h"

namespace jobs::scheduler {

// Holds the completions of tasks due at one moment (a burst) until the last of them answers,
// so one statement stamps them all. Without it the first to end goes out alone and the others
// wait for its round trip: a 20-job burst completed 3 to 4 ms after a job alone. The caller
// bounds the wait: when `answered` says a moment's first completion is held, it flushes that
// moment a little later whatever is still running.
class CompletionGather {
  public:
    struct Answer {
        std::vector<repo::Completion> ready;  // to record now
        bool first_held = false;              // a completion of this moment waits: arm a flush
    };

    // Loop thread: a task due at `run_at` was handed to the executors.
    void started(repo::DbTime run_at) EXCLUDES(mutex_);
    // Any thread: a task due at `run_at` answered; `completion` when there is one to record.
    Answer answered(repo::DbTime run_at, std::optional<repo::Completion> completion)
        EXCLUDES(mutex_);
    // What is held for `run_at`; the moment is over (later answers go straight through).
    std::vector<repo::Completion> flush(repo::DbTime run_at) EXCLUDES(mutex_);
    // Everything held (the instance is stopping).
    std::vector<repo::Completion> flush_all() EXCLUDES(mutex_);

  private:
    struct Moment {
        int unanswered = 0;
        std::vector<repo::Completion> held;
    };
    Mutex mutex_;
    std::map<repo::DbTime, Moment> moments_ GUARDED_BY(mutex_);
};

}  // namespace jobs::scheduler

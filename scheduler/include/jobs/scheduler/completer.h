#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "jobs/repo/jobs_repo.h"

namespace jobs::scheduler {

// Records the tasks that ended well, from a session of its own, as few statements as it can:
// whatever has arrived while the previous batch was on its way goes in the next one. A burst's
// 20 tasks end within a millisecond or two; one completion each would have their 20 statements
// compete for the CPU with the tasks still ending (see docs/benchmarks.md).
class Completer {
  public:
    explicit Completer(std::unique_ptr<repo::JobsRepo> repo);
    ~Completer();
    Completer(const Completer&) = delete;
    Completer& operator=(const Completer&) = delete;

    void add(repo::Completion completion);
    // Records what was added, then joins. Later adds are dropped with an error in the log.
    void finish();

  private:
    void run();

    std::unique_ptr<repo::JobsRepo> repo_;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<repo::Completion> pending_;
    bool closing_ = false;
    std::thread thread_;  // last: joined before the state it uses goes away
};

}  // namespace jobs::scheduler

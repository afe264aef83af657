#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "jobs/repo/jobs_repo.h"

namespace jobs::harness {

// Shows how a run is going: on a terminal one line redrawn every second; otherwise a plain
// line every 10 s (for logs and CI). It reads the database through its own session.
class Progress {
  public:
    using Steady = std::chrono::steady_clock;
    Progress(repo::RepoOptions options, Steady::time_point begin, Steady::time_point end);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void stop();

  private:
    void loop();
    std::string line();

    std::unique_ptr<repo::JobsRepo> repo_;
    const Steady::time_point begin_, end_;
    const bool terminal_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;  // last
};

}  // namespace jobs::harness

#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace jobs::harness {

// SIGKILL to every instance still running: for a harness that is dying (std::terminate), so it
// leaves none behind.
void kill_all_instances() noexcept;

// One jobs-scheduler process started by the harness; its output goes to a log file.
class Instance {
  public:
    Instance(const std::vector<std::string>& argv, const std::string& log_file);
    ~Instance();  // a still-running instance is stopped with SIGKILL
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    void signal(int signo) const;
    // The exit status (-signal if killed) if it ends within `limit`.
    std::optional<int> wait_for(std::chrono::milliseconds limit);
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    // User and system CPU seconds, with its reaped workers, once wait_for saw it exit.
    double cpu_seconds() const { return cpu_s_; }

  private:
    pid_t pid_ = -1;
    double cpu_s_ = 0;
};

}  // namespace jobs::harness

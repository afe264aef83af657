#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace jobs::test {

// A child process for tests that race or stop processes. Its stdout is captured through a
// pipe, or, with `log_file`, its stdout and stderr go to that file.
class ChildProcess {
public:
    explicit ChildProcess(const std::vector<std::string>& argv, const std::string& log_file = {});
    ~ChildProcess();  // kills and reaps a child still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Reads stdout to its end and reaps the child; returns its exit status (-signal if killed).
    int wait(std::string& output);
    // Reaps the child if it exits within `limit`; nothing if it is still running.
    std::optional<int> wait_for(std::chrono::milliseconds limit);
    void signal(int signo) const;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
};

}  // namespace jobs::test

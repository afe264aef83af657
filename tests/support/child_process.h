#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace jobs::test {

// A child process whose stdout is captured, for tests that race processes. (Whole instances
// with a log file are started with jobs::harness::Instance.)
class ChildProcess {
  public:
    explicit ChildProcess(const std::vector<std::string>& argv);
    ~ChildProcess();  // kills and reaps a child still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Reads stdout to its end and reaps the child; returns its exit status (-signal if killed).
    int wait(std::string& output);

  private:
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
};

}  // namespace jobs::test

#pragma once

#include <string>
#include <vector>

namespace jobs::test {

// A child process whose stdout is captured: enough for tests that race processes.
class ChildProcess {
public:
    explicit ChildProcess(const std::vector<std::string>& argv);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Reads stdout to its end and reaps the child; returns its exit status (-signal if killed).
    int wait(std::string& output);

private:
    int pid_ = -1;
    int stdout_fd_ = -1;
};

}  // namespace jobs::test

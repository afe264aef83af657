#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs::dispatcher {

struct ChildOptions {
    std::vector<std::string> argv;       // argv[0] is the program's path; never from a column
    std::vector<std::string> extra_env;  // "NAME=value", added to this process's environment
    std::vector<int> cpus;               // CPU affinity for the child; empty: no pinning
    int nice = 0;                        // added niceness; > 0 lowers the child's priority
    std::vector<int> inherit_fds;        // descriptors the child keeps, at the same numbers
};

enum class IoStatus { Ok, Closed, Timeout };

// One pooled child, talking over a socketpair bound to its stdin and stdout.
class WorkerProcess {
  public:
    using Clock = std::chrono::steady_clock;

    // Throws std::system_error when the process cannot be created; an exec failure shows up
    // later as a child that closes its end without a READY line.
    explicit WorkerProcess(const ChildOptions& options);
    ~WorkerProcess();  // closes the channel, lets the child exit, kills it after a grace period
    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

    IoStatus send(std::string_view data);
    // Reads one line (without '\n'); waits until the deadline, or for ever without one.
    IoStatus read_line(std::string& line, std::optional<Clock::time_point> deadline);
    // True when an idle child has closed its end or written something unasked (both fatal).
    bool hung_up_or_chatty() const;
    // EOF to the child now; the destructor then only reaps. Closing several children's input
    // before reaping any lets them wind down together.
    void close_input();
    void kill_now();

    pid_t pid() const { return pid_; }
    Clock::time_point started_at() const { return started_at_; }

  private:
    void reap(std::chrono::milliseconds grace);

    pid_t pid_ = -1;
    int fd_ = -1;
    std::string buffer_;
    Clock::time_point started_at_;
};

}  // namespace jobs::dispatcher

#include "jobs/dispatcher/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

extern char** environ;

namespace jobs::dispatcher {
namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

WorkerProcess::WorkerProcess(const ChildOptions& options) {
    if (options.argv.empty()) throw std::invalid_argument("worker program not set");
    // Everything the child needs is built before fork: after it, only system calls.
    std::vector<char*> argv;
    for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    for (const auto& e : options.extra_env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    for (const int cpu : options.cpus) CPU_SET(cpu, &cpus);

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
    started_at_ = Clock::now();
    // vfork: no copy of this process's page tables (a large, many-threaded scheduler) for a
    // child that only makes system calls and then execs. This thread waits until the exec.
    pid_ = vfork();
    if (pid_ < 0) {
        const int saved = errno;
        close(fds[0]);
        close(fds[1]);
        throw std::system_error(saved, std::generic_category(), "vfork");
    }
    if (pid_ == 0) {
        dup2(fds[1], STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        signal(SIGPIPE, SIG_DFL);
        // The child has its own descriptor table: clearing close-on-exec here leaves the
        // parent's untouched.
        for (const int fd : options.inherit_fds) fcntl(fd, F_SETFD, 0);
        if (!options.cpus.empty()) sched_setaffinity(0, sizeof cpus, &cpus);
        if (options.nice != 0) setpriority(PRIO_PROCESS, 0, options.nice);
        // A new process group: a Ctrl-C at the terminal reaches the scheduler, which drains
        // its children itself instead of having them die mid-task.
        setpgid(0, 0);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
}

WorkerProcess::~WorkerProcess() {
    close_input();  // EOF on stdin: a well-behaved worker exits now
    reap(std::chrono::milliseconds(2000));
}

void WorkerProcess::close_input() {
    if (fd_ < 0) return;
    close(fd_);
    fd_ = -1;
}

IoStatus WorkerProcess::send(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return IoStatus::Closed;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return IoStatus::Ok;
}

IoStatus WorkerProcess::read_line(std::string& line, std::optional<Clock::time_point> deadline) {
    for (;;) {
        if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
            line.assign(buffer_, 0, nl);
            buffer_.erase(0, nl + 1);
            return IoStatus::Ok;
        }
        int timeout_ms = -1;
        if (deadline) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
            if (left.count() <= 0) return IoStatus::Timeout;
            timeout_ms = static_cast<int>(left.count());
        }
        pollfd pfd{fd_, POLLIN, 0};
        const int ready = poll(&pfd, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) return IoStatus::Timeout;
        char chunk[4096];
        const ssize_t n = read(fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return IoStatus::Closed;
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

bool WorkerProcess::hung_up_or_chatty() const {
    pollfd pfd{fd_, POLLIN, 0};
    return poll(&pfd, 1, 0) != 0 || !buffer_.empty();
}

void WorkerProcess::kill_now() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
}

void WorkerProcess::reap(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return;
    const auto deadline = Clock::now() + grace;
    for (;;) {
        const pid_t done = waitpid(pid_, nullptr, WNOHANG);
        if (done == pid_ || (done < 0 && errno != EINTR)) break;
        if (Clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
}

}  // namespace jobs::dispatcher

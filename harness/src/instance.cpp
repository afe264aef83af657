#include "jobs/harness/instance.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace jobs::harness {

namespace {
double seconds(const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

// Every instance spawned and not yet reaped, for kill_all_instances().
std::mutex live_mutex;
std::set<pid_t>& live() {
    static std::set<pid_t> pids;
    return pids;
}
void forget(pid_t pid) {
    std::lock_guard lock(live_mutex);
    live().erase(pid);
}
}  // namespace

void kill_all_instances() noexcept {
    std::lock_guard lock(live_mutex);
    for (const pid_t pid : live()) ::kill(pid, SIGKILL);
}

Instance::Instance(const std::vector<std::string>& argv, const std::string& log_file) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        pid_ = -1;
        throw std::runtime_error("cannot start " + argv[0] + " (log " + log_file + ")");
    }
    std::lock_guard lock(live_mutex);
    live().insert(pid_);
}

Instance::~Instance() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    forget(pid_);
}

void Instance::signal(int signo) const {
    if (pid_ > 0) ::kill(pid_, signo);
}

std::optional<int> Instance::wait_for(std::chrono::milliseconds limit) {
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        int status = 0;
        rusage usage{};
        // wait4: its CPU time, and that of the workers it reaped.
        if (wait4(pid_, &status, WNOHANG, &usage) == pid_) {
            forget(pid_);
            pid_ = -1;
            cpu_s_ = seconds(usage.ru_utime) + seconds(usage.ru_stime);
            return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace jobs::harness

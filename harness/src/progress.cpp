#include "jobs/harness/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace jobs::harness {

Progress::Progress(repo::RepoOptions options, Steady::time_point begin, Steady::time_point end)
    : repo_(std::make_unique<repo::JobsRepo>(std::move(options))),
      begin_(begin),
      end_(end),
      terminal_(isatty(STDOUT_FILENO) == 1),
      thread_([this] { loop(); }) {}

Progress::~Progress() { stop(); }

void Progress::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::string Progress::line() {
    const auto stats = repo_->statistics();
    long long created = 0;
    for (const auto& [state, count] : stats.states) created += count;
    const auto state = [&](repo::JobState s) {
        const auto it = stats.states.find(static_cast<int>(s));
        return it == stats.states.end() ? 0LL : it->second;
    };
    auto delays = stats.delays_ms;
    std::sort(delays.begin(), delays.end());
    long long sum = 0;
    for (const long long d : delays) sum += d;
    const auto pick = [&](double p) {
        return delays.empty()
                   ? 0LL
                   : delays[std::min(
                         delays.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(delays.size())))];
    };
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - begin_).count();
    const auto left = std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::seconds>(end_ - Steady::now()).count());
    return fmt::format(
        "[{:>4}s elapsed, {:>4}s left] jobs {:>5}: waiting {:>5} locked {:>3} completed {:>5} | "
        "delay avg {} ms "
        "p95 {} ms max {} ms | early exec {}",
        elapsed, left, created, state(repo::JobState::Created), state(repo::JobState::Locked),
        state(repo::JobState::Completed),
        delays.empty() ? 0 : sum / static_cast<long long>(delays.size()), pick(0.95),
        delays.empty() ? 0 : delays.back(), stats.early_exec);
}

void Progress::loop() {
    const auto period = terminal_ ? std::chrono::seconds(1) : std::chrono::seconds(10);
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, period, [&] { return stopping_; })) {
        lock.unlock();
        std::string text;
        try {
            text = line();
        } catch (const std::exception& e) {
            text = std::string("progress unavailable: ") + e.what();
        }
        if (terminal_) {
            std::fprintf(stdout, "\r%s\033[K", text.c_str());
        } else {
            std::fprintf(stdout, "%s\n", text.c_str());
        }
        std::fflush(stdout);
        lock.lock();
    }
    if (terminal_) std::fputs("\n", stdout);
}

}  // namespace jobs::harness

#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "jobs/harness/instance.h"

namespace jobs::harness {

enum class Mode { Workers, Kill, HaTest, Kill9 };

Mode parse_mode(const std::string& text);
// The report's MODE: WORKERS05, KILL, HATEST, KILL9.
std::string mode_label(Mode mode, int instances);

struct LaunchOptions {
    Mode mode = Mode::Workers;
    int instances = 5;
    std::string scheduler;  // path to jobs-scheduler
    std::string url;
    std::vector<std::string> extra_args;  // passed to every instance
    std::string log_dir;
    std::string label;  // ClientId prefix
};

struct LaunchStats {
    int started = 0;
    int interrupted = 0;    // SIGINT sent
    int killed = 0;         // SIGKILL sent
    int bad_exits = 0;      // a SIGINT not followed by exit 0 within the limit
    int failed_starts = 0;  // a restart (HATEST, KILL9) that could not spawn its instance
    long long slowest_stop_ms = 0;
    double cpu_s = 0;  // of the instances stopped with SIGINT, with their workers
};

// Starts instances the way the mode says and keeps doing so until stop(): WORKERSnn keeps n
// running; KILL sends SIGINT to 3 of 5 at random times before `until`; HATEST restarts 5 slots
// every 10-29 s after a 0-9 s pause; KILL9 sends SIGKILL to one of 5 every 10-30 s and restarts it.
class Launcher {
  public:
    using Steady = std::chrono::steady_clock;
    Launcher(LaunchOptions options, Steady::time_point until);
    ~Launcher();
    Launcher(const Launcher&) = delete;
    Launcher& operator=(const Launcher&) = delete;

    void start();
    // SIGINT to every instance still running, and wait for each.
    void stop();
    LaunchStats stats() const;

    static constexpr std::chrono::milliseconds kStopLimit{5000};

  private:
    std::unique_ptr<Instance> launch(const std::string& client_id);
    // launch(), or nothing (logged and counted) when the instance cannot be spawned: a restart
    // that fails leaves the others running and the run still scored.
    std::unique_ptr<Instance> try_launch(const std::string& client_id);
    void stop_one(std::unique_ptr<Instance>& instance, bool already_signalled = false);
    bool sleep_until(Steady::time_point t);  // false when stop() was called
    void run_slot(int slot);                 // HATEST
    void run_kill();                         // KILL
    void run_kill9();                        // KILL9

    const LaunchOptions options_;
    const Steady::time_point until_;
    mutable std::mutex mutex_;
    std::condition_variable stopping_cv_;
    bool stopping_ = false;
    LaunchStats stats_;
    std::mt19937_64 rng_{std::random_device{}()};
    std::vector<std::unique_ptr<Instance>>
        instances_;  // guarded by mutex_ where threads share them
    int next_serial_ = 0;
    std::vector<std::thread> threads_;  // last
};

}  // namespace jobs::harness

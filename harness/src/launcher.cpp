#include "jobs/harness/launcher.h"

#include <cstdlib>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "jobs/repo/exercise.h"

namespace jobs::harness {

using namespace std::chrono_literals;

Mode parse_mode(const std::string& text) {
    if (text == "workers") return Mode::Workers;
    if (text == "kill") return Mode::Kill;
    if (text == "hatest") return Mode::HaTest;
    if (text == "kill9") return Mode::Kill9;
    throw std::invalid_argument("unknown mode '" + text + "' (workers, kill, hatest, kill9)");
}

std::string mode_label(Mode mode, int instances) {
    switch (mode) {
        case Mode::Workers:
            return fmt::format("WORKERS{:02}", instances);
        case Mode::Kill:
            return "KILL";
        case Mode::HaTest:
            return "HATEST";
        case Mode::Kill9:
            return "KILL9";
    }
    return "?";
}

namespace {
// Where the instances find the database URL.
constexpr const char* kInstanceDbVariable = "JOBS_HARNESS_DB";
}  // namespace

Launcher::Launcher(LaunchOptions options, Steady::time_point until)
    : options_(std::move(options)), until_(until) {
    std::filesystem::create_directories(options_.log_dir);
    // Instances inherit the URL in their environment and are told where to read it: a password
    // in it never shows in the process list.
    setenv(kInstanceDbVariable, options_.url.c_str(), 1);
}

Launcher::~Launcher() { stop(); }

std::unique_ptr<Instance> Launcher::launch(const std::string& client_id) {
    std::vector<std::string> argv = {options_.scheduler, "--db",
                                     std::string("env:") + kInstanceDbVariable, "--client-id",
                                     client_id};
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    const std::string log =
        (std::filesystem::path(options_.log_dir) / (client_id + ".log")).string();
    auto instance = std::make_unique<Instance>(argv, log);
    std::lock_guard lock(mutex_);
    ++stats_.started;
    return instance;
}

std::unique_ptr<Instance> Launcher::try_launch(const std::string& client_id) {
    try {
        return launch(client_id);
    } catch (const std::exception& e) {
        spdlog::error("cannot start instance {}: {}; the others run on", client_id, e.what());
        std::lock_guard lock(mutex_);
        ++stats_.failed_starts;
        return nullptr;
    }
}

void Launcher::stop_one(std::unique_ptr<Instance>& instance, bool already_signalled) {
    if (!instance || !instance->running()) return;
    const auto begin = Steady::now();
    if (!already_signalled) instance->signal(SIGINT);
    const auto status = instance->wait_for(kStopLimit);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - begin).count();
    std::lock_guard lock(mutex_);
    ++stats_.interrupted;
    stats_.cpu_s += instance->cpu_seconds();
    stats_.slowest_stop_ms = std::max<long long>(stats_.slowest_stop_ms, ms);
    if (status != std::optional<int>(0)) {
        ++stats_.bad_exits;
        spdlog::error("instance {} did not exit 0 within {} ms of SIGINT", instance->pid(),
                      kStopLimit.count());
    }
    instance.reset();
}

bool Launcher::sleep_until(Steady::time_point t) {
    std::unique_lock lock(mutex_);
    return !stopping_cv_.wait_until(lock, t, [&] { return stopping_; });
}

void Launcher::start() {
    const std::string prefix =
        options_.label.empty() ? mode_label(options_.mode, options_.instances) : options_.label;
    const int count = options_.mode == Mode::Workers ? options_.instances : 5;
    if (options_.mode == Mode::HaTest) {
        instances_.resize(static_cast<std::size_t>(count));
        for (int slot = 0; slot < count; ++slot)
            threads_.emplace_back([this, slot] { run_slot(slot); });
        return;
    }
    for (int i = 0; i < count; ++i)
        instances_.push_back(launch(fmt::format("{}-{}", prefix, i + 1)));
    if (options_.mode == Mode::Kill) threads_.emplace_back([this] { run_kill(); });
    if (options_.mode == Mode::Kill9) threads_.emplace_back([this] { run_kill9(); });
}

void Launcher::run_kill() {
    // Three of the five, at random moments before the end of the load.
    std::vector<std::size_t> order = {0, 1, 2, 3, 4};
    std::vector<Steady::time_point> when;
    {
        std::lock_guard lock(mutex_);
        std::shuffle(order.begin(), order.end(), rng_);
        const auto span =
            std::chrono::duration_cast<std::chrono::milliseconds>(until_ - Steady::now()).count();
        std::uniform_int_distribution<long long> at(0, std::max<long long>(0, span));
        for (int i = 0; i < 3; ++i)
            when.push_back(Steady::now() + std::chrono::milliseconds(at(rng_)));
    }
    std::sort(when.begin(), when.end());
    for (int i = 0; i < 3; ++i) {
        if (!sleep_until(when[static_cast<std::size_t>(i)])) return;
        std::unique_ptr<Instance> victim;
        {
            std::lock_guard lock(mutex_);
            victim = std::move(instances_[order[static_cast<std::size_t>(i)]]);
        }
        spdlog::info("KILL: SIGINT to instance {}", order[static_cast<std::size_t>(i)] + 1);
        stop_one(victim);
    }
}

void Launcher::run_slot(int slot) {
    for (int round = 1;; ++round) {
        long long pause = 0, life = 0;
        {
            std::lock_guard lock(mutex_);
            pause =
                std::uniform_int_distribution<long long>(0, repo::kHaTestPauseMax.count())(rng_);
            life = std::uniform_int_distribution<long long>(repo::kHaTestLifeMin.count(),
                                                            repo::kHaTestLifeMax.count())(rng_);
        }
        if (!sleep_until(Steady::now() + std::chrono::milliseconds(pause))) return;
        auto instance = try_launch(fmt::format("HATEST-{}-{}", slot + 1, round));
        {
            std::lock_guard lock(mutex_);
            instances_[static_cast<std::size_t>(slot)] = std::move(instance);
        }
        if (!sleep_until(Steady::now() + std::chrono::milliseconds(life)))
            return;  // stop() stops it
        std::unique_ptr<Instance> current;
        {
            std::lock_guard lock(mutex_);
            current = std::move(instances_[static_cast<std::size_t>(slot)]);
        }
        stop_one(current);
    }
}

void Launcher::run_kill9() {
    for (int round = 1;; ++round) {
        long long wait = 0;
        std::size_t victim = 0;
        {
            std::lock_guard lock(mutex_);
            wait = std::uniform_int_distribution<long long>(repo::kKill9GapMin.count(),
                                                            repo::kKill9GapMax.count())(rng_);
            victim = std::uniform_int_distribution<std::size_t>(0, instances_.size() - 1)(rng_);
        }
        if (!sleep_until(Steady::now() + std::chrono::milliseconds(wait))) return;
        std::unique_ptr<Instance> dead;
        {
            std::lock_guard lock(mutex_);
            dead = std::move(instances_[victim]);
            ++stats_.killed;
        }
        spdlog::info("KILL9: SIGKILL to instance {}", victim + 1);
        if (dead) {
            dead->signal(SIGKILL);
            dead->wait_for(kStopLimit);
        }
        auto replacement = try_launch(fmt::format("KILL9-{}-{}", victim + 1, round));
        std::lock_guard lock(mutex_);
        instances_[victim] = std::move(replacement);
    }
}

void Launcher::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && threads_.empty() && instances_.empty()) return;
        stopping_ = true;
    }
    stopping_cv_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
    // SIGINT to all first, so they stop together, then wait for each.
    for (auto& instance : instances_) {
        if (instance) instance->signal(SIGINT);
    }
    for (auto& instance : instances_) stop_one(instance, true);
    instances_.clear();
}

LaunchStats Launcher::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace jobs::harness

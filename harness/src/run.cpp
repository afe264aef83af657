#include "jobs/harness/run.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "jobs/harness/load_profile.h"
#include "jobs/harness/progress.h"
#include "jobs/harness/rate_load.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"

namespace jobs::harness {

using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

repo::RepoOptions harness_repo(const std::string& url, const std::string& who) {
    // The harness's own statements are not the scheduler's cost: no CONNECT row.
    repo::RepoOptions options{.url = url, .client_id = who};
    options.log_connect = false;
    return options;
}

// Step 4, on its own thread and session: a job kLiveNotice ahead after each random pause.
class LiveLoad {
  public:
    LiveLoad(const std::string& url, LoadProfile profile, unsigned seed)
        : repo_(harness_repo(url, "harness-live")),
          profile_(profile),
          rng_(seed),
          thread_([this] { loop(); }) {}
    ~LiveLoad() { join(); }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    int created() const { return created_; }

  private:
    void loop() {
        for (;;) {
            std::this_thread::sleep_for(live_pause(rng_));
            try {
                const repo::DbTime now = repo_.db_now();
                if (!live_continues(profile_, now)) return;
                repo_.create_job(now + repo::kLiveNotice);
                ++created_;
            } catch (const repo::RepoError& e) {
                spdlog::error("live load: {}", e.what());
            }
        }
    }
    repo::JobsRepo repo_;
    LoadProfile profile_;
    std::mt19937_64 rng_;
    std::atomic<int> created_{0};
    std::thread thread_;  // last
};

// The burst, all at `since`, before any instance starts.
void create_burst(repo::JobsRepo& repo, const RateProfile& profile) {
    for (long long done = 0; done < profile.burst;) {
        const auto n = std::min<long long>(profile.burst - done,
                                           static_cast<long long>(repo::kMaxCreateBatch));
        repo.create_jobs(std::vector<repo::DbTime>(static_cast<std::size_t>(n), profile.since));
        done += n;
    }
}

std::string when(repo::DbTime t) { return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", t); }

}  // namespace

RunResult run_load(const RunOptions& options) {
    repo::JobsRepo repo(harness_repo(options.url, "harness"));
    const unsigned seed = options.seed.value_or(std::random_device{}());
    std::mt19937_64 rng(seed);

    std::printf("Init test database (%s)...\n", repo.backend_name().c_str());
    repo.reset();
    const repo::DbTime now = repo.db_now();
    const Steady::time_point now_steady = Steady::now();
    const LoadProfile profile{now + std::chrono::seconds(options.since_s),
                              now + std::chrono::seconds(options.since_s + options.duration_s)};
    std::printf("- now:   %s\n- since: %s\n- until: %s\n", when(now).c_str(),
                when(profile.since).c_str(), when(profile.until).c_str());
    const bool rate = options.profile == Profile::Rate;
    const RateProfile rate_profile{profile.since, profile.until, options.rate, options.burst};
    if (rate) {
        create_burst(repo, rate_profile);
        std::printf(
            "- rate: %.0f jobs/s, %lld jobs, inserted live %lld ms ahead\n- burst: %lld jobs at "
            "since\n",
            options.rate, rate_jobs(rate_profile),
            static_cast<long long>(RateFeeder::kRateNotice.count()), options.burst);
    } else {
        int per_step[5] = {0, 0, 0, 0, 0};
        for (const auto& job : initial_jobs(profile, rng)) {
            repo.create_job(job.run_at);
            ++per_step[static_cast<int>(job.step)];
        }
        std::printf(
            "- step 1, every 3 s:        %d jobs\n- step 2, 20 every 13 s:    %d jobs\n"
            "- step 3, every 1-3 s:      %d jobs\n- step 4, live every 1-3 s: under way\n",
            per_step[1], per_step[2], per_step[3]);
    }
    std::fflush(stdout);

    const auto to_steady = [&](repo::DbTime t) { return now_steady + (t - now); };
    const auto end = to_steady(profile.until) + repo::kScoreTail;
    LaunchOptions launch{options.mode,
                         options.instances,
                         options.scheduler,
                         options.url,
                         options.scheduler_args,
                         options.log_dir,
                         ""};
    std::unique_ptr<Launcher> launcher;
    if (options.instances > 0) {
        launcher = std::make_unique<Launcher>(launch, to_steady(profile.until));
        launcher->start();
        std::printf("Started %s (logs in %s/).\n",
                    mode_label(options.mode, options.instances).c_str(), options.log_dir.c_str());
    } else {
        std::printf(
            "No instances started (--instances 0): start them yourself against this database.\n");
    }
    std::fflush(stdout);
    long long most_per_instance = 0, most_in_all = 0;
    {
        ConnectionSampler connections(harness_repo(options.url, "harness-connections"),
                                      mode_label(options.mode, options.instances));
        std::unique_ptr<LiveLoad> live;
        std::unique_ptr<RateFeeder> feeder;
        if (rate) {
            feeder = std::make_unique<RateFeeder>(harness_repo(options.url, "harness-rate"),
                                                  rate_profile);
        } else {
            live = std::make_unique<LiveLoad>(options.url, profile, seed + 1);
        }
        std::unique_ptr<Progress> progress;
        if (options.progress)
            progress = std::make_unique<Progress>(harness_repo(options.url, "harness-progress"),
                                                  now_steady, end);
        std::this_thread::sleep_until(end);
        if (progress) progress->stop();
        if (live) {
            live->join();
            std::printf("- step 4 created %d jobs live.\n", live->created());
        }
        if (feeder) {
            feeder->join();
            std::printf("- the rate load created %lld jobs live.\n", feeder->created());
        }
        connections.stop();
        most_per_instance = connections.most_per_instance();
        most_in_all = connections.most_in_all();
    }
    LaunchStats launched;
    if (launcher) {
        launcher->stop();
        launched = launcher->stats();
    }

    RunResult result = score_database(options.url, options.mode == Mode::Kill9);
    result.report.mode =
        options.instances > 0 ? mode_label(options.mode, options.instances) : "EXTERNAL";
    result.report.instances = options.instances;
    if (rate) {
        result.report.rate = options.rate;
        result.report.burst = options.burst;
    }
    result.report.connections_per_instance = most_per_instance;
    result.report.connections_in_all = most_in_all;
    if (launched.interrupted > 0)
        result.report.cpu_s_per_instance = launched.cpu_s / launched.interrupted;
    if (launched.bad_exits > 0) {
        result.report.pass = false;
        result.report.verdict =
            (result.report.verdict == "pass" ? "" : result.report.verdict + "; ") +
            fmt::format("{} instances did not exit 0 within {} ms of SIGINT", launched.bad_exits,
                        Launcher::kStopLimit.count());
    }
    if (launcher) {
        std::printf(
            "Instances: %d started, %d stopped with SIGINT (slowest %lld ms), %d killed with "
            "SIGKILL.\n",
            launched.started, launched.interrupted, launched.slowest_stop_ms, launched.killed);
        if (launched.failed_starts > 0) {
            std::printf(
                "Instances: %d could not be started again (see the log); the others "
                "ran on and the run is scored as it went.\n",
                launched.failed_starts);
        }
    }
    return result;
}

RunResult score_database(const std::string& url, bool interrupted_allowed) {
    repo::JobsRepo repo(harness_repo(url, "harness"));
    RunResult result;
    result.stats = repo.statistics();
    result.report = make_report(result.stats, interrupted_allowed);
    result.report.backend = repo.backend_name();
    return result;
}

}  // namespace jobs::harness

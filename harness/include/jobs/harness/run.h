#pragma once

#include <optional>
#include <string>
#include <vector>

#include "jobs/harness/launcher.h"
#include "jobs/harness/report.h"

namespace jobs::harness {

// The exercise's load (SPEC section 5), or a steady rate with an optional burst (rate_load.h).
enum class Profile { Exercise, Rate };

struct RunOptions {
    std::string url;
    int instances = 5;
    Mode mode = Mode::Workers;
    int duration_s = 600;
    int since_s = 30;
    std::string scheduler;                    // jobs-scheduler's path
    std::vector<std::string> scheduler_args;  // passed to each instance
    std::string log_dir = "harness-logs";
    bool progress = true;
    std::optional<unsigned> seed;  // for a reproducible load
    Profile profile = Profile::Exercise;
    double rate = 0;      // Rate: steady jobs per second
    long long burst = 0;  // Rate: jobs more, all at `since`
};

struct RunResult {
    Report report;
    repo::Statistics stats;
};

// SPEC section 5: reset, create the load (steps 1-3 at once, step 4 live; or the rate profile's
// burst at once and its steady jobs live), launch the instances as the mode says, wait until
// 40 s after the end, stop them, score.
RunResult run_load(const RunOptions& options);
// The report of a database as it stands.
RunResult score_database(const std::string& url, bool interrupted_allowed = false);

// The delay distribution of a run: histogram, and delay against RunAt.
std::string delay_plot_svg(const RunResult& run);
// COST_SCORE and EFFICIENT_SCORE against the number of instances.
std::string sweep_plot_svg(const std::vector<Report>& reports);

}  // namespace jobs::harness

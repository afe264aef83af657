#pragma once

#include <optional>
#include <string>
#include <vector>

#include "jobs/harness/launcher.h"
#include "jobs/harness/report.h"

namespace jobs::harness {

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
};

struct RunResult {
    Report report;
    repo::Statistics stats;
};

// SPEC section 5: reset, create the load (steps 1-3 at once, step 4 live), launch the
// instances as the mode says, wait until 40 s after the end, stop them, score.
RunResult run_load(const RunOptions& options);
// The report of a database as it stands.
RunResult score_database(const std::string& url, bool interrupted_allowed = false);

// The delay distribution of a run: histogram, and delay against RunAt.
std::string delay_plot_svg(const RunResult& run);
// COST_SCORE and EFFICIENT_SCORE against the number of instances.
std::string sweep_plot_svg(const std::vector<Report>& reports);

}  // namespace jobs::harness

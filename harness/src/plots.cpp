#include <algorithm>

#include <fmt/format.h>

#include "jobs/harness/run.h"
#include "jobs/harness/svg_chart.h"
#include "jobs/repo/exercise.h"

namespace jobs::harness {

std::string delay_plot_svg(const RunResult& run) {
    const auto& delays = run.stats.delays_ms;
    Series histogram{"jobs", "#3366cc", {}, {}};
    Series over_time{"delay", "#cc3333", {}, {}};
    if (!delays.empty()) {
        const long long lo = *std::min_element(delays.begin(), delays.end());
        const long long hi = *std::max_element(delays.begin(), delays.end());
        const long long width = std::max(1LL, (hi - lo) / 60 + 1);
        std::vector<double> counts(static_cast<std::size_t>((hi - lo) / width + 1), 0);
        for (const long long d : delays) counts[static_cast<std::size_t>((d - lo) / width)] += 1;
        for (std::size_t i = 0; i < counts.size(); ++i) {
            histogram.x.push_back(static_cast<double>(lo + static_cast<long long>(i) * width));
            histogram.y.push_back(counts[i]);
        }
        const long long first = run.stats.run_at_ms.front();
        for (std::size_t i = 0; i < delays.size(); ++i) {
            over_time.x.push_back(static_cast<double>(run.stats.run_at_ms[i] - first) / 1000.0);
            over_time.y.push_back(static_cast<double>(delays[i]));
        }
        Panel hist{
            fmt::format("Delay distribution ({} jobs; average {} ms, stdev {:.1f} ms, p99 {} ms)",
                        delays.size(), run.report.delay_average, run.report.delay_stdev,
                        run.report.p99),
            "delay: ExecuteAt - RunAt (ms)",
            "jobs",
            {histogram},
            true,
            static_cast<double>(width),
            false};
        Panel time{"Delay of each job over the run",
                   "RunAt, seconds after the first job (s)",
                   "delay (ms)",
                   {over_time},
                   false,
                   1,
                   true};
        return render_svg(
            fmt::format("{} on {}: COST {} / EFFICIENT {:.2f}", run.report.mode, run.report.backend,
                        run.report.cost_score, run.report.efficient_score),
            {hist, time});
    }
    return render_svg("No completed jobs", {});
}

std::string sweep_plot_svg(const std::vector<Report>& reports) {
    Series cost{"COST_SCORE", "#3366cc", {}, {}};
    Series efficient{"EFFICIENT_SCORE", "#cc3333", {}, {}};
    for (const auto& r : reports) {
        cost.x.push_back(r.instances);
        cost.y.push_back(static_cast<double>(r.cost_score));
        efficient.x.push_back(r.instances);
        efficient.y.push_back(r.efficient_score);
    }
    const std::string backend = reports.empty() ? "" : reports.front().backend;
    return render_svg(
        fmt::format("Scores against the number of instances ({})", backend),
        {Panel{"COST_SCORE (lower is cheaper on the database)",
               "instances",
               "cost score (weighted statements)",
               {cost},
               false,
               1,
               false},
         Panel{fmt::format("EFFICIENT_SCORE (average + stdev of the delay; floor {} ms)",
                           repo::kTaskLength.count()),
               "instances",
               "efficient score (ms)",
               {efficient},
               false,
               1,
               false}});
}

}  // namespace jobs::harness

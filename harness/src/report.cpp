#include "jobs/harness/report.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "jobs/repo/action.h"
#include "jobs/repo/exercise.h"

namespace jobs::harness {
namespace {

using repo::Action;

long long count_of(const std::map<std::string, long long>& m, Action action) {
    const auto it = m.find(std::string(repo::action_name(action)));
    return it == m.end() ? 0 : it->second;
}

using repo::JobState;

long long state_count(const std::map<int, long long>& m, JobState state) {
    const auto it = m.find(static_cast<int>(state));
    return it == m.end() ? 0 : it->second;
}

// Nearest rank: the smallest value with at least p % of the values at or below it.
long long percentile(const std::vector<long long>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

Report make_report(const repo::Statistics& stats, bool interrupted_allowed) {
    Report r;
    r.actions = stats.actions;
    r.states = stats.states;
    for (const auto& [state, count] : stats.states) r.created += count;
    r.completed = state_count(stats.states, JobState::Completed);
    r.early_lock = stats.early_lock;
    r.early_exec = stats.early_exec;
    r.delay_exceed = stats.delay_exceed;
    r.late_created = stats.late_created;
    r.duplicates = stats.duplicates;
    r.lost =
        state_count(stats.states, JobState::Created) + state_count(stats.states, JobState::Locked);
    r.failed = state_count(stats.states, JobState::Failed);
    r.interrupted = state_count(stats.states, JobState::Interrupted);

    std::vector<long long> delays = stats.delays_ms;
    std::sort(delays.begin(), delays.end());
    if (!delays.empty()) {
        const double n = static_cast<double>(delays.size());
        const double mean =
            static_cast<double>(std::accumulate(delays.begin(), delays.end(), 0LL)) / n;
        r.delay_average = static_cast<long long>(mean);
        if (delays.size() > 1) {
            double squares = 0;
            for (const long long d : delays)
                squares += (static_cast<double>(d) - mean) * (static_cast<double>(d) - mean);
            r.delay_stdev = std::sqrt(squares / (n - 1));
        }
        r.p50 = percentile(delays, 50);
        r.p95 = percentile(delays, 95);
        r.p99 = percentile(delays, 99);
        r.max = delays.back();
        r.on_time =
            std::upper_bound(delays.begin(), delays.end(), kOnTime.count()) - delays.begin();
    }
    r.statements = stats.statements;
    for (const auto& [action, count] : stats.actions) {
        r.cost_score += repo::action_weight(action) * count;
    }
    r.efficient_score = static_cast<double>(r.delay_average) + r.delay_stdev;

    std::vector<std::string> reasons;
    if (r.created == 0) reasons.push_back("no jobs");
    const long long finished = r.completed + (interrupted_allowed ? r.interrupted : 0);
    if (finished != r.created)
        reasons.push_back(fmt::format("{} of {} jobs completed", r.completed, r.created));
    if (r.duplicates > 0)
        reasons.push_back(fmt::format("{} jobs ran more than once", r.duplicates));
    if (r.lost > 0) reasons.push_back(fmt::format("{} jobs never ran", r.lost));
    if (count_of(r.actions, Action::Complete) != r.completed) {
        reasons.push_back(fmt::format("{} completions logged for {} completed jobs",
                                      count_of(r.actions, Action::Complete), r.completed));
    }
    if (r.early_exec > 0) reasons.push_back(fmt::format("{} executed early", r.early_exec));
    if (r.delay_exceed > 0)
        reasons.push_back(fmt::format("{} exceeded the {} s delay", r.delay_exceed,
                                      repo::kMaxDelayTime.count() / 1000));
    if (r.late_created > 0)
        reasons.push_back(fmt::format("{} created with less than {} s notice", r.late_created,
                                      repo::kMinPrepareTime.count() / 1000));
    r.pass = reasons.empty();
    r.verdict = r.pass ? "pass" : fmt::format("{}", fmt::join(reasons, "; "));
    return r;
}

nlohmann::json to_json(const Report& r) {
    nlohmann::json states = nlohmann::json::object();
    // The exercise's three states are always present, as its report had them.
    for (const JobState s : {JobState::Created, JobState::Locked, JobState::Completed}) {
        states[std::to_string(static_cast<int>(s))] = state_count(r.states, s);
    }
    for (const auto& [s, count] : r.states) states[std::to_string(s)] = count;
    return {
        {"mode", r.mode},
        {"instances", r.instances},
        {"backend", r.backend},
        {"actions", r.actions},
        {"states", states},
        {"delay_ms",
         {{"average", r.delay_average},
          {"stdev", r.delay_stdev},
          {"p50", r.p50},
          {"p95", r.p95},
          {"p99", r.p99},
          {"max", r.max}}},
        {"on_time", r.on_time},
        {"on_time_share",
         r.completed > 0 ? static_cast<double>(r.on_time) / static_cast<double>(r.completed) : 0.0},
        {"statements", r.statements},
        {"statements_per_job",
         r.created > 0 ? static_cast<double>(r.statements) / static_cast<double>(r.created) : 0.0},
        {"load", {{"rate", r.rate}, {"burst", r.burst}}},
        {"connections",
         {{"per_instance", r.connections_per_instance}, {"in_all", r.connections_in_all}}},
        {"cpu_s_per_instance", r.cpu_s_per_instance},
        {"early_lock", r.early_lock},
        {"early_exec", r.early_exec},
        {"delay_exceed", r.delay_exceed},
        {"late_created", r.late_created},
        {"duplicates", r.duplicates},
        {"lost", r.lost},
        {"interrupted", r.interrupted},
        {"failed", r.failed},
        {"cost_score", r.cost_score},
        {"efficient_score", r.efficient_score},
        {"pass", r.pass},
        {"verdict", r.verdict},
    };
}

std::string csv_header() {
    return "RUNNER,MODE,CREATE,ACQUIRE_SUCCESS,ACQUIRE_FAILURE,COMPLETE,QUERYJOB,QUERYLIST,CREATE_"
           "COUNT,"
           "LOCK_COUNT,COMPLETE_COUNT,DELAY_AVERAGE,DELAY_STDEV,DELAY_EXCEED,EARLY_LOCK,EARLY_EXEC,"
           "COST_SCORE,EFFICIENT_SCORE";
}

std::string csv_row(const Report& r, const std::string& runner) {
    const auto a = [&](Action action) { return count_of(r.actions, action); };
    return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{:.2f},{},{},{},{},{:.2f}", runner,
                       r.mode, a(Action::Create), a(Action::AcquireSuccess),
                       a(Action::AcquireFailure), a(Action::Complete), a(Action::QueryJob),
                       a(Action::QueryList), state_count(r.states, JobState::Created),
                       state_count(r.states, JobState::Locked),
                       state_count(r.states, JobState::Completed), r.delay_average, r.delay_stdev,
                       r.delay_exceed, r.early_lock, r.early_exec, r.cost_score, r.efficient_score);
}

std::string to_text(const Report& r) {
    std::string out = fmt::format(
        "Jobs Scheduling Metrics ({}, {} instances, {}):\n\n--(action count)----------\n", r.mode,
        r.instances, r.backend);
    for (const auto& [action, count] : r.actions) {
        out += fmt::format("- {:<18} {:>8}   (weight {})\n", action + ":", count,
                           repo::action_weight(action));
    }
    out += "\n--(state count)-----------\n";
    out += fmt::format(
        "- COUNT(CREATE):     {:>8}\n- COUNT(LOCK):       {:>8}\n- COUNT(COMPLETE):   {:>8}\n",
        state_count(r.states, JobState::Created), state_count(r.states, JobState::Locked),
        state_count(r.states, JobState::Completed));
    for (const auto& [s, count] : r.states) {
        if (s > static_cast<int>(JobState::Completed))
            out += fmt::format("- COUNT(STATE {}):    {:>8}\n", s, count);
    }
    out += "\n--(statistics)------------\n";
    out += fmt::format("- DELAY(Average):    {:>8} ms\n- DELAY(Stdev):      {:>11.2f} ms\n",
                       r.delay_average, r.delay_stdev);
    out +=
        fmt::format("- DELAY p50/p95/p99/max: {} / {} / {} / {} ms\n", r.p50, r.p95, r.p99, r.max);
    out += fmt::format(
        "- ON TIME (<= {} ms): {} of {} ({:.2f} %)\n", kOnTime.count(), r.on_time, r.completed,
        r.completed > 0 ? 100.0 * static_cast<double>(r.on_time) / static_cast<double>(r.completed)
                        : 0.0);
    out += fmt::format(
        "- STATEMENTS:        {:>8}   ({:.3f} a job)\n", r.statements,
        r.created > 0 ? static_cast<double>(r.statements) / static_cast<double>(r.created) : 0.0);
    if (r.connections_in_all > 0)
        out += fmt::format("- CONNECTIONS:       {:>8}   at most per instance ({} in all)\n",
                           r.connections_per_instance, r.connections_in_all);
    if (r.cpu_s_per_instance > 0)
        out += fmt::format("- CPU per instance:  {:>11.2f} s   (with its workers)\n",
                           r.cpu_s_per_instance);
    out += "\n--(test result)-----------\n";
    out += fmt::format("- Complete Job:      {}, {} / {}\n", r.completed == r.created, r.completed,
                       r.created);
    out +=
        fmt::format("- Early Lock:        {:>8}   (locked before RunAt; allowed)\n", r.early_lock);
    out += fmt::format("- Early Exec:        {:>8}\n- Delay Too Long:    {:>8}\n", r.early_exec,
                       r.delay_exceed);
    out += fmt::format("- Late Created:      {:>8}\n", r.late_created);
    out += fmt::format("- Duplicates:        {:>8}\n- Lost (never run):  {:>8}\n", r.duplicates,
                       r.lost);
    out += fmt::format("- Interrupted:       {:>8}\n- Failed:            {:>8}\n", r.interrupted,
                       r.failed);
    out += "\n--(benchmark score)-------\n";
    out += fmt::format(
        "- COST_SCORE:        {:>8}   (querylist x 100 + acquire-failure x 10 + queryjob x 1, "
        "other kinds by their nearest weight)\n",
        r.cost_score);
    out += fmt::format("- EFFICIENT_SCORE:   {:>11.2f}   (average + stdev)\n", r.efficient_score);
    out += fmt::format("\nRESULT: {}\n", r.pass ? "PASS" : "FAIL: " + r.verdict);
    return out;
}

}  // namespace jobs::harness

#pragma once

#include <chrono>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "jobs/repo/types.h"

namespace jobs::harness {

// On time: the task's own 83 ms and at most 100 ms more.
inline constexpr std::chrono::milliseconds kOnTime{183};

// The exercise's report plus delay percentiles (SPEC sections 5 and 6). COST_SCORE weighs each
// action as jobs/repo/action.h says.
struct Report {
    std::string mode = "score";  // WORKERSnn, KILL, HATEST, KILL9, or score
    int instances = 0;
    std::string backend;
    std::map<std::string, long long> actions;
    std::map<int, long long> states;
    long long created = 0;    // rows in Jobs
    long long completed = 0;  // State = 2
    long long early_lock = 0;
    long long early_exec = 0;
    long long delay_exceed = 0;
    long long late_created = 0;   // inserted with less than MinPrepareTime of notice
    long long duplicates = 0;     // jobs whose task ran more than once
    long long lost = 0;           // never run: still in state 0 or 1
    long long interrupted = 0;    // started, instance gone before the outcome (state 4)
    long long failed = 0;         // the task failed (state 3)
    long long delay_average = 0;  // truncated to an integer, as the reference did
    double delay_stdev = 0;       // sample standard deviation
    long long p50 = 0, p95 = 0, p99 = 0, max = 0;
    long long on_time = 0;     // completed within kOnTime of RunAt: the task and 100 ms
    long long statements = 0;  // the instances' statements (repo::Statistics::statements)
    // Filled by a run, not by the database: the load, and what the instances used.
    double rate = 0;                         // steady jobs per second (the rate profile)
    long long burst = 0;                     // jobs at one RunAt (the rate profile)
    long long connections_per_instance = 0;  // the most one instance held at once (PostgreSQL)
    long long connections_in_all = 0;        // the most all instances held at once
    double cpu_s_per_instance = 0;           // user + system, with its workers, on average
    long long cost_score = 0;
    double efficient_score = 0;
    bool pass = false;
    std::string verdict;  // why it failed, or "pass"
};

// `interrupted_allowed`: KILL9 passes with interrupted jobs (a SIGKILL can cut a task short);
// every other mode needs every job completed.
Report make_report(const repo::Statistics& stats, bool interrupted_allowed = false);
nlohmann::json to_json(const Report& report);
// The reference CSV's columns, then COST_SCORE and EFFICIENT_SCORE.
std::string csv_header();
std::string csv_row(const Report& report, const std::string& runner);
std::string to_text(const Report& report);

}  // namespace jobs::harness

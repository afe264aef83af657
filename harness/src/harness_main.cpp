// jobs-harness: replays the exercise's load against instances, scores them, sweeps them, and
// benchmarks the process pool. Exit status: 0 pass, 1 fail, 2 bad usage.
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "jobs/dispatcher/program_path.h"
#include "jobs/harness/instance.h"
#include "jobs/harness/pool_bench.h"
#include "jobs/harness/run.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"

using namespace jobs;
using namespace jobs::harness;

namespace {

void write_file(const std::string& path, const std::string& text) {
    if (path.empty()) return;
    std::ofstream out(path);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
    std::printf("Wrote %s\n", path.c_str());
}

struct RunFlags {
    RunOptions options;
    std::string mode = "workers";
    std::string profile = "exercise";
    std::string json, csv, plot;
    bool no_progress = false;
    unsigned seed = 0;
};

void add_run_flags(CLI::App* cmd, RunFlags& f, bool with_instances) {
    cmd->add_option("--db", f.options.url,
                    "database URL (SOCI form; env:NAME / file:PATH also accepted)")
        ->capture_default_str();
    if (with_instances) {
        cmd->add_option("--instances", f.options.instances,
                        "instances to start; 0: start none (you start them)")
            ->capture_default_str();
        cmd->add_option("--mode", f.mode, "workers | kill | hatest | kill9")->capture_default_str();
    }
    cmd->add_option("--duration", f.options.duration_s, "seconds of load")->capture_default_str();
    cmd->add_option("--since", f.options.since_s,
                    "the load starts this many seconds after the reset")
        ->capture_default_str();
    cmd->add_option("--log-dir", f.options.log_dir, "instances' logs go here")
        ->capture_default_str();
    cmd->add_option("--scheduler", f.options.scheduler,
                    "jobs-scheduler to start (default: next to this program)");
    cmd->add_option("--scheduler-arg", f.options.scheduler_args,
                    "an argument for every instance (repeatable)");
    cmd->add_flag("--no-progress", f.no_progress, "no progress lines");
    cmd->add_option("--profile", f.profile,
                    "exercise (SPEC section 5) | rate (--rate jobs/s, and a --burst at since)")
        ->check(CLI::IsMember({"exercise", "rate"}))
        ->capture_default_str();
    cmd->add_option("--rate", f.options.rate, "rate profile: steady jobs per second")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--burst", f.options.burst, "rate profile: jobs more, all at since")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--seed", f.seed, "seed of the random load (default: random)");
}

void prepare(RunFlags& f) {
    f.options.url = repo::resolve_url(f.options.url);
    if (f.options.scheduler.empty())
        f.options.scheduler = dispatcher::sibling_program("jobs-scheduler");
    f.options.mode = parse_mode(f.mode);
    f.options.profile = f.profile == "rate" ? Profile::Rate : Profile::Exercise;
    if (f.options.profile == Profile::Rate && f.options.rate <= 0 && f.options.burst <= 0)
        throw std::invalid_argument("--profile rate needs --rate or --burst");
    // The burst is inserted at the start, and needs MinPrepareTime's notice and time to insert.
    if (f.options.profile == Profile::Rate && f.options.since_s < 15)
        throw std::invalid_argument("--profile rate needs --since of at least 15 s");
    f.options.progress = !f.no_progress;
    if (f.seed != 0) f.options.seed = f.seed;
}

int report_run(const RunResult& run, const RunFlags& f) {
    std::printf("\n%s", to_text(run.report).c_str());
    if (!f.json.empty()) write_file(f.json, to_json(run.report).dump(2) + "\n");
    if (!f.csv.empty()) write_file(f.csv, csv_header() + "\n" + csv_row(run.report, "jobs") + "\n");
    if (!f.plot.empty()) write_file(f.plot, delay_plot_svg(run));
    return run.report.pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    // A harness that dies of an uncaught error takes its instances with it.
    std::set_terminate([] {
        harness::kill_all_instances();
        std::abort();
    });
    spdlog::set_default_logger(spdlog::stderr_color_mt("jobs-harness"));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    CLI::App app{
        "jobs-harness: replay the scheduling exercise's load, launch and kill instances, score "
        "them"};
    app.require_subcommand(1);

    RunFlags run;
    run.options.url = std::string(repo::kDefaultUrl);
    auto* run_cmd = app.add_subcommand(
        "run", "reset the database, create the load, launch instances, score the run");
    add_run_flags(run_cmd, run, true);
    run_cmd->add_option("--json", run.json, "write the report as JSON");
    run_cmd->add_option("--csv", run.csv,
                        "write the report as a CSV row (the reference's columns)");
    run_cmd->add_option("--plot", run.plot, "write an SVG of the delay distribution");

    std::string score_db{repo::kDefaultUrl}, score_json;
    bool allow_interrupted = false;
    auto* score_cmd = app.add_subcommand("score", "the report for an existing database");
    score_cmd->add_option("--db", score_db, "database URL")->capture_default_str();
    score_cmd->add_option("--json", score_json, "write the report as JSON");
    score_cmd->add_flag("--allow-interrupted", allow_interrupted,
                        "pass with interrupted jobs (as KILL9 does)");

    RunFlags sweep;
    sweep.options.url = std::string(repo::kDefaultUrl);
    int from = 1, to = 10;
    std::vector<int> counts;
    sweep.csv = "sweep.csv";
    sweep.plot = "sweep.svg";
    auto* sweep_cmd =
        app.add_subcommand("sweep", "WORKERS<from> to WORKERS<to>, one after another");
    add_run_flags(sweep_cmd, sweep, false);
    sweep_cmd->add_option("--from", from, "fewest instances")->capture_default_str();
    sweep_cmd->add_option("--to", to, "most instances")->capture_default_str();
    sweep_cmd
        ->add_option("--counts", counts, "these instance counts instead of from..to, e.g. 1,3,7,10")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    sweep_cmd->add_option("--csv", sweep.csv, "one row per run")->capture_default_str();
    sweep_cmd->add_option("--plot", sweep.plot, "SVG chart of both scores against instances")
        ->capture_default_str();
    sweep_cmd->add_option("--json", sweep.json, "all reports as a JSON array");

    PoolBenchOptions bench;
    std::string bench_json;
    auto* bench_cmd = app.add_subcommand(
        "pool-bench", "SHA-512 tasks in-process, through one child, through the pool");
    bench_cmd->add_option("--size", bench.size, "bytes per task (the article: 1024 and 1048576)")
        ->capture_default_str();
    bench_cmd->add_option("--tasks", bench.tasks, "tasks per measurement")->capture_default_str();
    bench_cmd->add_option("--pool-size", bench.pool_size, "children in the pool (0: one per core)")
        ->capture_default_str();
    bench_cmd
        ->add_option("--depth", bench.depth,
                     "requests in flight per child (0: as many as fit in 64 KB, at least 2)")
        ->capture_default_str();
    bench_cmd->add_option("--worker", bench.worker,
                          "the child program (default: jobs-sha-worker next to this program)");
    bench_cmd->add_option("--json", bench_json, "write the figures as JSON");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    try {
        if (*run_cmd) {
            prepare(run);
            return report_run(run_load(run.options), run);
        }
        if (*score_cmd) {
            RunFlags f;
            f.json = score_json;
            return report_run(score_database(repo::resolve_url(score_db), allow_interrupted), f);
        }
        if (*sweep_cmd) {
            prepare(sweep);
            std::vector<Report> reports;
            std::string csv = csv_header() + "\n";
            nlohmann::json all = nlohmann::json::array();
            bool pass = true;
            if (counts.empty()) {
                for (int n = from; n <= to; ++n) counts.push_back(n);
            }
            for (const int n : counts) {
                sweep.options.instances = n;
                const RunResult result = run_load(sweep.options);
                std::printf("\n%s", to_text(result.report).c_str());
                reports.push_back(result.report);
                csv += csv_row(result.report, "jobs") + "\n";
                all.push_back(to_json(result.report));
                pass = pass && result.report.pass;
                write_file(sweep.csv, csv);  // after every run: a long sweep keeps what it measured
                write_file(sweep.plot, sweep_plot_svg(reports));
            }
            if (!sweep.json.empty()) write_file(sweep.json, all.dump(2) + "\n");
            return pass ? 0 : 1;
        }
        if (*bench_cmd) {
            if (bench.worker.empty()) bench.worker = dispatcher::sibling_program("jobs-sha-worker");
            const auto result = run_pool_bench(bench);
            const auto json = to_json(result);
            std::printf("%s\n", json.dump(2).c_str());
            if (!bench_json.empty()) write_file(bench_json, json.dump(2) + "\n");
            return 0;
        }
    } catch (const repo::RepoError& e) {
        spdlog::error("{}", e.what());
        return e.kind() == repo::ErrorKind::BadInput ? 2 : 1;
    } catch (const std::invalid_argument& e) {
        spdlog::error("{}", e.what());
        return 2;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    return 2;
}

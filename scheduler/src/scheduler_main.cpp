// jobs-scheduler: one instance. Wires the repository, the scheduler, the queue, the executors
// and the process pool; SIGINT/SIGTERM stop it gracefully (see README.md).
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include "jobs/dispatcher/executors.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/dispatcher/program_path.h"
#include "jobs/dispatcher/worker_protocol.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/scheduler/asio_loop.h"
#include "jobs/scheduler/db_thread.h"
#include "jobs/scheduler/queue_sink.h"
#include "jobs/scheduler/scheduler.h"
#include "jobs/scheduler/shutdown.h"

using namespace jobs;
using std::chrono::milliseconds;

namespace {

// Due jobs waiting for an executor. The loop thread pushes into it and must never wait, so the
// bound is only a backstop: what an instance takes on is bounded by the jobs it locks, and a
// burst of 20,000 at one moment fits many times over.
constexpr std::size_t kQueueCapacity = 1'000'000;

std::vector<int> parse_cpus(const std::string& text) {
    std::vector<int> cpus;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto comma = text.find(',', start);
        cpus.push_back(std::stoi(text.substr(start, comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return cpus;
}

struct Flags {
    std::string db{repo::kDefaultUrl};
    std::string client_id;
    long long window_ms = scheduler::SchedulerOptions{}.window.count();
    long long poll_ms = scheduler::SchedulerOptions{}.poll_interval.count();
    long long jitter_ms = scheduler::SchedulerOptions{}.poll_jitter.count();
    long long lead_min_ms = scheduler::SchedulerOptions{}.lock_lead_min.count();
    long long lead_max_ms = scheduler::SchedulerOptions{}.lock_lead_max.count();
    long long start_lead_ms = scheduler::SchedulerOptions{}.start_lead.count();
    long long run_lease_ms = scheduler::SchedulerOptions{}.run_lease.count();
    std::size_t list_limit = scheduler::SchedulerOptions{}.list_limit;
    bool no_coordination = false;
    std::size_t executors = 0, pool_min = 1, pool_max = 64;
    long long idle_ms = dispatcher::PoolOptions{}.idle_timeout.count();
    long long task_timeout_ms = dispatcher::PoolOptions{}.task_timeout.count();
    long long start_timeout_ms = dispatcher::PoolOptions{}.start_timeout.count();
    std::string worker;
    bool worker_db = false;
    std::vector<std::string> worker_args;
    std::string cpus;
    int nice = 0;
    std::string log_level = "info";
};

void add_flags(CLI::App& app, Flags& f) {
    app.add_option("--db", f.db,
                   "database URL: sqlite3://db=FILE, postgresql://..., odbc://DSN=...; "
                   "env:NAME or file:PATH keep credentials out of the process list")
        ->capture_default_str();
    app.add_option("--client-id", f.client_id, "ClientId written to WorkerLogs (default host:pid)");
    app.add_option("--window", f.window_ms, "list the jobs due within this many ms")
        ->capture_default_str();
    app.add_option("--list-limit", f.list_limit,
                   "most jobs one list returns (0: all); a backlog larger is listed a part at a "
                   "time")
        ->capture_default_str();
    app.add_option(
           "--poll-interval", f.poll_ms,
           "ms between lists (with coordination: of the whole cluster); keep it below window "
           "minus lock-lead-max, and below MinPrepareTime (10000) minus the time a lock takes")
        ->capture_default_str();
    app.add_option("--poll-jitter", f.jitter_ms,
                   "up to this many ms are taken off each interval at random")
        ->capture_default_str();
    app.add_flag("--no-coordination", f.no_coordination,
                 "every instance lists every poll-interval and checks each job before locking it, "
                 "instead of sharing polls and jobs out through the database");
    app.add_option("--lock-lead-min", f.lead_min_ms,
                   "lock a job at least this many ms before RunAt")
        ->capture_default_str();
    app.add_option("--lock-lead-max", f.lead_max_ms,
                   "and at most this many (random in between, per job)")
        ->capture_default_str();
    app.add_option("--start-lead", f.start_lead_ms,
                   "the default worker gets each job this many ms early, writes its fencing start, "
                   "then begins the task at RunAt itself")
        ->capture_default_str();
    app.add_option("--run-lease", f.run_lease_ms,
                   "ms a started task's lease holds; renewed while the task runs, it lapses only "
                   "once its instance is gone, and the job is then marked interrupted")
        ->capture_default_str();
    app.add_option("--executors", f.executors,
                   "executor threads handing tasks to the pool (0: one per task the pool can "
                   "run at once, pool-max times the permits its workers declare)")
        ->capture_default_str();
    app.add_option("--pool-min", f.pool_min, "worker processes kept alive")->capture_default_str();
    app.add_option("--pool-max", f.pool_max, "most worker processes at once")
        ->capture_default_str();
    app.add_option("--pool-idle", f.idle_ms, "ms after which a surplus idle worker retires")
        ->capture_default_str();
    app.add_option("--task-timeout", f.task_timeout_ms,
                   "ms a task may run before its worker is killed and the "
                   "job marked failed (0: no limit)")
        ->capture_default_str();
    app.add_option("--worker-start-timeout", f.start_timeout_ms, "ms a new worker has to say READY")
        ->capture_default_str();
    app.add_option("--worker", f.worker,
                   "worker program (default: jobs-worker next to this program); "
                   "protocol in dispatcher/README.md");
    app.add_flag("--worker-db", f.worker_db,
                 "give a custom --worker the database URL (JOBS_WORKER_DB): one that writes its "
                 "own START or completions needs it; jobs-worker always has it");
    app.add_option("--worker-arg", f.worker_args,
                   "an argument for the worker program (repeatable)");
    app.add_option("--worker-cpus", f.cpus, "pin workers to these CPUs, e.g. 0,1");
    app.add_option("--worker-nice", f.nice, "niceness added to workers (lower priority)")
        ->capture_default_str();
    app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error")
        ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
    // First of all: from here on SIGINT/SIGTERM are caught and queued, so a signal during
    // start-up (parsing, connecting) stops the instance cleanly once it is up, never half-way.
    boost::asio::io_context io;
    scheduler::Shutdown shutdown(io);
    CLI::App app{
        "jobs-scheduler: one instance of the distributed job scheduler. It lists jobs due "
        "soon, locks each shortly before its RunAt and runs it in a pooled worker process. "
        "SIGINT/SIGTERM stop it: locked jobs still run, unlocked ones are left to other "
        "instances."};
    Flags f;
    add_flags(app, f);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    spdlog::set_default_logger(spdlog::stderr_color_mt("jobs-scheduler"));
    spdlog::set_level(spdlog::level::from_str(f.log_level));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    std::signal(SIGPIPE, SIG_IGN);

    scheduler::SchedulerOptions options;
    options.window = milliseconds(f.window_ms);
    options.poll_interval = milliseconds(f.poll_ms);
    options.poll_jitter = milliseconds(f.jitter_ms);
    options.lock_lead_min = milliseconds(f.lead_min_ms);
    options.lock_lead_max = milliseconds(f.lead_max_ms);
    options.start_lead = milliseconds(f.start_lead_ms);
    options.coordinate = !f.no_coordination;
    options.run_lease = milliseconds(f.run_lease_ms);
    options.list_limit = f.list_limit;
    if (const auto error = scheduler::validate(options)) {
        std::cerr << "jobs-scheduler: " << *error << "\n";
        return 2;
    }
    if (f.pool_min > f.pool_max) {
        std::cerr << "jobs-scheduler: pool-min must be at most pool-max\n";
        return 2;
    }

    std::string url;
    std::string client_id = f.client_id.empty() ? repo::default_client_id() : f.client_id;
    // libpq names each connection after this (pg_stat_activity.application_name), and the
    // workers inherit it: an instance's connections can be told apart, and counted.
    setenv("PGAPPNAME", client_id.c_str(), 0);
    std::unique_ptr<repo::JobsRepo> list_repo, lock_repo, start_repo, complete_repo;
    try {
        url = repo::resolve_url(f.db);
        repo::RepoOptions list_options{.url = url, .client_id = client_id};
        list_options.run_lease = options.run_lease;
        list_repo = std::make_unique<repo::JobsRepo>(list_options);
        // The first session checked the schema (one CONNECT row per instance); the others trust
        // it.
        repo::RepoOptions lock_options = list_options;
        lock_options.check_schema = false;
        lock_repo = std::make_unique<repo::JobsRepo>(lock_options);
        // Fencing starts have a session of their own: a lock batch that stalls never holds up
        // the start of a job that is due.
        start_repo = std::make_unique<repo::JobsRepo>(lock_options);
        // A task that ended must be recorded: ride out a database restart.
        repo::RepoOptions complete_options = lock_options;
        complete_options.retry_for = std::chrono::seconds(60);
        complete_repo = std::make_unique<repo::JobsRepo>(complete_options);
    } catch (const repo::RepoError& e) {
        spdlog::error("{}", e.what());
        return e.kind() == repo::ErrorKind::BadInput ? 2 : 1;
    }
    spdlog::info("instance {} on {}", client_id, list_repo->backend_name());

    dispatcher::PoolOptions pool_options;
    pool_options.child.argv = {f.worker.empty() ? dispatcher::sibling_program("jobs-worker")
                                                : f.worker};
    pool_options.child.argv.insert(pool_options.child.argv.end(), f.worker_args.begin(),
                                   f.worker_args.end());
    // The URL travels in the environment, not argv: it may hold a password. A custom worker
    // gets it only when asked (--worker-db): most never touch the database.
    pool_options.child.extra_env = {"JOBS_WORKER_CLIENT_ID=" + client_id,
                                    "JOBS_WORKER_RUN_LEASE_MS=" + std::to_string(f.run_lease_ms)};
    const bool default_worker =
        f.worker.empty() || std::filesystem::path(f.worker).filename() == "jobs-worker";
    if (default_worker || f.worker_db)
        pool_options.child.extra_env.push_back("JOBS_WORKER_DB=" + url);
    if (!f.cpus.empty()) pool_options.child.cpus = parse_cpus(f.cpus);
    pool_options.child.nice = f.nice;
    pool_options.min_size = f.pool_min;
    pool_options.max_size = f.pool_max;
    pool_options.idle_timeout = milliseconds(f.idle_ms);
    pool_options.task_timeout = milliseconds(f.task_timeout_ms);
    pool_options.start_timeout = milliseconds(f.start_timeout_ms);

    scheduler::TaskQueue queue(kQueueCapacity);
    dispatcher::ProcessPool pool(pool_options);
    // The worker's READY line says who writes the fencing START and when the job goes to it.
    const auto capabilities = pool.await_capabilities();
    options.worker_starts_jobs = capabilities.has(dispatcher::Capability::Fences);
    options.worker_waits =
        options.worker_starts_jobs || capabilities.has(dispatcher::Capability::Timed);
    // Each executor waits on one task: as many as the pool can run at once, unless told.
    const std::size_t executor_count = f.executors != 0 ? f.executors : f.pool_max * pool.permits();
    spdlog::info("workers: capabilities {}, {} permits each, at most {}; {} executors",
                 dispatcher::describe(capabilities), pool.permits(), f.pool_max, executor_count);
    scheduler::QueueSink sink(queue, pool);
    scheduler::AsioLoop loop(io);
    scheduler::Lanes lanes{std::make_unique<scheduler::DbThread>(std::move(list_repo)),
                           std::make_unique<scheduler::DbThread>(std::move(lock_repo)),
                           std::make_unique<scheduler::DbThread>(std::move(start_repo)),
                           std::make_unique<scheduler::DbThread>(std::move(complete_repo))};
    scheduler::Scheduler sched(loop, options, client_id, std::move(lanes), sink,
                               std::random_device{}());
    dispatcher::Executors<scheduler::ReadyTask> executors(
        queue, executor_count, [&](scheduler::ReadyTask& task) {
            std::optional<std::int64_t> not_before;
            if (task.not_before) {
                not_before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 task.not_before->time_since_epoch())
                                 .count();
            }
            const std::string request =
                dispatcher::format_request({task.job.id, task.token, task.job.payload, not_before});
            sched.report(task, pool.call(request));
        });

    shutdown.stop_on_signal(sched);
    sched.start();
    io.run();
    // Stopping: a further SIGINT/SIGTERM must not kill the process half-way through the drain
    // (or turn its exit status into a signal) once asio's handler is gone.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);

    spdlog::info("handed over; waiting for running tasks");
    executors.join();
    // Outcomes first, workers after: a jobs-worker whose input closes while its instance lives
    // takes the jobs it answered as recorded (it records them itself only if we vanished).
    spdlog::info("tasks done; finishing database writes");
    sched.finish_database_work();
    spdlog::info("outcomes recorded; closing workers");
    pool.drain();
    const auto c = sched.counters();
    const auto p = pool.stats();
    spdlog::info(
        "stopped: listed {} checked {} locked {} lost {} held {} handed {} done {} failed {} "
        "interrupted {}; leases renewed {} lost {}; unreadable rows {}; workers started {} retired "
        "{} lost {}, {:.1f} ms to ready",
        c.listed, c.checked, c.locked, c.lost, c.held, c.handed, c.done, c.failed, c.interrupted,
        c.renewed, c.renewals_lost, c.unreadable, p.started, p.retired, p.lost, p.average_start_ms);
    return 0;
}

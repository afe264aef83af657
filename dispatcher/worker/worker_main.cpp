// jobs-worker: the default pooled child. Reads "RUN <id> <token> <payload> [@<ns>]" lines on
// stdin, marks the job started (fencing), waits for the given monotonic moment (RunAt: the
// request comes early so the fencing write is off the critical path), runs the exercise's task
// (one of 5 permits per child process, 83 ms) and answers "OK <id>": its instance records the
// completion, batched with the other tasks that ended at the same moment. If the instance
// vanishes first (its end of the channel closes while it is no longer our parent), the worker
// records the jobs it answered itself. It declares this in its READY line (capability
// `fences`); those two are all it writes. Exits at end of input. The payload is data: it is
// never run, opened or interpreted here.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "jobs/dispatcher/worker_channel.h"
#include "jobs/dispatcher/worker_protocol.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/simulated_task.h"

using namespace jobs;
using Clock = std::chrono::steady_clock;

namespace {

std::string env_or(const char* name, std::string fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

// The scheduler's steady clock is CLOCK_MONOTONIC, shared by every process of the host.
void wait_until(std::int64_t monotonic_ns) {
    const timespec at{static_cast<time_t>(monotonic_ns / 1'000'000'000),
                      static_cast<long>(monotonic_ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
}

// A job answered OK whose completion the instance records.
struct Answered {
    repo::JobId id = 0;
    repo::LockToken token = 0;
    Clock::time_point at;
};

// A killed instance closes our channel a moment before the kernel re-parents us (its files go
// before its exit is announced), so a live parent is asked again for a short while before it is
// believed; a live instance that closed us costs that wait once, its children closing together.
bool instance_vanished(pid_t instance) {
    const auto until = Clock::now() + std::chrono::milliseconds(50);
    for (;;) {
        if (getppid() != instance) return true;
        if (Clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// The instance vanished (killed) after some of our answers: record those it may not have. A
// job still locked with our token is ours to complete; one it completed is left alone.
void record_orphans(repo::JobsRepo& jobs_repo, const std::deque<Answered>& answered) {
    // Lets a completion the instance sent just before it died finish on the server first.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (const Answered& a : answered) {
        try {
            const auto job = jobs_repo.get_job(a.id);
            if (!job || job->state != repo::JobState::Locked || job->lock_token != a.token)
                continue;
            jobs_repo.complete_locked_job(a.id, a.token);
            spdlog::warn("job {}: completed by its worker, its instance having vanished", a.id);
        } catch (const std::exception& e) {
            spdlog::error("job {}: cannot record its completion: {}", a.id, e.what());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    // stdout is the protocol channel: logs go to stderr.
    spdlog::set_default_logger(spdlog::stderr_color_mt("jobs-worker"));
    // A vanished instance shows as a failed write, not as a signal that kills us mid-record.
    std::signal(SIGPIPE, SIG_IGN);
    const pid_t instance = getppid();
    CLI::App app{
        "jobs-worker: the default pooled child of jobs-scheduler (see dispatcher/README.md)"};
    std::string db = env_or("JOBS_WORKER_DB", std::string(repo::kDefaultUrl));
    std::string client_id = env_or("JOBS_WORKER_CLIENT_ID", "");
    app.add_option("--db", db, "database URL (default: $JOBS_WORKER_DB, else the SQLite default)");
    app.add_option("--client-id", client_id,
                   "ClientId for WorkerLogs (default: $JOBS_WORKER_CLIENT_ID, else host:pid)");
    CLI11_PARSE(app, argc, argv);

    std::unique_ptr<repo::JobsRepo> jobs_repo;
    repo::RepoOptions options{.url = db, .client_id = client_id};
    try {
        // The instance checked the schema; a worker sends nothing until its first job.
        options.create_schema = false;
        options.check_schema = false;
        // A finished task must be recorded: ride out a database restart.
        options.retry_for = std::chrono::seconds(60);
        jobs_repo = std::make_unique<repo::JobsRepo>(options);
    } catch (const std::exception& e) {
        spdlog::error("cannot open the database: {}", e.what());
        return 1;
    }
    dispatcher::WorkerChannel channel;
    if (!channel.announce_ready("jobs-worker", {dispatcher::Capability::Fences})) return 0;

    // Answers the instance may not have recorded yet. After a run lease, another instance would
    // mark an unrecorded job interrupted anyway, so older ones are forgotten.
    std::deque<Answered> answered;
    std::optional<dispatcher::TaskRequest> request;
    // An answer that cannot be written means the instance is gone (its end closed).
    while (channel.next(request) == dispatcher::WorkerChannel::Next::Request) {
        if (!request) {
            if (!channel.answer({dispatcher::ReplyKind::Failed, 0, "malformed request"})) break;
            continue;
        }
        dispatcher::TaskReply reply{dispatcher::ReplyKind::Ok, request->job_id, {}};
        try {
            // Fencing first: a worker whose instance lost the lock never starts the task.
            if (!jobs_repo->start_locked_job(request->job_id, request->lock_token)) {
                reply = {dispatcher::ReplyKind::Skipped, request->job_id,
                         "the lock was lost before the start"};
            } else {
                if (request->not_before_ns) wait_until(*request->not_before_ns);
                repo::run_simulated_task();
                const auto now = Clock::now();
                while (!answered.empty() && now - answered.front().at > options.run_lease)
                    answered.pop_front();
                answered.push_back({request->job_id, request->lock_token, now});
            }
        } catch (const std::exception& e) {
            reply = {dispatcher::ReplyKind::Failed, request->job_id, e.what()};
        }
        if (!channel.answer(reply)) break;
    }
    // End of input from a live instance: it closed us and records what we answered. From a
    // vanished one (we were re-parented): nobody will, unless we do.
    if (!answered.empty() && instance_vanished(instance)) record_orphans(*jobs_repo, answered);
    return 0;
}

// jobs-worker: the default pooled child. Reads "RUN <id> <token> <payload> [@<ns>]" lines on
// stdin, marks the job started (fencing), waits for the given monotonic moment (RunAt: the
// request comes early so the fencing write is off the critical path), runs the exercise's task
// through its own repository connection (so the 5-permit limit is per child), completes the job
// itself and answers "DONE <id>". Exits at end of input. The payload is data: it is never run,
// opened or interpreted here.
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "jobs/dispatcher/line_protocol.h"
#include "jobs/repo/error.h"
#include "jobs/repo/jobs_repo.h"

using namespace jobs;

namespace {

std::string env_or(const char* name, std::string fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

void answer(const dispatcher::TaskReply& reply) {
    const std::string line = dispatcher::format_reply(reply);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

// The scheduler's steady clock is CLOCK_MONOTONIC, shared by every process of the host.
void wait_until(std::int64_t monotonic_ns) {
    const timespec at{static_cast<time_t>(monotonic_ns / 1'000'000'000),
                      static_cast<long>(monotonic_ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
}

}  // namespace

int main(int argc, char** argv) {
    // stdout is the protocol channel: logs go to stderr.
    spdlog::set_default_logger(spdlog::stderr_color_mt("jobs-worker"));
    CLI::App app{
        "jobs-worker: the default pooled child of jobs-scheduler (see dispatcher/README.md)"};
    std::string db = env_or("JOBS_WORKER_DB", std::string(repo::kDefaultUrl));
    std::string client_id = env_or("JOBS_WORKER_CLIENT_ID", "");
    app.add_option("--db", db, "database URL (default: $JOBS_WORKER_DB, else the SQLite default)");
    app.add_option("--client-id", client_id,
                   "ClientId for WorkerLogs (default: $JOBS_WORKER_CLIENT_ID, else host:pid)");
    CLI11_PARSE(app, argc, argv);

    std::unique_ptr<repo::JobsRepo> jobs_repo;
    try {
        repo::RepoOptions options{.url = db, .client_id = client_id};
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
    std::printf("READY\t%s\tjobs-worker\n", std::string(dispatcher::kProtocolVersion).c_str());
    std::fflush(stdout);

    std::string line;
    while (std::getline(std::cin, line)) {
        const auto request = dispatcher::parse_request(line);
        if (!request) {
            answer({dispatcher::ReplyKind::Failed, 0, "malformed request"});
            continue;
        }
        try {
            // Fencing first: a worker whose instance lost the lock never starts the task.
            if (!jobs_repo->start_locked_job(request->job_id, request->lock_token)) {
                answer({dispatcher::ReplyKind::Skipped, request->job_id,
                        "the lock was lost before the start"});
                continue;
            }
            if (request->not_before_ns) wait_until(*request->not_before_ns);
            jobs_repo->process_locked_job(request->job_id, request->lock_token);
            answer({dispatcher::ReplyKind::Done, request->job_id, {}});
        } catch (const std::exception& e) {
            answer({dispatcher::ReplyKind::Failed, request->job_id, e.what()});
        }
    }
    return 0;
}

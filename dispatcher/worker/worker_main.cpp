// jobs-worker: the default pooled child. Serves up to 5 requests at once (the exercise's task
// holds one of 5 permits per process for 83 ms): reads "RUN <id> <token> <payload> @<ns>" lines
// on stdin, one task thread per permit waits for the given monotonic moment (RunAt: its
// instance has already written the fencing START), runs the task and answers "OK <id>"; the
// instance records the completion, batched with the other tasks that ended at the same moment.
// It declares this in its READY line (capabilities `timed` and `orphans`, 5 permits). It opens
// no database connection unless its instance vanishes (its end of the channel closes while it is
// no longer our parent) after some answers: it then records those jobs' completions itself, the
// only thing it ever writes. Exits at end of input. The payload is data: it is never run, opened
// or interpreted here.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "jobs/common/cond_var.h"
#include "jobs/common/mutex.h"
#include "jobs/common/mutex_lock.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/dispatcher/worker_channel.h"
#include "jobs/dispatcher/worker_protocol.h"
#include "jobs/repo/error.h"
#include "jobs/repo/exercise.h"
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

// A completion whose row another transaction holds is tried this many times, this far apart.
constexpr int kHeldTries = 60;
constexpr std::chrono::milliseconds kHeldRetryDelay{500};

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
// job still locked with our token is ours to complete; one it completed is left alone. This is
// the only time a jobs-worker connects.
void record_orphans(const repo::RepoOptions& options, const std::deque<Answered>& answered) {
    // Lets a completion the instance sent just before it died finish on the server first.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::unique_ptr<repo::JobsRepo> jobs_repo;
    try {
        jobs_repo = std::make_unique<repo::JobsRepo>(options);
    } catch (const std::exception& e) {
        spdlog::error("cannot open the database to record {} completions: {}", answered.size(),
                      e.what());
        return;
    }
    for (const Answered& a : answered) {
        // A row another transaction holds is tried again for a while: the task did run.
        for (int tries = 1;; ++tries) {
            try {
                const auto job = jobs_repo->get_job(a.id);
                if (!job || job->state != repo::JobState::Locked || job->lock_token != a.token)
                    break;
                jobs_repo->complete_locked_job(a.id, a.token);
                spdlog::warn("job {}: completed by its worker, its instance having vanished", a.id);
            } catch (const repo::RepoError& e) {
                if (e.kind() == repo::ErrorKind::RowHeld && tries < kHeldTries) {
                    std::this_thread::sleep_for(kHeldRetryDelay);
                    continue;
                }
                spdlog::error("job {}: cannot record its completion: {}", a.id, e.what());
            } catch (const std::exception& e) {
                spdlog::error("job {}: cannot record its completion: {}", a.id, e.what());
            }
            break;
        }
    }
}

// The requests read and not yet begun, and the answers the instance may not have recorded.
class Tasks {
  public:
    explicit Tasks(std::chrono::milliseconds run_lease) : run_lease_(run_lease) {}

    void push(dispatcher::TaskRequest request) EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        waiting_.push_back(std::move(request));
        changed_.notify_one();
    }
    void close() EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        closed_ = true;
        changed_.notify_all();
    }
    std::optional<dispatcher::TaskRequest> pop() EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        while (waiting_.empty() && !closed_) changed_.wait(lock);
        if (waiting_.empty()) return std::nullopt;
        auto request = std::move(waiting_.front());
        waiting_.pop_front();
        return request;
    }
    // After a run lease another instance would mark an unrecorded job interrupted anyway, so
    // older answers are forgotten.
    void answered(const dispatcher::TaskRequest& request) EXCLUDES(mutex_) {
        const auto now = Clock::now();
        MutexLock lock(mutex_);
        while (!answered_.empty() && now - answered_.front().at > run_lease_) answered_.pop_front();
        answered_.push_back({request.job_id, request.lock_token, now});
    }
    std::deque<Answered> take_answered() EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        return std::move(answered_);
    }

  private:
    const std::chrono::milliseconds run_lease_;
    Mutex mutex_;
    CondVar changed_;
    std::deque<dispatcher::TaskRequest> waiting_ GUARDED_BY(mutex_);
    bool closed_ GUARDED_BY(mutex_) = false;
    std::deque<Answered> answered_ GUARDED_BY(mutex_);
};

void run_tasks(Tasks& tasks, dispatcher::WorkerChannel& channel) {
    while (auto request = tasks.pop()) {
        // The instance wrote the fencing START before sending this; the task waits for RunAt.
        if (request->not_before_ns) wait_until(*request->not_before_ns);
        repo::run_simulated_task();
        tasks.answered(*request);
        // A failed write means the instance is gone; the main thread sees its end of input.
        channel.answer({dispatcher::ReplyKind::Ok, request->job_id, {}});
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

    repo::RepoOptions options{.url = db, .client_id = client_id};
    // The instance checked the schema; a worker sends nothing unless its instance vanished.
    options.create_schema = false;
    options.check_schema = false;
    // A finished task must be recorded: ride out a database restart.
    options.retry_for = std::chrono::seconds(60);
    try {
        options.run_lease = std::chrono::milliseconds(std::stoll(
            env_or("JOBS_WORKER_RUN_LEASE_MS", std::to_string(options.run_lease.count()))));
    } catch (const std::exception&) {
        spdlog::error("JOBS_WORKER_RUN_LEASE_MS is not a number of ms");
        return 2;
    }

    dispatcher::WorkerChannel channel;
    constexpr auto kPermits = static_cast<std::size_t>(repo::kTaskPermitsPerProcess);
    if (!channel.announce_ready("jobs-worker",
                                {dispatcher::Capability::Timed, dispatcher::Capability::Orphans},
                                kPermits)) {
        return 0;
    }
    Tasks tasks(options.run_lease);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < kPermits; ++i)
        threads.emplace_back([&] { run_tasks(tasks, channel); });
    std::optional<dispatcher::TaskRequest> request;
    while (channel.next(request) == dispatcher::WorkerChannel::Next::Request) {
        if (!request) {
            if (!channel.answer({dispatcher::ReplyKind::Failed, 0, "malformed request"})) break;
            continue;
        }
        tasks.push(std::move(*request));
    }
    // The tasks under way end and answer (or find the instance gone) first.
    tasks.close();
    for (auto& t : threads) t.join();
    // End of input from a live instance: it closed us and records what we answered. From a
    // vanished one (we were re-parented): nobody will, unless we do.
    auto answered = tasks.take_answered();
    if (!answered.empty() && instance_vanished(instance)) record_orphans(options, answered);
    return 0;
}

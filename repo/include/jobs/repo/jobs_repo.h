#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jobs/repo/admin_store.h"
#include "jobs/repo/connection_url.h"
#include "jobs/repo/exercise.h"
#include "jobs/repo/job_store.h"
#include "jobs/repo/types.h"

namespace jobs::repo {

struct RepoOptions {
    std::string url{kDefaultUrl};
    std::string client_id;  // empty: "host:pid"
    // How long a lock holds, unstarted, before another instance may take the job over. The
    // holder must start the task within it; the scheduler locks 0.3-1.7 s before RunAt.
    std::chrono::milliseconds lease{5'000};
    // How long a started task may run: after that, if its instance is gone, another instance
    // marks the job interrupted.
    std::chrono::milliseconds run_lease{60'000};
    // How long transient failures (SQLite busy, a dropped connection) are retried.
    std::chrono::milliseconds retry_for{10'000};
    bool create_schema = true;  // create the tables when they are missing
    bool check_schema = true;   // false: trust that another connection checked it (workers)
    bool log_connect = true;    // log the start-up statements as one CONNECT row (not the harness)
};

class Backend;  // one per SQL dialect; see src/

// The exercise's JobsRepo: the only path to the database, both an instance's JobStore and the
// harness's AdminStore. One SOCI session per object, so one object per thread. Every call is one
// round trip (on SQLite, one transaction) that also writes its WorkerLogs row under this
// object's ClientId.
class JobsRepo final : public JobStore, public AdminStore {
  public:
    explicit JobsRepo(RepoOptions options);
    ~JobsRepo();
    JobsRepo(const JobsRepo&) = delete;
    JobsRepo& operator=(const JobsRepo&) = delete;

    // See JobStore::get_ready_jobs. Logs QUERYLIST (rows returned; JobId, the last row of a
    // truncated list).
    ReadyJobs get_ready_jobs(std::chrono::milliseconds window,
                             std::chrono::milliseconds history = std::chrono::milliseconds(0),
                             std::size_t limit = 0) override;
    // When the cluster last listed and last saw an instance leave: one row, so an instance can
    // check between its own lists that the others still list. Logs QUERYLAST (weighed like
    // QUERYJOB, a one-row read).
    ClusterPeek peek_lists() override;
    // Announces that this instance stops listing, so the others take its jobs over at once
    // instead of waiting for it to miss its turn. Logs LEAVE (weighed as a write: 10).
    void leave() override;
    // One job, or nothing. Logs QUERYJOB (rows returned).
    std::optional<Job> get_job(JobId id) override;
    // State 0 -> 1 if still 0; exactly one concurrent caller wins. Logs ACQUIRE_SUCCESS or
    // ACQUIRE_FAILURE. Throws RepoError(NotFound) for an unknown id.
    Lock acquire_job_lock(JobId id);
    // acquire_job_lock for every id (distinct), in one statement, each under a token of its
    // own; an unknown id, or a row another statement is writing at that moment, is Lost.
    std::vector<Lock> acquire_job_locks(const std::vector<JobId>& ids) override;
    // Fencing: marks the job started, only if `token` still holds an unexpired lock (or this
    // caller already started it). A task must not begin unless this returns true: an instance
    // that lost its lease, even one that wakes up late, cannot win it. Logs START or
    // START_FAILURE (weighed like ACQUIRE_SUCCESS and ACQUIRE_FAILURE: it is the lock's second
    // half).
    bool start_locked_job(JobId id, LockToken token);
    // start_locked_job for every request (ids distinct), in one statement.
    StartOutcome start_locked_jobs(const std::vector<StartRequest>& starts) override;
    // The simulated task (one of 5 permits per process, 83 ms), then State 1 -> 2 with
    // ExecuteAt stamped. With a token, only the lock that token names may complete the job.
    // Logs COMPLETE, or ERROR and throws RepoError(NotLocked / NotFound).
    void process_locked_job(JobId id, std::optional<LockToken> token = std::nullopt);
    // Only the completion half of process_locked_job, for workers that run their own task.
    void complete_locked_job(JobId id, std::optional<LockToken> token,
                             std::optional<std::string> result = std::nullopt);
    // Extends the run lease of each started job under its token (the heartbeat of long tasks),
    // in one statement. Logs RENEW per job (weighed as a write: 10), Results 1 when renewed.
    std::vector<Renewal> renew_run_leases(const std::vector<StartRequest>& running) override;
    // Completes several tasks in one round trip (on SQLite, one transaction), each only under
    // the lock its token names: a burst's tasks end together, and one statement for all of them
    // costs the database a fraction of one each. Logs COMPLETE, ERROR or HELD per job. Returns
    // the jobs it could not complete (not locked with that token) and those whose rows another
    // transaction held (skipped, not waited for); a retry finding a job already completed under
    // its token counts it as completed. Throws RepoError(BadInput) for an id given twice.
    CompletionOutcome complete_locked_jobs(const std::vector<Completion>& batch) override;
    // Ends a locked job whose task failed (JobState::Failed) or whose worker died mid-task
    // (JobState::Interrupted): it is never run again. Logs FAILED or INTERRUPTED.
    void fail_locked_job(JobId id, LockToken token, JobState outcome,
                         const std::string& message) override;
    // State 1 -> 4 for a started job whose run lease still lapsed: its instance is gone.
    bool interrupt_lapsed_job(JobId id, LockToken token) override;
    // State 1 -> 0 under `token` for a job whose task never began (its request reached no
    // worker): free again for any instance. Logs RELEASE (weighed as a write: 10), or HELD.
    bool release_job(JobId id, LockToken token) override;
    // Refuses run_at < now + MinPrepareTime (database clock) with RepoError(BadInput). Logs CREATE.
    JobId create_job(DbTime run_at, std::optional<std::string> payload = std::nullopt) override;
    // Every job of `run_ats` in one statement, or none (RepoError(BadInput)) when one is too soon.
    // Logs CREATE for each.
    void create_jobs(const std::vector<DbTime>& run_ats) override;

    // For the harness: not logged.
    void reset() override;
    Statistics statistics() override;
    DbTime db_now() override;
    std::map<std::string, long long> connections() override;

    const std::string& client_id() const noexcept override { return options_.client_id; }
    // "sqlite3", "postgresql", "odbc/sqlite3" or "odbc/postgresql".
    std::string backend_name() const;

  private:
    template <typename F>
    auto with_retry(const char* call, bool idempotent, F&& op) -> decltype(op());

    RepoOptions options_;
    std::unique_ptr<Backend> backend_;
};

std::string default_client_id();

}  // namespace jobs::repo

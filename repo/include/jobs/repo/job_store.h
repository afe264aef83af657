#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "jobs/repo/types.h"

namespace jobs::repo {

// A fencing start asked for a locked job: see JobStore::start_locked_jobs.
struct StartRequest {
    JobId id = 0;
    LockToken token = 0;
};

// A batch of fencing starts: one outcome per request, in order, and the database's clock read
// by the statement (microseconds since the epoch), a fresh sample just before tasks begin.
struct StartOutcome {
    std::vector<bool> started;
    std::chrono::microseconds clock{0};
};

// What a heartbeat found of one running job.
enum class Renewal {
    Renewed,  // its run lease runs again from now
    Held,     // another transaction holds its row: not renewed, try at the next beat
    Waiting,  // still ours, its worker's own START not yet written: nothing to renew yet
    Lost,     // no longer ours: ended, or taken for interrupted
};

// What a batch of completions could not record.
struct CompletionOutcome {
    std::vector<JobId> refused;  // not locked with that token: never recordable
    std::vector<JobId> held;     // their rows held by another transaction: try again
};

// Exactly the calls a scheduler instance makes, each logged in WorkerLogs under the store's
// ClientId. JobsRepo implements it over SQL; the scheduler's tests implement it in memory, so
// the real scheduler runs in virtual time. Calls that a busy instance makes for many jobs at
// once take and return batches; an outcome such as a lost lock race is a return value, and
// only a failure of the store itself (RepoError) is thrown.
class JobStore {
  public:
    virtual ~JobStore() = default;

    virtual const std::string& client_id() const noexcept = 0;
    // State = 0 (or a lapsed lock) and RunAt < now + window, by RunAt then Id; with the lists
    // and departures of the last `history`. At most `limit` jobs (0: all); a list that returns
    // `limit` is truncated (ReadyJobs::stop). With a history, a list made just after a truncated
    // one goes on after it: the jobs that list covered are not returned again. QUERYLIST.
    virtual ReadyJobs get_ready_jobs(std::chrono::milliseconds window,
                                     std::chrono::milliseconds history, std::size_t limit) = 0;
    // When the cluster last listed and last saw an instance leave. QUERYLAST.
    virtual ClusterPeek peek_lists() = 0;
    // One job, or nothing. QUERYJOB.
    virtual std::optional<Job> get_job(JobId id) = 0;
    // State 0 -> 1 for each job still free (or whose lock lapsed unstarted), one outcome per
    // id in order; an unknown id is Lost. ACQUIRE_SUCCESS / ACQUIRE_FAILURE per job.
    virtual std::vector<Lock> acquire_job_locks(const std::vector<JobId>& ids) = 0;
    // Fencing: each job is marked started only if its token still holds an unexpired lock (or
    // already started it) and no other transaction holds its row; a task must not begin unless
    // its entry is true. START / START_FAILURE per job.
    virtual StartOutcome start_locked_jobs(const std::vector<StartRequest>& starts) = 0;
    // Completes each job under the lock its token names; returns the ones it could not, and
    // those whose rows another transaction holds (never waited for). COMPLETE / ERROR / HELD
    // per job.
    virtual CompletionOutcome complete_locked_jobs(const std::vector<Completion>& batch) = 0;
    // Heartbeat: extends the run lease of each started job its token still holds, so a task
    // longer than the lease is not taken for one whose instance vanished; one outcome per job,
    // in order. RENEW (or HELD) per job. Never waits on another transaction's row lock.
    virtual std::vector<Renewal> renew_run_leases(const std::vector<StartRequest>& running) = 0;
    // Ends a locked job as Failed or Interrupted; it is never run again. FAILED / INTERRUPTED;
    // HELD and RepoError(RowHeld) when another transaction holds its row.
    virtual void fail_locked_job(JobId id, LockToken token, JobState outcome,
                                 const std::string& message) = 0;
    // Ends as interrupted a started job whose run lease has lapsed (its instance is gone), only
    // if it still has: a renewal since, or an outcome, wins. True when this call ended it.
    // INTERRUPTED (Results 0 when it did not); HELD and RepoError(RowHeld) when another
    // transaction holds its row.
    virtual bool interrupt_lapsed_job(JobId id, LockToken token) = 0;
    // A job this caller locked (and maybe started) whose task never began, its request having
    // reached no worker: State 1 -> 0 under `token`, as if never locked, so the next list of any
    // instance runs it. False when the token no longer holds it. RELEASE; HELD and
    // RepoError(RowHeld) when another transaction holds its row.
    virtual bool release_job(JobId id, LockToken token) = 0;
    // This instance stops listing: the others take its jobs over at once. LEAVE.
    virtual void leave() = 0;
};

}  // namespace jobs::repo

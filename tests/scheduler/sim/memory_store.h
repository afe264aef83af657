#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jobs/repo/action.h"
#include "jobs/repo/job_store.h"
#include "virtual_world.h"

// The Jobs and WorkerLogs tables in memory, with the semantics of the SQL in repo/src (lists
// serialized and stamped strictly later than the last, lapsed locks relisted, fencing starts,
// completions under the lock's token), on the virtual world's clock. Every call is logged and
// counted by Action, as the real tables are.
namespace jobs::scheduler::sim {

using std::chrono::milliseconds;

struct LogRow {
    repo::Action action;
    std::string client;
    repo::DbTime at;
    std::optional<repo::JobId> job_id;  // a truncated list's last row
};

class MemoryDatabase {
  public:
    MemoryDatabase(VirtualWorld& world, repo::DbTime db_at_start);

    // The database's clock: inside a statement, the moment it reads it.
    repo::DbTime now();
    std::chrono::microseconds clock();
    repo::JobId create_job(repo::DbTime run_at);
    // The database's clock jumps by `by` (back when negative), as an NTP step or a failover to
    // a server whose clock differs would make it.
    void step_clock(milliseconds by) { step_ += by; }

    repo::ReadyJobs list(const std::string& client, milliseconds window, milliseconds history,
                         std::size_t limit);
    repo::ClusterPeek peek(const std::string& client);
    std::optional<repo::Job> get(const std::string& client, repo::JobId id);
    repo::Lock lock(const std::string& client, repo::JobId id, repo::LockToken token);
    bool start(const std::string& client, repo::JobId id, repo::LockToken token);
    repo::Renewal renew(const std::string& client, repo::JobId id, repo::LockToken token);
    bool release(const std::string& client, repo::JobId id, repo::LockToken token);
    bool interrupt_lapsed(const std::string& client, repo::JobId id, repo::LockToken token);
    bool complete(const std::string& client, const repo::Completion& completion);
    bool fail(const std::string& client, repo::JobId id, repo::LockToken token,
              repo::JobState state);
    void leave(const std::string& client);

    const std::map<repo::JobId, repo::Job>& jobs() const { return jobs_; }
    long long count(repo::Action action) const;
    long long cost() const;
    // Completion statements (batches) sent, not rows.
    long long completion_statements() const { return completion_statements_; }
    void note_completion_statement() { ++completion_statements_; }
    // Unique across every session, as the real random tokens are in practice.
    repo::LockToken new_token() { return next_token_++; }

    milliseconds lease{5'000};
    milliseconds run_lease{60'000};

  private:
    void log(repo::Action action, const std::string& client, repo::DbTime at,
             std::optional<repo::JobId> job_id = std::nullopt);
    repo::ListRecord record(const LogRow& row) const;

    VirtualWorld& world_;
    const TimePoint steady_at_start_;
    const repo::DbTime db_at_start_;
    milliseconds step_{0};
    std::map<repo::JobId, repo::Job> jobs_;
    repo::JobId next_id_ = 1;
    repo::LockToken next_token_ = 1;
    std::vector<LogRow> lists_;  // QUERYLIST and LEAVE rows, by LogDate
    std::map<repo::Action, long long> counts_;
    long long completion_statements_ = 0;
};

// One session of one instance: a JobStore over the shared database under a ClientId.
class MemoryStore final : public repo::JobStore {
  public:
    MemoryStore(MemoryDatabase& db, std::string client_id)
        : db_(db), client_id_(std::move(client_id)) {}

    const std::string& client_id() const noexcept override { return client_id_; }
    repo::ReadyJobs get_ready_jobs(milliseconds window, milliseconds history,
                                   std::size_t limit) override {
        return db_.list(client_id_, window, history, limit);
    }
    repo::ClusterPeek peek_lists() override { return db_.peek(client_id_); }
    std::optional<repo::Job> get_job(repo::JobId id) override { return db_.get(client_id_, id); }
    std::vector<repo::Lock> acquire_job_locks(const std::vector<repo::JobId>& ids) override;
    repo::StartOutcome start_locked_jobs(const std::vector<repo::StartRequest>& starts) override;
    std::vector<repo::Renewal> renew_run_leases(
        const std::vector<repo::StartRequest>& running) override;
    repo::CompletionOutcome complete_locked_jobs(
        const std::vector<repo::Completion>& batch) override;
    void fail_locked_job(repo::JobId id, repo::LockToken token, repo::JobState outcome,
                         const std::string& message) override;
    bool interrupt_lapsed_job(repo::JobId id, repo::LockToken token) override {
        return db_.interrupt_lapsed(client_id_, id, token);
    }
    bool release_job(repo::JobId id, repo::LockToken token) override {
        return db_.release(client_id_, id, token);
    }
    void leave() override { db_.leave(client_id_); }

  private:
    MemoryDatabase& db_;
    const std::string client_id_;
};

}  // namespace jobs::scheduler::sim

#include "memory_store.h"

#include <algorithm>

#include "jobs/repo/error.h"

namespace jobs::scheduler::sim {

using repo::Action;
using repo::DbTime;
using repo::JobState;

namespace {
// A log row dated later than this after now was written by no list (see the SQL).
constexpr milliseconds kNotFuture{1'000};
}  // namespace

MemoryDatabase::MemoryDatabase(VirtualWorld& world, DbTime db_at_start)
    : world_(world), steady_at_start_(world.now()), db_at_start_(db_at_start) {}

DbTime MemoryDatabase::now() {
    return db_at_start_ + step_ +
           std::chrono::floor<milliseconds>(world_.db_now() - steady_at_start_);
}

std::chrono::microseconds MemoryDatabase::clock() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               (db_at_start_ + step_).time_since_epoch()) +
           std::chrono::floor<std::chrono::microseconds>(world_.db_now() - steady_at_start_);
}

void MemoryDatabase::log(Action action, const std::string& client, DbTime at,
                         std::optional<repo::JobId> job_id) {
    ++counts_[action];
    if (action == Action::QueryList || action == Action::Leave) {
        lists_.push_back({action, client, at, job_id});
    }
}

repo::ListRecord MemoryDatabase::record(const LogRow& row) const {
    repo::ListRecord r{row.client, row.at, row.action == Action::Leave};
    if (!row.job_id) return r;
    r.truncated = true;
    if (const auto it = jobs_.find(*row.job_id); it != jobs_.end())
        r.stop = repo::ListStop{it->second.run_at, it->first};
    return r;
}

repo::JobId MemoryDatabase::create_job(DbTime run_at) {
    const repo::JobId id = next_id_++;
    repo::Job job;
    job.id = id;
    job.run_at = run_at;
    job.create_at = now();
    job.state = JobState::Created;
    jobs_.emplace(id, job);
    ++counts_[Action::Create];
    return id;
}

repo::ReadyJobs MemoryDatabase::list(const std::string& client, milliseconds window,
                                     milliseconds history, std::size_t limit) {
    const DbTime at_now = now();
    DbTime t = at_now;
    // As the SQL does: after the latest list not dated more than a second ahead.
    for (const LogRow& row : lists_) {
        if (row.action == Action::QueryList && row.at <= at_now + kNotFuture)
            t = std::max(t, row.at + milliseconds(1));
    }
    repo::ReadyJobs ready;
    ready.db_now = t;
    ready.clock = clock();
    // As the SQL does: a list just after a truncated one leaves out what that one surely covered.
    const LogRow* last = nullptr;
    for (const LogRow& row : lists_) {
        if (history.count() > 0 && row.action == Action::QueryList && row.at <= at_now + kNotFuture)
            last = &row;
    }
    std::optional<repo::ListRecord> frontier;
    if (last != nullptr && last->job_id) frontier = record(*last);
    const auto covered = [&](const repo::Job& job) {
        return frontier && frontier->stop && job.create_at < frontier->at - repo::kFrontierSlack &&
               job.run_at < frontier->at + window - repo::kFrontierSlack &&
               repo::within(*frontier->stop, job.run_at, job.id) &&
               std::max(job.run_at, frontier->at) > at_now - repo::kFrontierHold;
    };
    for (const auto& [id, job] : jobs_) {
        const bool open =
            job.state == JobState::Created ||
            (job.state == JobState::Locked && job.lease_until && *job.lease_until < at_now);
        if (open && job.run_at < t + window && !covered(job)) ready.jobs.push_back(job);
    }
    std::stable_sort(ready.jobs.begin(), ready.jobs.end(), [](const auto& a, const auto& b) {
        return a.run_at < b.run_at || (a.run_at == b.run_at && a.id < b.id);
    });
    if (limit > 0 && ready.jobs.size() >= limit) {
        ready.jobs.resize(limit);
        ready.truncated = true;
        ready.stop = repo::ListStop{ready.jobs.back().run_at, ready.jobs.back().id};
    }
    for (const LogRow& row : lists_) {
        if (row.at > t - history && row.at <= t) ready.recent_lists.push_back(record(row));
    }
    log(Action::QueryList, client, t,
        ready.truncated ? std::optional<repo::JobId>(ready.stop->id) : std::nullopt);
    return ready;
}

repo::ClusterPeek MemoryDatabase::peek(const std::string& client) {
    repo::ClusterPeek peek{now(), {}, {}, clock()};
    for (const LogRow& row : lists_) {
        if (row.at > peek.db_now + kNotFuture) continue;
        auto& last = row.action == Action::Leave ? peek.last_leave : peek.last_list;
        last = std::max(last.value_or(row.at), row.at);
    }
    log(Action::QueryLast, client, now());
    return peek;
}

std::optional<repo::Job> MemoryDatabase::get(const std::string& client, repo::JobId id) {
    log(Action::QueryJob, client, now());
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return it->second;
}

repo::Lock MemoryDatabase::lock(const std::string& client, repo::JobId id, repo::LockToken token) {
    const DbTime t = now();
    const auto it = jobs_.find(id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    const bool free =
        job != nullptr && (job->state == JobState::Created ||
                           (job->state == JobState::Locked &&
                            (job->lock_token == token ||
                             (!job->started_at && job->lease_until && *job->lease_until < t))));
    if (!free) {
        log(Action::AcquireFailure, client, t);
        return {repo::LockOutcome::Lost, token};
    }
    job->state = JobState::Locked;
    job->lock_at = t;
    job->locked_by = client;
    job->lock_token = token;
    ++job->attempts;
    job->lease_until = t + lease;
    log(Action::AcquireSuccess, client, t);
    return {repo::LockOutcome::Won, token};
}

bool MemoryDatabase::start(const std::string& client, repo::JobId id, repo::LockToken token) {
    const DbTime t = now();
    const auto it = jobs_.find(id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    const bool ours = job != nullptr && job->state == JobState::Locked &&
                      job->lock_token == token &&
                      (job->started_at || (job->lease_until && *job->lease_until > t));
    if (!ours) {
        log(Action::StartFailure, client, t);
        return false;
    }
    if (!job->started_at) job->started_at = t;
    job->lease_until = t + run_lease;
    log(Action::Start, client, t);
    return true;
}

repo::Renewal MemoryDatabase::renew(const std::string& client, repo::JobId id,
                                    repo::LockToken token) {
    const DbTime t = now();
    const auto it = jobs_.find(id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    const bool ours = job != nullptr && job->state == JobState::Locked && job->lock_token == token;
    log(Action::Renew, client, t);
    if (!ours) return repo::Renewal::Lost;
    if (!job->started_at) return repo::Renewal::Waiting;
    job->lease_until = t + run_lease;
    return repo::Renewal::Renewed;
}

bool MemoryDatabase::interrupt_lapsed(const std::string& client, repo::JobId id,
                                      repo::LockToken token) {
    const DbTime t = now();
    const auto it = jobs_.find(id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    log(Action::Interrupted, client, t);
    if (job == nullptr || job->state != JobState::Locked || job->lock_token != token ||
        !job->started_at || !job->lease_until || *job->lease_until >= t)
        return false;
    job->state = JobState::Interrupted;
    job->execute_at = t;
    return true;
}

bool MemoryDatabase::release(const std::string& client, repo::JobId id, repo::LockToken token) {
    const DbTime t = now();
    const auto it = jobs_.find(id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    log(Action::Release, client, t);
    if (job == nullptr || job->state != JobState::Locked || job->lock_token != token) return false;
    job->state = JobState::Created;
    job->lock_at.reset();
    job->locked_by.reset();
    job->lock_token.reset();
    job->started_at.reset();
    job->lease_until.reset();
    return true;
}

bool MemoryDatabase::complete(const std::string& client, const repo::Completion& c) {
    const DbTime t = now();
    const auto it = jobs_.find(c.id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    if (job == nullptr || job->state != JobState::Locked || job->lock_token != c.token) {
        log(Action::Error, client, t);
        return false;
    }
    job->state = JobState::Completed;
    job->execute_at = t;
    log(Action::Complete, client, t);
    return true;
}

bool MemoryDatabase::fail(const std::string& client, repo::JobId id, repo::LockToken token,
                          JobState state) {
    const DbTime t = now();
    const auto it = jobs_.find(id);
    repo::Job* job = it == jobs_.end() ? nullptr : &it->second;
    if (job == nullptr || job->state != JobState::Locked || job->lock_token != token) {
        log(Action::Error, client, t);
        return false;
    }
    job->state = state;
    job->execute_at = t;
    log(state == JobState::Failed ? Action::Failed : Action::Interrupted, client, t);
    return true;
}

void MemoryDatabase::leave(const std::string& client) { log(Action::Leave, client, now()); }

long long MemoryDatabase::count(Action action) const {
    const auto it = counts_.find(action);
    return it == counts_.end() ? 0 : it->second;
}

long long MemoryDatabase::cost() const {
    long long cost = 0;
    for (const auto& [action, n] : counts_) cost += repo::action_weight(action) * n;
    return cost;
}

std::vector<repo::Lock> MemoryStore::acquire_job_locks(const std::vector<repo::JobId>& ids) {
    std::vector<repo::Lock> locks;
    for (const repo::JobId id : ids) locks.push_back(db_.lock(client_id_, id, db_.new_token()));
    return locks;
}

repo::StartOutcome MemoryStore::start_locked_jobs(const std::vector<repo::StartRequest>& starts) {
    repo::StartOutcome out;
    for (const auto& s : starts) out.started.push_back(db_.start(client_id_, s.id, s.token));
    out.clock = db_.clock();
    return out;
}

std::vector<repo::Renewal> MemoryStore::renew_run_leases(
    const std::vector<repo::StartRequest>& running) {
    std::vector<repo::Renewal> renewed;
    for (const auto& r : running) renewed.push_back(db_.renew(client_id_, r.id, r.token));
    return renewed;
}

repo::CompletionOutcome MemoryStore::complete_locked_jobs(
    const std::vector<repo::Completion>& batch) {
    db_.note_completion_statement();
    repo::CompletionOutcome outcome;
    for (const auto& c : batch) {
        if (!db_.complete(client_id_, c)) outcome.refused.push_back(c.id);
    }
    return outcome;
}

void MemoryStore::fail_locked_job(repo::JobId id, repo::LockToken token, repo::JobState outcome,
                                  const std::string&) {
    if (!db_.fail(client_id_, id, token, outcome)) {
        throw repo::RepoError(repo::ErrorKind::NotLocked, "job not locked by this caller");
    }
}

}  // namespace jobs::scheduler::sim

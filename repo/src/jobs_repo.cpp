#include "jobs/repo/jobs_repo.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backend.h"
#include "jobs/repo/error.h"
#include "jobs/repo/simulated_task.h"
#include "jobs/repo/storable_text.h"

namespace jobs::repo {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::string> storable(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    return storable_text(*text).text;
}

std::unique_ptr<Backend> connect(const RepoOptions& options, const std::string& client_id) {
    ConnectionUrl url = ConnectionUrl::parse(resolve_url(options.url));
    const auto deadline = Clock::now() + options.retry_for;
    auto backoff = std::chrono::milliseconds(100);
    for (;;) {
        try {
            auto sql = open_session(url);
            const Dialect dialect = dialect_of(*sql, url);
            return dialect == Dialect::Sqlite
                       ? make_sqlite_backend(std::move(url), std::move(sql), client_id)
                       : make_postgresql_backend(std::move(url), std::move(sql), client_id);
        } catch (const RepoError& e) {
            if (e.kind() != ErrorKind::Unavailable || Clock::now() + backoff > deadline) throw;
            spdlog::warn("{}; retrying in {} ms", e.what(), backoff.count());
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
}

LockToken new_token() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<LockToken> dist(1, std::numeric_limits<LockToken>::max());
    return dist(rng);
}

// A batch names each job once: its outcomes are matched back by id.
void require_distinct(std::vector<JobId> ids, const char* call) {
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
        throw RepoError(ErrorKind::BadInput,
                        fmt::format("{}: a job given twice in one batch", call));
    }
}

// require_distinct for a batch of items that name their jobs by `id`.
template <typename Item>
void require_distinct_ids(const std::vector<Item>& batch, const char* call) {
    std::vector<JobId> ids;
    ids.reserve(batch.size());
    for (const Item& item : batch) ids.push_back(item.id);
    require_distinct(std::move(ids), call);
}

}  // namespace

std::string default_client_id() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return fmt::format("{}:{}", host, getpid());
}

JobsRepo::JobsRepo(RepoOptions options) : options_(std::move(options)) {
    if (options_.client_id.empty()) options_.client_id = default_client_id();
    backend_ = connect(options_, options_.client_id);
    if (!options_.check_schema) return;
    const int statements = with_retry(
        "schema check", true, [&] { return backend_->ensure_schema(options_.create_schema); });
    if (options_.log_connect) {
        with_retry("connect log", true, [&] {
            backend_->log_connect(statements);
            return 0;
        });
    }
}

JobsRepo::~JobsRepo() = default;

std::string JobsRepo::backend_name() const { return backend_->name(); }

template <typename F>
auto JobsRepo::with_retry(const char* call, bool idempotent, F&& op) -> decltype(op()) {
    const auto deadline = Clock::now() + options_.retry_for;
    auto backoff = std::chrono::milliseconds(5);
    for (;;) {
        Failure failure = Failure::Other;
        std::string message;
        try {
            return op();
        } catch (const soci::soci_error& e) {
            failure = backend_->classify(e);
            message = e.what();
            backend_->recover();
        } catch (const RepoError&) {
            throw;
        } catch (const std::exception& e) {
            // Not the database's error but ours in reading or writing it (a value out of range,
            // an answer that does not parse): a RepoError like any other, never a crash.
            backend_->recover();
            throw RepoError(ErrorKind::Database,
                            fmt::format("{} on {}: {}", call, backend_->name(), e.what()));
        }
        const std::string context = fmt::format("{} on {}", call, backend_->name());
        if (failure == Failure::Other) {
            throw RepoError(ErrorKind::Database, fmt::format("{}: {}", context, message));
        }
        if (failure == Failure::Disconnected && !idempotent) {
            throw RepoError(
                ErrorKind::Unavailable,
                fmt::format("{}: connection lost, outcome unknown: {}", context, message));
        }
        if (Clock::now() + backoff > deadline) {
            throw RepoError(ErrorKind::Unavailable,
                            fmt::format("{}: gave up after {} ms: {}", context,
                                        options_.retry_for.count(), message));
        }
        if (failure == Failure::Disconnected) {
            spdlog::warn("{}: connection lost ({}); reconnecting in {} ms", context, message,
                         backoff.count());
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        if (failure == Failure::Disconnected) {
            try {
                backend_->reconnect();
            } catch (const soci::soci_error& e) {
                spdlog::warn("{}: reconnect failed: {}", context, e.what());
            }
        }
    }
}

ReadyJobs JobsRepo::get_ready_jobs(std::chrono::milliseconds window,
                                   std::chrono::milliseconds history, std::size_t limit) {
    if (window.count() < 0 || history.count() < 0) {
        throw RepoError(ErrorKind::BadInput, "GetReadyJobs: negative window or history");
    }
    if (limit > kMaxListLimit) {
        throw RepoError(ErrorKind::BadInput,
                        "GetReadyJobs: a limit over " + std::to_string(kMaxListLimit) + " rows");
    }
    return with_retry("GetReadyJobs", true, [&] { return backend_->list(window, history, limit); });
}

ClusterPeek JobsRepo::peek_lists() {
    return with_retry("PeekLists", true, [&] { return backend_->peek(); });
}

void JobsRepo::leave() {
    // Not retried: a second LEAVE row would be harmless but is not worth a wait while stopping.
    with_retry("Leave", false, [&] {
        backend_->leave();
        return 0;
    });
}

std::optional<Job> JobsRepo::get_job(JobId id) {
    return with_retry("GetJob", true, [&] { return backend_->get(id); });
}

Lock JobsRepo::acquire_job_lock(JobId id) {
    // One token for every attempt: a retry after a lost reply recognises its own win and can
    // never take a job another caller holds.
    const LockToken token = new_token();
    const LockRow row = with_retry("AcquireJobLock", true,
                                   [&] { return backend_->lock(id, token, options_.lease); });
    if (!row.exists) {
        throw RepoError(ErrorKind::NotFound, fmt::format("AcquireJobLock: no job {}", id));
    }
    return Lock{row.won ? LockOutcome::Won : LockOutcome::Lost, token};
}

std::vector<Lock> JobsRepo::acquire_job_locks(const std::vector<JobId>& ids) {
    if (ids.empty()) return {};
    require_distinct(ids, "AcquireJobLocks");
    // A token per job, the same for every attempt: a retry finds its own wins.
    std::vector<StartRequest> batch;
    batch.reserve(ids.size());
    for (const JobId id : ids) batch.push_back({id, new_token()});
    const auto rows = with_retry("AcquireJobLocks", true,
                                 [&] { return backend_->lock_many(batch, options_.lease); });
    std::vector<Lock> locks;
    locks.reserve(ids.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (rows[i].won) {
            locks.push_back({LockOutcome::Won, batch[i].token});
            continue;
        }
        locks.push_back({rows[i].held ? LockOutcome::Held : LockOutcome::Lost, 0});
    }
    return locks;
}

StartOutcome JobsRepo::start_locked_jobs(const std::vector<StartRequest>& starts) {
    if (starts.empty()) return {};
    require_distinct_ids(starts, "StartLockedJobs");
    return with_retry("StartLockedJobs", true,
                      [&] { return backend_->start_many(starts, options_.run_lease); });
}

std::vector<Renewal> JobsRepo::renew_run_leases(const std::vector<StartRequest>& running) {
    if (running.empty()) return {};
    require_distinct_ids(running, "RenewRunLeases");
    return with_retry("RenewRunLeases", true,
                      [&] { return backend_->renew_many(running, options_.run_lease); });
}

bool JobsRepo::start_locked_job(JobId id, LockToken token) {
    return with_retry("StartLockedJob", true,
                      [&] { return backend_->start(id, token, options_.run_lease); });
}

void JobsRepo::process_locked_job(JobId id, std::optional<LockToken> token) {
    run_simulated_task();
    complete_locked_job(id, token);
}

void JobsRepo::complete_locked_job(JobId id, std::optional<LockToken> token,
                                   std::optional<std::string> result) {
    const CompleteRow row = with_retry("ProcessLockedJob", true, [&] {
        return backend_->finish(id, token, JobState::Completed, Action::Complete, storable(result));
    });
    if (row.completed) return;
    if (row.held) {
        throw RepoError(ErrorKind::RowHeld,
                        fmt::format("ProcessLockedJob: job {}'s row is held by another "
                                    "transaction; not completed, try again",
                                    id));
    }
    if (!row.state) {
        throw RepoError(ErrorKind::NotFound, fmt::format("ProcessLockedJob: no job {}", id));
    }
    // A retry after a lost reply finds the job already completed under our own lock.
    const bool ours = token ? row.token == token : row.locked_by == options_.client_id;
    if (*row.state == JobState::Completed && ours) return;
    throw RepoError(
        ErrorKind::NotLocked,
        fmt::format("ProcessLockedJob: job {} is not locked by this caller (state {}{})", id,
                    static_cast<int>(*row.state),
                    row.locked_by ? ", locked by " + *row.locked_by : std::string()));
}

CompletionOutcome JobsRepo::complete_locked_jobs(const std::vector<Completion>& batch) {
    if (batch.empty()) return {};
    require_distinct_ids(batch, "ProcessLockedJobs");
    std::vector<Completion> stored = batch;
    for (auto& c : stored) c.result = storable(c.result);
    const auto unfinished =
        with_retry("ProcessLockedJobs", true, [&] { return backend_->finish_many(stored); });
    CompletionOutcome outcome;
    for (const auto& [id, row] : unfinished) {
        if (row.held) {
            outcome.held.push_back(id);
            continue;
        }
        const auto given = std::find_if(batch.begin(), batch.end(),
                                        [id = id](const Completion& c) { return c.id == id; });
        // A retry after a lost reply finds its own completion.
        const bool ours =
            given != batch.end() && row.token == given->token && row.state == JobState::Completed;
        if (!ours) outcome.refused.push_back(id);
    }
    return outcome;
}

void JobsRepo::fail_locked_job(JobId id, LockToken token, JobState outcome,
                               const std::string& message) {
    if (outcome != JobState::Failed && outcome != JobState::Interrupted) {
        throw RepoError(ErrorKind::BadInput,
                        "fail_locked_job: outcome must be Failed or Interrupted");
    }
    const Action action = outcome == JobState::Failed ? Action::Failed : Action::Interrupted;
    // The action's name is the call's name in errors, as it always was.
    const std::string call(action_name(action));
    const std::optional<std::string> text = storable_text(message).text;
    const CompleteRow row = with_retry(
        call.c_str(), true, [&] { return backend_->finish(id, token, outcome, action, text); });
    if (row.completed || (row.state == outcome && row.token == token)) return;
    if (row.held) {
        throw RepoError(ErrorKind::RowHeld,
                        fmt::format("{}: job {}'s row is held by another transaction; not "
                                    "written, try again",
                                    call, id));
    }
    throw RepoError(ErrorKind::NotLocked,
                    fmt::format("{}: job {} is not locked by this caller", call, id));
}

bool JobsRepo::interrupt_lapsed_job(JobId id, LockToken token) {
    static const std::string message =
        "started, but its instance stopped before reporting an outcome";
    const CompleteRow row = with_retry(
        "InterruptLapsedJob", true, [&] { return backend_->interrupt_lapsed(id, token, message); });
    if (row.held) {
        throw RepoError(ErrorKind::RowHeld,
                        fmt::format("InterruptLapsedJob: job {}'s row is held by another "
                                    "transaction; not written, try again",
                                    id));
    }
    // A retry after a lost reply finds its own write.
    return row.completed || (row.state == JobState::Interrupted && row.token == token);
}

bool JobsRepo::release_job(JobId id, LockToken token) {
    const CompleteRow row =
        with_retry("ReleaseJob", true, [&] { return backend_->release(id, token); });
    if (row.held) {
        throw RepoError(ErrorKind::RowHeld,
                        fmt::format("ReleaseJob: job {}'s row is held by another transaction; "
                                    "not released, try again",
                                    id));
    }
    return row.completed;
}

JobId JobsRepo::create_job(DbTime run_at, std::optional<std::string> payload) {
    if (payload && payload->size() > kMaxPayloadBytes) {
        throw RepoError(ErrorKind::BadInput,
                        fmt::format("CreateJob: payload of {} bytes exceeds the {} byte limit",
                                    payload->size(), kMaxPayloadBytes));
    }
    if (payload) {
        if (const std::size_t bad = storable_text(*payload).replaced; bad > 0) {
            throw RepoError(ErrorKind::BadInput,
                            fmt::format("CreateJob: the payload is not text (valid UTF-8 without "
                                        "NUL): {} bytes are not; encode binary data, for "
                                        "example as base64",
                                        bad));
        }
    }
    // Not idempotent: a lost reply could mean the row exists, so a dropped connection is reported.
    const auto id =
        with_retry("CreateJob", false, [&] { return backend_->create(run_at, payload); });
    if (!id) {
        throw RepoError(ErrorKind::BadInput,
                        fmt::format("CreateJob: RunAt must be at least {} s after the database's "
                                    "now (MinPrepareTime)",
                                    kMinPrepareTime.count() / 1000));
    }
    return *id;
}

void JobsRepo::create_jobs(const std::vector<DbTime>& run_ats) {
    if (run_ats.empty()) return;
    if (run_ats.size() > kMaxCreateBatch) {
        throw RepoError(ErrorKind::BadInput,
                        fmt::format("CreateJobs: {} jobs exceed the {} a batch "
                                    "takes",
                                    run_ats.size(), kMaxCreateBatch));
    }
    const std::size_t created =
        with_retry("CreateJobs", false, [&] { return backend_->create_many(run_ats); });
    if (created != run_ats.size()) {
        throw RepoError(ErrorKind::BadInput,
                        fmt::format("CreateJobs: every RunAt must be at least {} s after the "
                                    "database's now (MinPrepareTime); none inserted",
                                    kMinPrepareTime.count() / 1000));
    }
}

void JobsRepo::reset() {
    with_retry("Reset", true, [&] {
        backend_->reset();
        return 0;
    });
}

Statistics JobsRepo::statistics() {
    return with_retry("Statistics", true, [&] { return backend_->statistics(); });
}

DbTime JobsRepo::db_now() {
    return with_retry("Now", true, [&] { return backend_->now(); });
}

std::map<std::string, long long> JobsRepo::connections() {
    return with_retry("Connections", true, [&] { return backend_->connections(); });
}

}  // namespace jobs::repo

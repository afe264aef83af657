#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <soci/soci.h>

#include "jobs/repo/action.h"
#include "jobs/repo/connection_url.h"
#include "jobs/repo/job_store.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "jobs/repo/types.h"

namespace jobs::repo {

enum class Failure { Busy, Disconnected, Other };

struct LockRow {
    bool won = false;
    bool exists = false;
    bool held = false;  // skipped: another transaction holds the row
};

struct CompleteRow {
    bool completed = false;          // this call moved the job 1 -> 2
    bool held = false;               // skipped: another transaction holds the row
    std::optional<JobState> state;   // the job's state when it did not
    std::optional<LockToken> token;  // the job's token when it did not
    std::optional<std::string> locked_by;
};

// One SQL dialect: the statements of every repository call, and how its errors read. Each
// backend keeps all its quirks here; JobsRepo adds retries and error context on top.
class Backend {
  public:
    Backend(ConnectionUrl url, std::unique_ptr<soci::session> sql, std::string client_id);
    virtual ~Backend() = default;

    virtual std::string name() const = 0;
    // Creates missing tables when asked, refuses an incompatible schema, and returns the
    // number of statements it sent.
    virtual int ensure_schema(bool create) = 0;
    // One CONNECT row for the start-up statements; the same SQL in every dialect.
    void log_connect(int statements);
    // See JobStore::get_ready_jobs.
    virtual ReadyJobs list(std::chrono::milliseconds window, std::chrono::milliseconds history,
                           std::size_t limit) = 0;
    virtual ClusterPeek peek() = 0;
    // One LEAVE row; the same SQL in every dialect.
    void leave();
    virtual std::optional<Job> get(JobId id) = 0;
    virtual LockRow lock(JobId id, LockToken token, std::chrono::milliseconds lease) = 0;
    // lock() for each of `batch` (ids distinct), in one statement (one transaction on SQLite),
    // an ACQUIRE_SUCCESS or ACQUIRE_FAILURE row each; outcomes in the batch's order. A row another
    // statement is writing at that moment is lost, not waited for: batches never deadlock.
    virtual std::vector<LockRow> lock_many(const std::vector<StartRequest>& batch,
                                           std::chrono::milliseconds lease) = 0;
    // Marks a locked job started (fencing): only the holder of `token`, before its lease expires,
    // and only once. Logs START or START_FAILURE. A retry of our own start succeeds again.
    virtual bool start(JobId id, LockToken token, std::chrono::milliseconds run_lease) = 0;
    // start() for each of `batch` (ids distinct), in one statement; in the batch's order.
    virtual StartOutcome start_many(const std::vector<StartRequest>& batch,
                                    std::chrono::milliseconds run_lease) = 0;
    // Extends the run lease of each started job of `batch` still held under its token, in one
    // statement, a RENEW row each (Results 1 when renewed); in the batch's order.
    virtual std::vector<Renewal> renew_many(const std::vector<StartRequest>& batch,
                                            std::chrono::milliseconds run_lease) = 0;
    // State 1 -> `state` (Completed, Failed or Interrupted) under the lock; logs `action`, or
    // ERROR when the caller does not hold the lock.
    virtual CompleteRow finish(JobId id, std::optional<LockToken> token, JobState state,
                               Action action, const std::optional<std::string>& result) = 0;
    // Completes each job of `batch` under its token, logging COMPLETE or ERROR for each; returns
    // the ones not completed, with what was found instead.
    virtual std::vector<std::pair<JobId, CompleteRow>> finish_many(
        const std::vector<Completion>& batch) = 0;
    // State 1 -> 4 under `token` if started and its run lease lapsed; one INTERRUPTED row
    // (Results 0 when not), or HELD.
    virtual CompleteRow interrupt_lapsed(JobId id, LockToken token, const std::string& message) = 0;
    // State 1 -> 0 under `token`, every lock and start column cleared; one RELEASE row (or HELD
    // when another transaction holds the row).
    virtual CompleteRow release(JobId id, LockToken token) = 0;
    // Returns nothing when run_at is sooner than now + MinPrepareTime on the database clock.
    virtual std::optional<JobId> create(DbTime run_at,
                                        const std::optional<std::string>& payload) = 0;
    // Inserts every job of `run_ats` with a CREATE row each, in one statement, or none of them
    // when one is sooner than now + MinPrepareTime; returns how many it inserted.
    virtual std::size_t create_many(const std::vector<DbTime>& run_ats) = 0;
    virtual void reset() = 0;
    virtual Statistics statistics() = 0;
    virtual DbTime now() = 0;
    virtual std::map<std::string, long long> connections() { return {}; }

    Failure classify(const soci::soci_error& e) const;
    // Creates the schema from `script` when no table exists and creation is allowed, else checks
    // the existing one; returns the statements sent.
    int create_or_verify(int tables, bool create, std::string_view script, const char* schema_file);
    void reconnect();
    // Leaves no transaction open after a failure (SQLite's BEGIN IMMEDIATE).
    virtual void recover() {}

  protected:
    soci::session& sql() { return *sql_; }
    const std::string& client_id() const { return client_id_; }
    const ConnectionUrl& url() const { return url_; }

  private:
    ConnectionUrl url_;
    std::unique_ptr<soci::session> sql_;
    std::string client_id_;
};

std::unique_ptr<Backend> make_sqlite_backend(ConnectionUrl url, std::unique_ptr<soci::session> sql,
                                             std::string client_id);
std::unique_ptr<Backend> make_postgresql_backend(ConnectionUrl url,
                                                 std::unique_ptr<soci::session> sql,
                                                 std::string client_id);

// Column helpers shared by both dialects, reading a column by its alias (lower case: PostgreSQL
// folds unquoted names); each query selects times as epoch milliseconds.
long long column_i64(const soci::row& row, const std::string& name);
std::optional<long long> column_opt_i64(const soci::row& row, const std::string& name);
std::optional<std::string> column_opt_text(const soci::row& row, const std::string& name);

// The aliases every dialect's job SELECT gives its columns, read back by read_job.
namespace job_column {
inline const std::string kId = "id";
inline const std::string kRunAt = "run_at";
inline const std::string kCreateAt = "create_at";
inline const std::string kLockAt = "lock_at";
inline const std::string kExecuteAt = "execute_at";
inline const std::string kState = "state";
inline const std::string kLockedBy = "locked_by";
inline const std::string kLockToken = "lock_token";
inline const std::string kPayload = "payload";
inline const std::string kStartedAt = "started_at";
inline const std::string kLeaseUntil = "lease_until";
inline const std::string kAttempts = "attempts";
}  // namespace job_column

// "expression AS alias".
inline std::string as(const std::string& expression, const std::string& alias) {
    return expression + " AS " + alias;
}
// The one mapping from a job row to a Job, by the aliases above.
// Runs `query` once and calls `each` with every row it returns. A one-time statement (libpq's
// unnamed one), not a soci::rowset: a rowset prepares a named statement that outlives its
// transaction, and through a transaction-pooling proxy (pgbouncer) the next transaction, or
// the DEALLOCATE, may reach another server connection, where that name is unknown or taken.
template <typename Each, typename... Uses>
void for_each_row(soci::session& sql, const std::string& query, Each&& each, Uses&&... uses) {
    soci::row row;
    soci::statement st(sql);
    (st.exchange(std::forward<Uses>(uses)), ...);
    st.exchange(soci::into(row));
    st.alloc();
    st.prepare(query, soci::details::st_one_time_query);
    st.define_and_bind();
    st.execute(false);
    while (st.fetch()) each(static_cast<const soci::row&>(row));
}

Job read_job(const soci::row& row);
// A listed job into `out.jobs`, or, when the row cannot be read, into `out.unreadable`.
void read_listed_job(const soci::row& row, ReadyJobs& out);
// A list's WorkerLogs row (QUERYLIST or LEAVE) into `out.recent_lists`, or `out.unreadable`.
// A list's own truncation (columns trunc, stop_run_at, stop_id), from one of its kind 1 rows.
void read_own_stop(const soci::row& row, ReadyJobs& out);
void read_list_record(const std::string& client_column, const std::string& at_column, bool leave,
                      const soci::row& row, ReadyJobs& out);
// The harness's figures; only the delay and notice arithmetic differ between dialects.
Statistics read_statistics(soci::session& sql, const std::string& delay_ms_expr,
                           const std::string& run_at_ms_expr, const std::string& late_created_cond);

// Checks that an existing schema has every column this version reads and writes; `tables` is how
// many of Jobs and WorkerLogs exist. Returns the statements sent; throws RepoError(Schema).
int verify_schema_columns(soci::session& sql, int tables, const char* schema_file);

// An action's name as an SQL literal, for statements that match or write a fixed action: formatted
// in, the statement text stays what it always was (action names need no escaping).
inline std::string sql_literal(Action action) {
    return "'" + std::string(action_name(action)) + "'";
}

inline DbTime from_ms(long long ms) { return DbTime{std::chrono::milliseconds{ms}}; }
inline long long to_ms(DbTime t) { return t.time_since_epoch().count(); }

// Splits a schema file into statements: ';' at the end of a line ends one, except inside a
// CREATE TRIGGER ... END; body. Comment lines and PRAGMAs are dropped.
std::vector<std::string> split_script(std::string_view script);

namespace embedded {
std::string_view sqlite_schema();
std::string_view postgresql_schema();
}  // namespace embedded

}  // namespace jobs::repo

// SQLite, native or through ODBC. SQLite cannot write inside a SELECT, so a call is one
// BEGIN IMMEDIATE transaction holding its statement and its WorkerLogs row: in-process there is
// no network round trip to save, and IMMEDIATE takes the write lock up front so two processes
// never deadlock upgrading a read lock. Times are canonical UTC text (see sql/sqlite/schema.sql).
#include <fmt/format.h>

#include "backend.h"
#include "jobs/repo/error.h"
#include "utc_text.h"

namespace jobs::repo {
namespace {

constexpr const char* kNow = "strftime('%Y-%m-%d %H:%M:%f', 'now')";

std::string ms(const std::string& column) {
    return "(CAST(strftime('%s', " + column + ") AS INTEGER) * 1000 + CAST(substr(strftime('%f', " +
           column + "), 4, 3) AS INTEGER))";
}

// SOCI types a column declared INTEGER as a 32-bit int; "+ 0" makes it an expression, typed
// from its 64-bit value instead. Tokens use all 63 bits.
std::string big(const std::string& column) { return "(" + column + " + 0)"; }

// The job columns under the aliases read_job reads.
std::string job_columns(const std::string& t) {
    namespace c = job_column;
    return as(big(t + "Id"), c::kId) + ", " + as(ms(t + "RunAt"), c::kRunAt) + ", " +
           as(ms(t + "CreateAt"), c::kCreateAt) + ", " + as(ms(t + "LockAt"), c::kLockAt) + ", " +
           as(ms(t + "ExecuteAt"), c::kExecuteAt) + ", " + as(t + "State", c::kState) + ", " +
           as(t + "LockedBy", c::kLockedBy) + ", " + as(big(t + "LockToken"), c::kLockToken) +
           ", " + as(t + "Payload", c::kPayload) + ", " + as(ms(t + "StartedAt"), c::kStartedAt) +
           ", " + as(ms(t + "LeaseUntil"), c::kLeaseUntil) + ", " +
           as(t + "Attempts", c::kAttempts);
}

// "+12.345 seconds": SQLite's date modifier for a positive offset.
std::string seconds_modifier(std::chrono::milliseconds offset) {
    return fmt::format("+{}.{:03} seconds", offset.count() / 1000, offset.count() % 1000);
}

// See the PostgreSQL backend: a log row dated well after now was written by no list.
const std::string kNotFuture = "LogDate <= strftime('%Y-%m-%d %H:%M:%f', 'now', '+1.000 seconds')";

class Transaction {
  public:
    explicit Transaction(soci::session& sql) : sql_(sql) { sql_ << "BEGIN IMMEDIATE"; }
    ~Transaction() {
        if (open_) {
            try {
                sql_ << "ROLLBACK";
            } catch (const soci::soci_error&) {
                // The failure that brought us here is already rising; nothing more to report.
            }
        }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
        sql_ << "COMMIT";
        open_ = false;
    }

  private:
    soci::session& sql_;
    bool open_ = true;
};

class SqliteBackend final : public Backend {
  public:
    using Backend::Backend;

    std::string name() const override {
        return url().backend == BackendKind::Odbc ? "odbc/sqlite3" : "sqlite3";
    }

    int ensure_schema(bool create) override {
        Transaction tx(sql());
        int tables = 0;
        sql() << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND lower(name) IN "
                 "('jobs', 'workerlogs')",
            soci::into(tables);
        int statements = 1;
        statements +=
            create_or_verify(tables, create, embedded::sqlite_schema(), "sql/sqlite/schema.sql");
        tx.commit();
        return statements;
    }

    ReadyJobs list(std::chrono::milliseconds window, std::chrono::milliseconds history,
                   std::size_t limit) override {
        Transaction tx(sql());
        const std::string bound = seconds_modifier(window);
        const std::string slack_back = "-" + seconds_modifier(kFrontierSlack).substr(1);
        const std::string frontier_bound = seconds_modifier(window - kFrontierSlack);
        const std::string hold_back = "-" + seconds_modifier(kFrontierHold).substr(1);
        const int coordinated = history.count() > 0 ? 1 : 0;
        const long long limit_rows = limit == 0 ? -1 : static_cast<long long>(limit);
        // `f`, the last list before this one: if it was truncated, the jobs it surely covered
        // are left out (see the PostgreSQL backend).
        soci::rowset<soci::row> rows =
            (sql().prepare
                 << "SELECT n.t AS list_at, " + job_columns("j.") +
                        ", n.stamp AS stamp, n.clock AS clock FROM (SELECT " + ms("s.stamp") +
                        " AS t, strftime('%Y-%m-%d %H:%M:%f', 'now', :bound) AS b, " + kNow +
                        " AS now_text, s.stamp, " + ms("'now'") + " AS clock FROM (SELECT max(" +
                        kNow +
                        ", coalesce((SELECT strftime('%Y-%m-%d %H:%M:%f', "
                        "max(LogDate), '+0.001 seconds') FROM WorkerLogs WHERE "
                        "Action = " +
                        sql_literal(Action::QueryList) + " AND " + kNotFuture + "), " + kNow +
                        ")) AS stamp) AS s) AS n "
                        "LEFT JOIN (SELECT WorkerLogs.LogDate AS at, WorkerLogs.JobId IS NOT NULL "
                        "AS truncated, fj.RunAt AS run_at, fj.Id AS id FROM WorkerLogs LEFT JOIN "
                        "Jobs AS fj ON fj.Id = WorkerLogs.JobId WHERE :coordinated = 1 AND "
                        "WorkerLogs.Action = " +
                        sql_literal(Action::QueryList) + " AND " + kNotFuture +
                        " ORDER BY WorkerLogs.LogDate DESC LIMIT 1) AS f ON 1 "
                        "LEFT JOIN Jobs AS j ON j.State < 2 AND j.RunAt < n.b AND "
                        "(j.State = 0 OR j.LeaseUntil < n.now_text) AND NOT coalesce(f.truncated "
                        "AND j.CreateAt < strftime('%Y-%m-%d %H:%M:%f', f.at, :slack) AND j.RunAt "
                        "< "
                        "strftime('%Y-%m-%d %H:%M:%f', f.at, :fbound) AND (j.RunAt, j.Id) <= "
                        "(f.run_at, f.id) AND max(j.RunAt, f.at) > strftime('%Y-%m-%d %H:%M:%f', "
                        "'now', :hold), 0) "
                        "ORDER BY j.RunAt, j.Id LIMIT :lim",
             soci::use(bound, "bound"), soci::use(coordinated, "coordinated"),
             soci::use(slack_back, "slack"), soci::use(frontier_bound, "fbound"),
             soci::use(hold_back, "hold"), soci::use(limit_rows, "lim"));
        ReadyJobs result;
        int count = 0;
        std::string listed_at;
        std::optional<JobId> last_id;
        std::optional<long long> last_run_at;
        for (const auto& row : rows) {
            result.db_now = from_ms(column_i64(row, "list_at"));
            listed_at = row.get<std::string>("stamp");
            result.clock =
                std::chrono::milliseconds(column_i64(row, "clock"));  // ms only in SQLite
            // No due job: the clock row only.
            if (row.get_indicator(job_column::kId) == soci::i_null) continue;
            ++count;
            last_id = column_opt_i64(row, job_column::kId);
            last_run_at = column_opt_i64(row, job_column::kRunAt);
            read_listed_job(row, result);
        }
        if (limit > 0 && static_cast<std::size_t>(count) >= limit) {
            result.truncated = true;
            if (last_id && last_run_at) result.stop = ListStop{from_ms(*last_run_at), *last_id};
        }
        if (history.count() > 0) {
            const std::string since = "-" + seconds_modifier(history).substr(1);
            soci::rowset<soci::row> lists =
                (sql().prepare
                     << "SELECT WorkerLogs.ClientId AS client, " +
                            as(ms("WorkerLogs.LogDate"), "at") +
                            ", WorkerLogs.Action AS action, CASE WHEN WorkerLogs.JobId IS NULL "
                            "THEN 0 ELSE 1 END AS trunc, " +
                            as(ms("s.RunAt"), "stop_run_at") + ", " + as(big("s.Id"), "stop_id") +
                            " FROM WorkerLogs LEFT JOIN Jobs AS s ON s.Id = WorkerLogs.JobId "
                            "WHERE WorkerLogs.Action IN (" +
                            sql_literal(Action::QueryList) + ", " + sql_literal(Action::Leave) +
                            ") AND "
                            "WorkerLogs.LogDate > strftime('%Y-%m-%d %H:%M:%f', 'now', :since) "
                            "AND " +
                            kNotFuture + " ORDER BY WorkerLogs.LogDate",
                 soci::use(since, "since"));
            for (const auto& row : lists) {
                read_list_record("client", "at",
                                 row.get<std::string>("action") == action_name(Action::Leave), row,
                                 result);
            }
        }
        // Stamped with the moment the list looked (or just after the previous list), not the
        // later moment of this insert: other instances judge from LogDate which jobs this list
        // covered, and in which order lists came. A truncated list names its last row.
        log(result.truncated ? last_id : std::nullopt, Action::QueryList, count, listed_at);
        tx.commit();
        return result;
    }

    ClusterPeek peek() override {
        Transaction tx(sql());
        soci::row row;
        sql() << "SELECT " + as(ms("'now'"), "now_ms") + ", (SELECT " + ms("max(LogDate)") +
                     " FROM WorkerLogs WHERE Action = " + sql_literal(Action::QueryList) + " AND " +
                     kNotFuture + ") AS last_list, (SELECT " + ms("max(LogDate)") +
                     " FROM WorkerLogs WHERE Action = " + sql_literal(Action::Leave) + " AND " +
                     kNotFuture + ") AS last_leave",
            soci::into(row);
        ClusterPeek peek{from_ms(column_i64(row, "now_ms")), {}, {}, {}};
        peek.clock = peek.db_now.time_since_epoch();
        if (auto at = column_opt_i64(row, "last_list")) peek.last_list = from_ms(*at);
        if (auto at = column_opt_i64(row, "last_leave")) peek.last_leave = from_ms(*at);
        log(std::nullopt, Action::QueryLast, 1);
        tx.commit();
        return peek;
    }

    std::optional<Job> get(JobId id) override {
        Transaction tx(sql());
        soci::rowset<soci::row> rows =
            (sql().prepare << "SELECT " + job_columns("") + " FROM Jobs WHERE Id = :id",
             soci::use(id, "id"));
        std::optional<Job> job;
        for (const auto& row : rows) job = read_job(row);
        log(id, Action::QueryJob, job ? 1 : 0);
        tx.commit();
        return job;
    }

    LockRow lock(JobId id, LockToken token, std::chrono::milliseconds lease) override {
        Transaction tx(sql());
        const LockRow row = lock_in_transaction(id, token, lease);
        tx.commit();
        return row;
    }

    // One transaction: one write lock and one commit for the whole batch. SQLite has one writer
    // at a time, so no row is ever being written by another statement meanwhile.
    std::vector<LockRow> lock_many(const std::vector<StartRequest>& batch,
                                   std::chrono::milliseconds lease) override {
        Transaction tx(sql());
        std::vector<LockRow> rows;
        rows.reserve(batch.size());
        for (const auto& b : batch) rows.push_back(lock_in_transaction(b.id, b.token, lease));
        tx.commit();
        return rows;
    }

    bool start(JobId id, LockToken token, std::chrono::milliseconds run_lease) override {
        Transaction tx(sql());
        const bool started = start_in_transaction(id, token, run_lease);
        tx.commit();
        return started;
    }

    StartOutcome start_many(const std::vector<StartRequest>& batch,
                            std::chrono::milliseconds run_lease) override {
        Transaction tx(sql());
        StartOutcome out;
        out.started.reserve(batch.size());
        for (const auto& b : batch)
            out.started.push_back(start_in_transaction(b.id, b.token, run_lease));
        long long now_ms = 0;
        sql() << "SELECT " + ms("'now'"), soci::into(now_ms);
        tx.commit();
        out.clock = std::chrono::milliseconds(now_ms);  // ms only in SQLite
        return out;
    }

    // SQLite has no row locks: a renewal is never held.
    std::vector<Renewal> renew_many(const std::vector<StartRequest>& batch,
                                    std::chrono::milliseconds run_lease) override {
        const std::string lease_until = seconds_modifier(run_lease);
        Transaction tx(sql());
        std::vector<Renewal> renewed;
        renewed.reserve(batch.size());
        for (const auto& b : batch) {
            soci::statement update =
                (sql().prepare << "UPDATE Jobs SET LeaseUntil = strftime('%Y-%m-%d %H:%M:%f', "
                                  "'now', :lease) WHERE Id = :id AND State = 1 AND LockToken = "
                                  ":tok AND StartedAt IS NOT NULL",
                 soci::use(lease_until, "lease"), soci::use(b.id, "id"), soci::use(b.token, "tok"));
            update.execute(true);
            const bool ok = update.get_affected_rows() == 1;
            log(b.id, Action::Renew, ok ? 1 : 0);
            int waiting = 0;
            if (!ok) {
                sql() << "SELECT count(*) FROM Jobs WHERE Id = :id AND State = 1 AND LockToken = "
                         ":tok AND StartedAt IS NULL",
                    soci::use(b.id, "id"), soci::use(b.token, "tok"), soci::into(waiting);
            }
            renewed.push_back(ok            ? Renewal::Renewed
                              : waiting > 0 ? Renewal::Waiting
                                            : Renewal::Lost);
        }
        tx.commit();
        return renewed;
    }

    CompleteRow interrupt_lapsed(JobId id, LockToken token, const std::string& message) override {
        Transaction tx(sql());
        soci::statement update =
            (sql().prepare << std::string("UPDATE Jobs SET State = 4, ExecuteAt = ") + kNow +
                                  ", Result = :res WHERE Id = :id AND State = 1 AND LockToken = "
                                  ":tok AND StartedAt IS NOT NULL AND LeaseUntil < " +
                                  kNow,
             soci::use(message, "res"), soci::use(id, "id"), soci::use(token, "tok"));
        update.execute(true);
        CompleteRow row;
        row.completed = update.get_affected_rows() == 1;
        if (!row.completed) read_holder(id, row);
        log(id, Action::Interrupted, row.completed ? 1 : 0);
        tx.commit();
        return row;
    }

    CompleteRow release(JobId id, LockToken token) override {
        Transaction tx(sql());
        soci::statement update =
            (sql().prepare << "UPDATE Jobs SET State = 0, LockAt = NULL, LockedBy = NULL, "
                              "LockToken = NULL, StartedAt = NULL, LeaseUntil = NULL WHERE Id = "
                              ":id AND State = 1 AND LockToken = :tok",
             soci::use(id, "id"), soci::use(token, "tok"));
        update.execute(true);
        CompleteRow out;
        out.completed = update.get_affected_rows() == 1;
        log(id, Action::Release, out.completed ? 1 : 0);
        tx.commit();
        return out;
    }

    CompleteRow finish(JobId id, std::optional<LockToken> token, JobState state, Action action,
                       const std::optional<std::string>& result_text) override {
        Transaction tx(sql());
        CompleteRow row = finish_in_transaction(id, token, state, action, result_text);
        tx.commit();
        return row;
    }

    std::vector<std::pair<JobId, CompleteRow>> finish_many(
        const std::vector<Completion>& batch) override {
        // One transaction: one write lock and one commit for the whole batch.
        Transaction tx(sql());
        std::vector<std::pair<JobId, CompleteRow>> unfinished;
        for (const auto& c : batch) {
            const std::optional<std::string> result =
                c.result && !c.result->empty() ? c.result : std::nullopt;
            CompleteRow row =
                finish_in_transaction(c.id, c.token, JobState::Completed, Action::Complete, result);
            if (!row.completed) unfinished.emplace_back(c.id, std::move(row));
        }
        tx.commit();
        return unfinished;
    }

    std::optional<JobId> create(DbTime run_at, const std::optional<std::string>& payload) override {
        Transaction tx(sql());
        long long now_ms = 0;
        sql() << "SELECT " + ms("'now'"), soci::into(now_ms);
        if (to_ms(run_at) < now_ms + kMinPrepareTime.count()) return std::nullopt;
        const std::string run_at_text = utc_text(run_at);
        const std::string payload_value = payload.value_or("");
        soci::indicator payload_ind = payload ? soci::i_ok : soci::i_null;
        sql() << "INSERT INTO Jobs (RunAt, Payload) VALUES (:run_at, :payload)",
            soci::use(run_at_text, "run_at"), soci::use(payload_value, payload_ind, "payload");
        long long id = 0;
        sql() << "SELECT last_insert_rowid()", soci::into(id);
        log(id, Action::Create, 1);
        tx.commit();
        return id;
    }

    std::size_t create_many(const std::vector<DbTime>& run_ats) override {
        Transaction tx(sql());
        long long now_ms = 0;
        sql() << "SELECT " + ms("'now'"), soci::into(now_ms);
        for (const DbTime t : run_ats) {
            if (to_ms(t) < now_ms + kMinPrepareTime.count()) return 0;  // rolled back
        }
        long long before = 0;
        sql() << "SELECT coalesce(max(Id), 0) FROM Jobs", soci::into(before);
        std::vector<std::string> texts;
        texts.reserve(run_ats.size());
        for (const DbTime t : run_ats) texts.push_back(utc_text(t));
        sql() << "INSERT INTO Jobs (RunAt) VALUES (:run_at)", soci::use(texts, "run_at");
        sql() << "INSERT INTO WorkerLogs (JobId, Action, ClientId, Results) SELECT Id, " +
                     sql_literal(Action::Create) + ", :cid, 1 FROM Jobs WHERE Id > :before",
            soci::use(client_id(), "cid"), soci::use(before, "before");
        tx.commit();
        return run_ats.size();
    }

    void reset() override {
        Transaction tx(sql());
        sql() << "DELETE FROM Jobs";
        sql() << "DELETE FROM WorkerLogs";
        sql() << "DELETE FROM sqlite_sequence WHERE name IN ('Jobs', 'WorkerLogs')";
        tx.commit();
    }

    Statistics statistics() override {
        return read_statistics(
            sql(), "(" + ms("ExecuteAt") + " - " + ms("RunAt") + ")", ms("RunAt"),
            ms("CreateAt") + " > " + ms("RunAt") + " - " + std::to_string(kMinPrepareTime.count()));
    }

    DbTime now() override {
        long long now_ms = 0;
        sql() << "SELECT " + ms("'now'"), soci::into(now_ms);
        return from_ms(now_ms);
    }

    void recover() override {
        try {
            sql() << "ROLLBACK";
        } catch (const soci::soci_error&) {
            // No transaction was open: the usual case.
        }
    }

  private:
    // `at`: the LogDate to write (canonical UTC text); by default the moment of this insert.
    void log(std::optional<JobId> id, Action action, int results,
             const std::optional<std::string>& at = std::nullopt) {
        const JobId id_value = id.value_or(0);
        soci::indicator id_ind = id ? soci::i_ok : soci::i_null;
        const std::string action_text(action_name(action));
        const std::string at_value = at.value_or("");
        soci::indicator at_ind = at ? soci::i_ok : soci::i_null;
        sql() << std::string(
                     "INSERT INTO WorkerLogs (JobId, Action, ClientId, Results, LogDate) "
                     "VALUES (:id, :action, :cid, :results, COALESCE(:at, ") +
                     kNow + "))",
            soci::use(id_value, id_ind, "id"), soci::use(action_text, "action"),
            soci::use(client_id(), "cid"), soci::use(results, "results"),
            soci::use(at_value, at_ind, "at");
    }

    bool exists(JobId id) {
        int count = 0;
        sql() << "SELECT count(*) FROM Jobs WHERE Id = :id", soci::use(id, "id"), soci::into(count);
        return count > 0;
    }

    LockRow lock_in_transaction(JobId id, LockToken token, std::chrono::milliseconds lease) {
        const std::string lease_until = seconds_modifier(lease);
        soci::statement update =
            (sql().prepare << std::string("UPDATE Jobs SET State = 1, LockAt = ") + kNow +
                                  ", LockedBy = :cid, LockToken = :tok, LeaseUntil = "
                                  "strftime('%Y-%m-%d %H:%M:%f', 'now', :lease), "
                                  "Attempts = Attempts + 1 WHERE Id = :id AND "
                                  "(State = 0 OR (State = 1 AND (LockToken = :tok2 OR "
                                  "(StartedAt IS NULL AND LeaseUntil < " +
                                  kNow + "))))",
             soci::use(client_id(), "cid"), soci::use(token, "tok"),
             soci::use(lease_until, "lease"), soci::use(id, "id"), soci::use(token, "tok2"));
        update.execute(true);
        LockRow result;
        result.won = update.get_affected_rows() == 1;
        result.exists = result.won || exists(id);
        log(id, result.won ? Action::AcquireSuccess : Action::AcquireFailure, result.won ? 1 : 0);
        return result;
    }

    bool start_in_transaction(JobId id, LockToken token, std::chrono::milliseconds run_lease) {
        const std::string lease_until = seconds_modifier(run_lease);
        soci::statement update =
            (sql().prepare << std::string("UPDATE Jobs SET StartedAt = COALESCE(StartedAt, ") +
                                  kNow +
                                  "), LeaseUntil = strftime('%Y-%m-%d %H:%M:%f', 'now', :lease) "
                                  "WHERE Id = :id AND State = 1 AND LockToken = :tok AND "
                                  "(StartedAt IS NOT NULL OR LeaseUntil > " +
                                  kNow + ")",
             soci::use(lease_until, "lease"), soci::use(id, "id"), soci::use(token, "tok"));
        update.execute(true);
        const bool started = update.get_affected_rows() == 1;
        log(id, started ? Action::Start : Action::StartFailure, started ? 1 : 0);
        return started;
    }

    CompleteRow finish_in_transaction(JobId id, std::optional<LockToken> token, JobState state,
                                      Action action,
                                      const std::optional<std::string>& result_text) {
        const std::string result_value = result_text.value_or("");
        soci::indicator result_ind = result_text ? soci::i_ok : soci::i_null;
        const LockToken token_value = token.value_or(0);
        const std::string query =
            "UPDATE Jobs SET State = " + std::to_string(static_cast<int>(state)) +
            ", ExecuteAt = " + kNow + ", Result = :res WHERE Id = :id AND State = 1" +
            (token ? " AND LockToken = :tok" : "");
        soci::statement update =
            token ? (sql().prepare << query, soci::use(result_value, result_ind, "res"),
                     soci::use(id, "id"), soci::use(token_value, "tok"))
                  : (sql().prepare << query, soci::use(result_value, result_ind, "res"),
                     soci::use(id, "id"));
        update.execute(true);
        CompleteRow row;
        row.completed = update.get_affected_rows() == 1;
        if (!row.completed) read_holder(id, row);
        log(id, row.completed ? action : Action::Error, row.completed ? 1 : 0);
        return row;
    }

    void read_holder(JobId id, CompleteRow& row) {
        namespace c = job_column;
        soci::rowset<soci::row> rows =
            (sql().prepare << "SELECT " + as("State", c::kState) + ", " +
                                  as(big("LockToken"), c::kLockToken) + ", " +
                                  as("LockedBy", c::kLockedBy) + " FROM Jobs WHERE Id = :id",
             soci::use(id, "id"));
        for (const auto& r : rows) {
            row.state = static_cast<JobState>(column_i64(r, c::kState));
            row.token = column_opt_i64(r, c::kLockToken);
            row.locked_by = column_opt_text(r, c::kLockedBy);
        }
    }
};

}  // namespace

std::unique_ptr<Backend> make_sqlite_backend(ConnectionUrl url, std::unique_ptr<soci::session> sql,
                                             std::string client_id) {
    return std::make_unique<SqliteBackend>(std::move(url), std::move(sql), std::move(client_id));
}

}  // namespace jobs::repo

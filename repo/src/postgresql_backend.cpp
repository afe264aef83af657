// PostgreSQL, native (libpq) or through psqlODBC. Each call is ONE statement, data-modifying
// CTEs writing the WorkerLogs row in the same round trip as the work; a list also takes, first
// and in its transaction, the lock that serializes lists. Parameters are bound once, in the
// first CTE `p`, because SOCI's ODBC placeholders are positional.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "backend.h"
#include "jobs/repo/error.h"

namespace jobs::repo {
namespace {

std::string ms(const std::string& column) {
    return "CAST(floor(extract(epoch FROM " + column + ") * 1000) AS bigint)";
}

// ms() of a column a person may have written '-infinity' into: NULL then, read as unreadable,
// rather than an error that fails the whole statement.
std::string finite_ms(const std::string& column) {
    return "CASE WHEN isfinite(" + column + ") THEN " + ms(column) + " END";
}

// Read at output time, after the statement's work, in microseconds: floor to ms and the work
// done after now() would each make the sample up to a millisecond staler.
const std::string kClockUs =
    "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000000) AS bigint)";

// A WorkerLogs row dated later than this after the statement's now was not written by a list
// (lists are stamped with their moment, or a millisecond after the previous one): a hand-made
// or clock-stepped row that no list stamp or plan may follow.
const std::string kNotFuture = "LogDate <= statement_timestamp() + interval '1 second'";

const std::string kMinPrepareInterval =
    "interval '" + std::to_string(kMinPrepareTime.count()) + " milliseconds'";

// The job columns under the aliases read_job reads.
std::string job_columns(const std::string& t) {
    namespace c = job_column;
    return as(t + "Id", c::kId) + ", " + as(finite_ms(t + "RunAt"), c::kRunAt) + ", " +
           as(finite_ms(t + "CreateAt"), c::kCreateAt) + ", " +
           as(finite_ms(t + "LockAt"), c::kLockAt) + ", " +
           as(finite_ms(t + "ExecuteAt"), c::kExecuteAt) + ", " + as(t + "State", c::kState) +
           ", " + as(t + "LockedBy", c::kLockedBy) + ", " + as(t + "LockToken", c::kLockToken) +
           ", " + as(t + "Payload", c::kPayload) + ", " +
           as(finite_ms(t + "StartedAt"), c::kStartedAt) + ", " +
           as(finite_ms(t + "LeaseUntil"), c::kLeaseUntil) + ", " +
           as(t + "Attempts", c::kAttempts);
}

// The WorkerLogs rows of a batch statement, one per row of `b`: `won` where the statement's `u`
// returned it, `held` where a row of `v` (the batch's rows that qualified) was skipped because
// another transaction held it, else `lost`.
std::string batch_log_cte(Action won, Action held, Action lost) {
    return "l AS (INSERT INTO WorkerLogs (JobId, Action, ClientId, Results) SELECT b.id, CASE "
           "WHEN u.Id IS NOT NULL THEN " +
           sql_literal(won) + " WHEN v.Id IS NOT NULL THEN " + sql_literal(held) + " ELSE " +
           sql_literal(lost) +
           " END, p.cid, CASE WHEN u.Id IS NULL THEN 0 ELSE 1 END FROM p, b LEFT JOIN u ON u.Id "
           "= b.id LEFT JOIN v ON v.Id = b.id) ";
}

// The row of job `key` (an expression of the enclosing query), aliased Jobs, with `lock` (a
// locking clause) if any. Behind OFFSET 0 the planner cannot push a state condition in, so it
// reads the row by primary key whatever its statistics say: with them stale (a table analyzed
// while few jobs were pending), a join over a batch of ids would otherwise scan the whole
// ix_jobs_pending for each statement, believing it tiny, and a statement's cost would grow
// with the backlog (tests/repo/stale_statistics_test.cpp).
std::string job_by_id(const std::string& key, const std::string& lock = "") {
    return "LATERAL (SELECT Jobs.* FROM Jobs WHERE Jobs.Id = " + key + " OFFSET 0" +
           (lock.empty() ? "" : " " + lock) + ") AS Jobs";
}

// The rows of the batch `b` that meet `condition`: `c` (its Id and `extra` columns) locked
// first, in Id order, skipping any row another transaction holds (a statement never waits on a
// row lock: a session left open in psql must not stall an instance's lane), and `v` the same
// rows by a plain read, so that a row in `v` and not in `c` is known to have been held. The
// condition is checked on the row as locked.
std::string skip_held_ctes(const std::string& condition, const std::string& extra = "") {
    return "c AS (SELECT Jobs.Id" + extra +
           " FROM (SELECT * FROM b ORDER BY b.id) AS b CROSS JOIN " +
           job_by_id("b.id", "FOR UPDATE SKIP LOCKED") + " WHERE " + condition +
           "), v AS (SELECT Jobs.Id FROM b CROSS JOIN " + job_by_id("b.id") + " WHERE " +
           condition + "), ";
}

// skip_held_ctes for a one-row statement whose parameters `p` name the job (`p.id`).
std::string one_row_skip_held_ctes(const std::string& condition) {
    return "c AS (SELECT Jobs.Id FROM p CROSS JOIN " + job_by_id("p.id", "FOR UPDATE SKIP LOCKED") +
           " WHERE " + condition + "), v AS (SELECT Jobs.Id FROM p CROSS JOIN " +
           job_by_id("p.id") + " WHERE " + condition + "), ";
}

// A batch of (id, token) pairs as one JSON parameter: one statement, planned once, whatever
// its size.
std::string id_token_json(const std::vector<StartRequest>& batch) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& b : batch) rows.push_back({{"id", b.id}, {"tok", b.token}});
    return rows.dump();
}

// The first CTEs of a statement over a batch of (id, token) pairs: `p` its parameters (the
// ClientId, a lease in ms, the batch), `b` the batch's rows.
const std::string kTokenBatchCtes =
    "WITH p AS (SELECT CAST(:cid AS text) AS cid, CAST(:lease AS double precision) AS lease, "
    "CAST(CAST(:batch AS text) AS json) AS batch), "
    "b AS (SELECT r.id, r.tok FROM p, json_to_recordset(p.batch) AS r(id bigint, tok bigint)), ";

// A statement's JSON array of outcomes, one per job of `batch` and in its order; an empty
// object where the statement returned none for a job.
std::vector<nlohmann::json> in_batch_order(const std::string& text,
                                           const std::vector<StartRequest>& batch) {
    std::map<JobId, nlohmann::json> by_id;
    for (auto& item : nlohmann::json::parse(text)) {
        const JobId id = item.at("id").get<JobId>();
        by_id.emplace(id, std::move(item));
    }
    std::vector<nlohmann::json> out;
    out.reserve(batch.size());
    for (const auto& b : batch) {
        const auto it = by_id.find(b.id);
        out.push_back(it == by_id.end() ? nlohmann::json::object() : std::move(it->second));
    }
    return out;
}

// The list: one statement on the hot path, its text composed once. Kind 1 rows: the clock, and
// the due jobs; kind 2 rows: the recent lists (3: a departure). `f` is the last list before
// this one; if it was truncated, the jobs it surely covered (ListStop, kFrontierSlack) are left
// out, so a list goes on where that one stopped instead of returning the same rows again.
const std::string& list_statement() {
    static const std::string slack =
        "interval '" + std::to_string(kFrontierSlack.count()) + " milliseconds'";
    static const std::string hold =
        "interval '" + std::to_string(kFrontierHold.count()) + " milliseconds'";
    static const std::string text =
        "WITH p AS (SELECT CAST(:win AS double precision) AS win, "
        "CAST(:hist AS double precision) AS hist, CAST(:cid AS text) AS cid, "
        "CAST(:lim AS bigint) AS lim), "
        "n AS (SELECT GREATEST(date_trunc('milliseconds', statement_timestamp()), "
        "(SELECT max(LogDate) + interval '1 millisecond' FROM WorkerLogs WHERE "
        "Action = " +
        sql_literal(Action::QueryList) + " AND " + kNotFuture +
        ")) AS t, statement_timestamp() AS now), "
        "f AS (SELECT WorkerLogs.LogDate AS at, WorkerLogs.JobId IS NOT NULL AS truncated, "
        "s.RunAt AS run_at, s.Id AS id FROM p, WorkerLogs LEFT JOIN Jobs AS s ON s.Id = "
        "WorkerLogs.JobId WHERE p.hist > 0 AND WorkerLogs.Action = " +
        sql_literal(Action::QueryList) + " AND " + kNotFuture +
        " ORDER BY WorkerLogs.LogDate DESC LIMIT 1), "
        "j AS (SELECT Jobs.* FROM Jobs CROSS JOIN n CROSS JOIN p LEFT JOIN f ON true WHERE "
        "Jobs.State < 2 AND Jobs.RunAt < n.t + p.win * interval '1 millisecond' AND "
        "(Jobs.State = 0 OR Jobs.LeaseUntil < n.now) AND NOT COALESCE(f.truncated AND "
        "Jobs.CreateAt < f.at - " +
        slack + " AND Jobs.RunAt < f.at + p.win * interval '1 millisecond' - " + slack +
        " AND (Jobs.RunAt, Jobs.Id) <= (f.run_at, f.id) AND GREATEST(Jobs.RunAt, f.at) > n.now - " +
        hold +
        ", false) "
        "ORDER BY Jobs.RunAt, Jobs.Id LIMIT (SELECT NULLIF(lim, 0) FROM p)), "
        "st AS (SELECT j.Id, j.RunAt FROM j, p WHERE p.lim > 0 AND (SELECT count(*) FROM j) >= "
        "p.lim ORDER BY j.RunAt DESC, j.Id DESC LIMIT 1), "
        "l AS (INSERT INTO WorkerLogs (JobId, Action, ClientId, Results, LogDate) "
        "SELECT "
        "(SELECT Id FROM st), " +
        sql_literal(Action::QueryList) +
        ", p.cid, (SELECT count(*) FROM j), n.t FROM p, n)"
        ", h AS (SELECT CASE WHEN WorkerLogs.Action = " +
        sql_literal(Action::Leave) +
        " THEN 3 ELSE 2 END AS "
        "kind, "
        "WorkerLogs.ClientId AS client, WorkerLogs.LogDate AS at, "
        "CAST(CASE WHEN WorkerLogs.JobId IS NULL THEN 0 ELSE 1 END AS integer) AS trunc, "
        "s.RunAt AS stop_run_at, s.Id AS stop_id "
        "FROM n, p, WorkerLogs LEFT JOIN Jobs AS s ON s.Id = WorkerLogs.JobId WHERE "
        "WorkerLogs.Action IN (" +
        sql_literal(Action::QueryList) + ", " + sql_literal(Action::Leave) +
        ") "
        "AND "
        "WorkerLogs.LogDate > n.t - p.hist * interval '1 millisecond' AND WorkerLogs.LogDate <= "
        "n.t) "
        "SELECT 1 AS kind, " +
        as(ms("n.t"), "list_at") + ", " + job_columns("j.") + ", NULL AS client, NULL AS at, " +
        as(kClockUs, "clock") +
        ", CAST(CASE WHEN EXISTS (SELECT 1 FROM st) THEN 1 ELSE 0 END AS integer) AS trunc, "
        "(SELECT " +
        finite_ms("st.RunAt") +
        " FROM st) AS stop_run_at, (SELECT st.Id FROM st) AS stop_id"
        " FROM n LEFT JOIN j ON true UNION ALL "
        "SELECT h.kind, " +
        ms("n.t") +
        ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL, NULL, NULL, h.client, " +
        ms("h.at") + ", " + kClockUs + ", h.trunc, " + finite_ms("h.stop_run_at") +
        ", h.stop_id FROM n, h ORDER BY 1, 4, 3, 16";  // kind, run_at, id, at
    return text;
}

// A log row inserted from inside a statement; `action` and `results` are SQL expressions.
std::string log_cte(const std::string& job_id, const std::string& action,
                    const std::string& results) {
    return "l AS (INSERT INTO WorkerLogs (JobId, Action, ClientId, Results) SELECT " + job_id +
           ", " + action + ", p.cid, " + results + " FROM p)";
}

// The action a statement logs: `won` when its update `u` changed a row, else `lost`.
std::string either(Action won, Action lost) {
    return "CASE WHEN EXISTS (SELECT 1 FROM u) THEN " + sql_literal(won) + " ELSE " +
           sql_literal(lost) + " END";
}

class PostgresqlBackend final : public Backend {
  public:
    using Backend::Backend;

    std::string name() const override {
        return url().backend == BackendKind::Odbc ? "odbc/postgresql" : "postgresql";
    }

    int ensure_schema(bool create) override {
        soci::transaction tx(sql());
        // Instances starting together must not race to create the same tables.
        sql() << "SELECT pg_advisory_xact_lock(727274001)";
        int tables = 0;
        sql() << "SELECT CAST(count(*) AS integer) FROM information_schema.tables "
                 "WHERE table_schema = current_schema() AND table_name IN ('jobs', 'workerlogs')",
            soci::into(tables);
        int statements = 2;
        statements += create_or_verify(tables, create, embedded::postgresql_schema(),
                                       "sql/postgresql/schema.sql");
        tx.commit();
        return statements;
    }

    ReadyJobs list(std::chrono::milliseconds window, std::chrono::milliseconds history,
                   std::size_t limit) override {
        const long long window_ms = window.count();
        const long long history_ms = history.count();
        const auto limit_rows = static_cast<long long>(limit);
        // Lists are serialized across instances: two lists made at the same moment would each
        // miss the other's QUERYLIST row (neither committed when the other read) and both take
        // the same jobs, to lose half the lock races. Under the lock, the list reads after the
        // previous one committed, and stamps itself with its own statement's moment, made later
        // than the last list's by at least a millisecond: list order, LogDate order and
        // visibility agree. The server aborts a holder stuck mid-way (idle in its transaction,
        // or in the list itself: a statement timeout set here bounds the statements after this
        // one), and a waiter gives up rather than wait for ever. The limits end with the
        // transaction. Without coordination (no history asked) nobody reads the lists, and
        // nothing is serialized.
        soci::transaction tx(sql());
        if (history_ms > 0) {
            sql() << "SELECT pg_advisory_xact_lock(727274002) FROM (SELECT "
                     "set_config('lock_timeout', '3s', true), "
                     "set_config('idle_in_transaction_session_timeout', '5s', true), "
                     "set_config('statement_timeout', '5s', true)) AS s";
        }
        ReadyJobs result;
        for_each_row(
            sql(), list_statement(),
            [&](const soci::row& row) {
                result.db_now = from_ms(column_i64(row, "list_at"));
                result.clock =
                    std::max(result.clock, std::chrono::microseconds(column_i64(row, "clock")));
                if (const long long kind = column_i64(row, "kind"); kind != 1) {
                    read_list_record("client", "at", kind == 3, row, result);
                    return;
                }
                read_own_stop(row, result);
                // No due job: the clock row only.
                if (row.get_indicator(job_column::kId) == soci::i_null) return;
                read_listed_job(row, result);
            },
            soci::use(window_ms, "win"), soci::use(history_ms, "hist"),
            soci::use(client_id(), "cid"), soci::use(limit_rows, "lim"));
        tx.commit();
        return result;
    }

    ClusterPeek peek() override {
        soci::row row;
        sql() << "WITH p AS (SELECT CAST(:cid AS text) AS cid), " +
                     log_cte("NULL", sql_literal(Action::QueryLast), "1") + " SELECT " +
                     as(ms("now()"), "now_ms") + ", (SELECT " + ms("max(LogDate)") +
                     " FROM WorkerLogs WHERE Action = " + sql_literal(Action::QueryList) + " AND " +
                     kNotFuture + ") AS last_list, (SELECT " + ms("max(LogDate)") +
                     " FROM WorkerLogs WHERE Action = " + sql_literal(Action::Leave) + " AND " +
                     kNotFuture + ") AS last_leave, " + as(kClockUs, "clock"),
            soci::use(client_id(), "cid"), soci::into(row);
        ClusterPeek peek{from_ms(column_i64(row, "now_ms")),
                         {},
                         {},
                         std::chrono::microseconds(column_i64(row, "clock"))};
        if (auto at = column_opt_i64(row, "last_list")) peek.last_list = from_ms(*at);
        if (auto at = column_opt_i64(row, "last_leave")) peek.last_leave = from_ms(*at);
        return peek;
    }

    std::optional<Job> get(JobId id) override {
        soci::row row;
        sql() << "WITH p AS (SELECT CAST(:id AS bigint) AS id, CAST(:cid AS text) AS cid), "
                 "j AS (SELECT Jobs.* FROM Jobs, p WHERE Jobs.Id = p.id), " +
                     log_cte("p.id", sql_literal(Action::QueryJob), "(SELECT count(*) FROM j)") +
                     " SELECT " + job_columns("j.") + " FROM j",
            soci::use(id, "id"), soci::use(client_id(), "cid"), soci::into(row);
        if (!sql().got_data()) return std::nullopt;
        return read_job(row);
    }

    LockRow lock(JobId id, LockToken token, std::chrono::milliseconds lease) override {
        const long long lease_ms = lease.count();
        int won = 0;
        int exists = 0;
        // READ COMMITTED re-checks the WHERE clause on the row a concurrent winner wrote, so
        // exactly one caller matches State = 0. A retry with the same token finds its own win.
        sql() << "WITH p AS (SELECT CAST(:id AS bigint) AS id, CAST(:cid AS text) AS cid, "
                 "CAST(:tok AS bigint) AS tok, CAST(:lease AS double precision) AS lease), "
                 "u AS (UPDATE Jobs SET State = 1, LockAt = now(), LockedBy = p.cid, LockToken = "
                 "p.tok, "
                 "LeaseUntil = now() + p.lease * interval '1 millisecond', Attempts = "
                 "Jobs.Attempts + 1 "
                 "FROM p WHERE Jobs.Id = p.id AND (Jobs.State = 0 OR "
                 "(Jobs.State = 1 AND (Jobs.LockToken = p.tok OR "
                 "(Jobs.StartedAt IS NULL AND Jobs.LeaseUntil < now())))) RETURNING Jobs.Id), " +
                     log_cte("p.id", either(Action::AcquireSuccess, Action::AcquireFailure),
                             "(SELECT count(*) FROM u)") +
                     " SELECT CAST((SELECT count(*) FROM u) AS integer), "
                     "CAST((SELECT count(*) FROM Jobs, p WHERE Jobs.Id = p.id) AS integer)",
            soci::use(id, "id"), soci::use(client_id(), "cid"), soci::use(token, "tok"),
            soci::use(lease_ms, "lease"), soci::into(won), soci::into(exists);
        return LockRow{won == 1, won == 1 || exists > 0};
    }

    bool start(JobId id, LockToken token, std::chrono::milliseconds run_lease) override {
        const long long lease_ms = run_lease.count();
        int started = 0;
        sql() << "WITH p AS (SELECT CAST(:id AS bigint) AS id, CAST(:cid AS text) AS cid, "
                 "CAST(:tok AS bigint) AS tok, CAST(:lease AS double precision) AS lease), "
                 "u AS (UPDATE Jobs SET StartedAt = COALESCE(Jobs.StartedAt, now()), "
                 "LeaseUntil = now() + p.lease * interval '1 millisecond' FROM p "
                 "WHERE Jobs.Id = p.id AND Jobs.State = 1 AND Jobs.LockToken = p.tok AND "
                 "(Jobs.StartedAt IS NOT NULL OR Jobs.LeaseUntil > now()) RETURNING Jobs.Id), " +
                     log_cte("p.id", either(Action::Start, Action::StartFailure),
                             "(SELECT count(*) FROM u)") +
                     " SELECT CAST((SELECT count(*) FROM u) AS integer)",
            soci::use(id, "id"), soci::use(client_id(), "cid"), soci::use(token, "tok"),
            soci::use(lease_ms, "lease"), soci::into(started);
        return started == 1;
    }

    std::vector<LockRow> lock_many(const std::vector<StartRequest>& batch,
                                   std::chrono::milliseconds lease) override {
        const long long lease_ms = lease.count();
        const std::string batch_text = id_token_json(batch);
        std::string outcome_text;
        // The rows are locked first, in Id order and skipping any another statement holds, so
        // two batches never wait on each other in opposite orders. A row that qualified but was
        // skipped is HELD (a rival's lock, a completion, a session left open in psql): the job
        // may still be free, and the caller may try again. The condition is checked again on
        // the row as locked.
        const std::string lockable =
            "(Jobs.State = 0 OR (Jobs.State = 1 AND (Jobs.LockToken = b.tok OR "
            "(Jobs.StartedAt IS NULL AND Jobs.LeaseUntil < now()))))";
        sql() << kTokenBatchCtes + skip_held_ctes(lockable, ", b.tok") +
                     "u AS (UPDATE Jobs SET State = 1, LockAt = now(), LockedBy = p.cid, "
                     "LockToken = c.tok, LeaseUntil = now() + p.lease * interval '1 millisecond', "
                     "Attempts = Jobs.Attempts + 1 FROM p, c WHERE Jobs.Id = c.Id RETURNING "
                     "Jobs.Id), " +
                     batch_log_cte(Action::AcquireSuccess, Action::Held, Action::AcquireFailure) +
                     "SELECT CAST(COALESCE(json_agg(json_build_object('id', b.id, 'won', u.Id IS "
                     "NOT NULL, 'exists', Jobs.Id IS NOT NULL, 'held', u.Id IS NULL AND v.Id IS "
                     "NOT NULL)), '[]') AS text) FROM b LEFT JOIN u ON u.Id = b.id LEFT JOIN v ON "
                     "v.Id = b.id LEFT JOIN " +
                     job_by_id("b.id") + " ON true",
            soci::use(client_id(), "cid"), soci::use(lease_ms, "lease"),
            soci::use(batch_text, "batch"), soci::into(outcome_text);
        std::vector<LockRow> rows;
        rows.reserve(batch.size());
        for (const auto& outcome : in_batch_order(outcome_text, batch)) {
            rows.push_back({outcome.value("won", false), outcome.value("exists", false),
                            outcome.value("held", false)});
        }
        return rows;
    }

    StartOutcome start_many(const std::vector<StartRequest>& batch,
                            std::chrono::milliseconds run_lease) override {
        const long long lease_ms = run_lease.count();
        const std::string batch_text = id_token_json(batch);
        std::string outcome_text;
        long long clock_us = 0;
        sql() << kTokenBatchCtes +
                     skip_held_ctes(
                         "Jobs.State = 1 AND Jobs.LockToken = b.tok AND "
                         "(Jobs.StartedAt IS NOT NULL OR Jobs.LeaseUntil > now())") +
                     "u AS (UPDATE Jobs SET StartedAt = COALESCE(Jobs.StartedAt, now()), "
                     "LeaseUntil = now() + p.lease * interval '1 millisecond' FROM p, c "
                     "WHERE Jobs.Id = c.Id RETURNING Jobs.Id), " +
                     batch_log_cte(Action::Start, Action::Held, Action::StartFailure) +
                     "SELECT CAST(COALESCE(json_agg(json_build_object('id', b.id, 'won', u.Id IS "
                     "NOT NULL)), '[]') AS text), " +
                     kClockUs + " FROM b LEFT JOIN u ON u.Id = b.id",
            soci::use(client_id(), "cid"), soci::use(lease_ms, "lease"),
            soci::use(batch_text, "batch"), soci::into(outcome_text), soci::into(clock_us);
        StartOutcome out;
        out.clock = std::chrono::microseconds(clock_us);
        out.started.reserve(batch.size());
        for (const auto& outcome : in_batch_order(outcome_text, batch)) {
            out.started.push_back(outcome.value("won", false));
        }
        return out;
    }

    std::vector<Renewal> renew_many(const std::vector<StartRequest>& batch,
                                    std::chrono::milliseconds run_lease) override {
        const long long lease_ms = run_lease.count();
        const std::string batch_text = id_token_json(batch);
        std::string outcome_text;
        sql() << kTokenBatchCtes +
                     skip_held_ctes(
                         "Jobs.State = 1 AND Jobs.LockToken = b.tok AND "
                         "Jobs.StartedAt IS NOT NULL") +
                     "u AS (UPDATE Jobs SET LeaseUntil = now() + p.lease * interval '1 "
                     "millisecond' FROM p, c WHERE Jobs.Id = c.Id RETURNING Jobs.Id), " +
                     batch_log_cte(Action::Renew, Action::Held, Action::Renew) +
                     "SELECT CAST(COALESCE(json_agg(json_build_object('id', b.id, 'won', u.Id IS "
                     "NOT NULL, 'held', u.Id IS NULL AND v.Id IS NOT NULL, 'waiting', "
                     "COALESCE(Jobs.State = 1 AND Jobs.LockToken = b.tok AND Jobs.StartedAt IS "
                     "NULL, false))), '[]') AS text) FROM b LEFT JOIN u ON u.Id = b.id LEFT JOIN "
                     "v ON v.Id = b.id LEFT JOIN " +
                     job_by_id("b.id") + " ON true",
            soci::use(client_id(), "cid"), soci::use(lease_ms, "lease"),
            soci::use(batch_text, "batch"), soci::into(outcome_text);
        std::vector<Renewal> renewed;
        renewed.reserve(batch.size());
        for (const auto& outcome : in_batch_order(outcome_text, batch)) {
            renewed.push_back(outcome.value("won", false)       ? Renewal::Renewed
                              : outcome.value("held", false)    ? Renewal::Held
                              : outcome.value("waiting", false) ? Renewal::Waiting
                                                                : Renewal::Lost);
        }
        return renewed;
    }

    CompleteRow finish(JobId id, std::optional<LockToken> token, JobState state, Action action,
                       const std::optional<std::string>& result_text) override {
        const int state_value = static_cast<int>(state);
        const std::string action_text(action_name(action));
        const std::string result_value = result_text.value_or("");
        soci::indicator result_ind = result_text ? soci::i_ok : soci::i_null;
        const LockToken token_value = token.value_or(0);
        soci::indicator token_ind = token ? soci::i_ok : soci::i_null;
        // A one-shot query: one round trip, where SOCI's prepared statement costs three (parse,
        // execute, DEALLOCATE), the parse before ExecuteAt is stamped.
        soci::row row;
        sql()
            << "WITH p AS (SELECT CAST(:id AS bigint) AS id, CAST(:cid AS text) AS cid, "
               "CAST(:tok AS bigint) AS tok, CAST(:res AS text) AS res, "
               "CAST(:state AS integer) AS state, CAST(:action AS text) AS action), " +
                   one_row_skip_held_ctes(
                       "Jobs.State = 1 AND (p.tok IS NULL OR Jobs.LockToken = p.tok)") +
                   "u AS (UPDATE Jobs SET State = p.state, ExecuteAt = now(), Result = p.res FROM "
                   "p, c WHERE Jobs.Id = c.Id RETURNING Jobs.Id), " +
                   log_cte("p.id",
                           "CASE WHEN EXISTS (SELECT 1 FROM u) THEN p.action WHEN EXISTS "
                           "(SELECT 1 FROM v) THEN " +
                               sql_literal(Action::Held) + " ELSE " + sql_literal(Action::Error) +
                               " END",
                           "(SELECT count(*) FROM u)") +
                   " SELECT CAST((SELECT count(*) FROM u) AS integer) AS completed, "
                   "CAST((SELECT count(*) FROM v) AS integer) AS qualified, " +
                   as("Jobs.State", job_column::kState) + ", " +
                   as("Jobs.LockToken", job_column::kLockToken) + ", " +
                   as("Jobs.LockedBy", job_column::kLockedBy) + " FROM p LEFT JOIN " +
                   job_by_id("p.id") + " ON true",
            soci::use(id, "id"), soci::use(client_id(), "cid"),
            soci::use(token_value, token_ind, "tok"), soci::use(result_value, result_ind, "res"),
            soci::use(state_value, "state"), soci::use(action_text, "action"), soci::into(row);
        CompleteRow out;
        out.completed = column_i64(row, "completed") == 1;
        if (out.completed) return out;
        out.held = column_i64(row, "qualified") == 1;
        if (auto found = column_opt_i64(row, job_column::kState)) {
            out.state = static_cast<JobState>(*found);
        }
        out.token = column_opt_i64(row, job_column::kLockToken);
        out.locked_by = column_opt_text(row, job_column::kLockedBy);
        return out;
    }

    CompleteRow interrupt_lapsed(JobId id, LockToken token, const std::string& message) override {
        soci::row row;
        sql() << "WITH p AS (SELECT CAST(:id AS bigint) AS id, CAST(:cid AS text) AS cid, "
                 "CAST(:tok AS bigint) AS tok, CAST(:res AS text) AS res), " +
                     one_row_skip_held_ctes(
                         "Jobs.State = 1 AND Jobs.LockToken = p.tok AND Jobs.StartedAt IS NOT "
                         "NULL AND Jobs.LeaseUntil < now()") +
                     "u AS (UPDATE Jobs SET State = 4, ExecuteAt = now(), Result = p.res FROM p, c "
                     "WHERE Jobs.Id = c.Id RETURNING Jobs.Id), " +
                     log_cte("p.id",
                             "CASE WHEN EXISTS (SELECT 1 FROM v) AND NOT EXISTS (SELECT 1 FROM u) "
                             "THEN " +
                                 sql_literal(Action::Held) + " ELSE " +
                                 sql_literal(Action::Interrupted) + " END",
                             "(SELECT count(*) FROM u)") +
                     " SELECT CAST((SELECT count(*) FROM u) AS integer) AS completed, "
                     "CAST((SELECT count(*) FROM v) AS integer) AS qualified, " +
                     as("Jobs.State", job_column::kState) + ", " +
                     as("Jobs.LockToken", job_column::kLockToken) + " FROM p LEFT JOIN " +
                     job_by_id("p.id") + " ON true",
            soci::use(id, "id"), soci::use(client_id(), "cid"), soci::use(token, "tok"),
            soci::use(message, "res"), soci::into(row);
        CompleteRow out;
        out.completed = column_i64(row, "completed") == 1;
        if (out.completed) return out;
        out.held = column_i64(row, "qualified") == 1;
        if (auto found = column_opt_i64(row, job_column::kState))
            out.state = static_cast<JobState>(*found);
        out.token = column_opt_i64(row, job_column::kLockToken);
        return out;
    }

    CompleteRow release(JobId id, LockToken token) override {
        soci::row row;
        // A retry after a lost reply finds the job free (or taken by someone since): false,
        // which is right either way, since the release happened.
        sql() << "WITH p AS (SELECT CAST(:id AS bigint) AS id, CAST(:cid AS text) AS cid, "
                 "CAST(:tok AS bigint) AS tok), " +
                     one_row_skip_held_ctes("Jobs.State = 1 AND Jobs.LockToken = p.tok") +
                     "u AS (UPDATE Jobs SET State = 0, LockAt = NULL, LockedBy = NULL, LockToken = "
                     "NULL, StartedAt = NULL, LeaseUntil = NULL FROM c WHERE Jobs.Id = c.Id "
                     "RETURNING Jobs.Id), " +
                     log_cte("p.id",
                             "CASE WHEN EXISTS (SELECT 1 FROM u) OR NOT EXISTS (SELECT 1 FROM v) "
                             "THEN " +
                                 sql_literal(Action::Release) + " ELSE " +
                                 sql_literal(Action::Held) + " END",
                             "(SELECT count(*) FROM u)") +
                     " SELECT CAST((SELECT count(*) FROM u) AS integer) AS released, "
                     "CAST((SELECT count(*) FROM v) AS integer) AS qualified",
            soci::use(id, "id"), soci::use(client_id(), "cid"), soci::use(token, "tok"),
            soci::into(row);
        CompleteRow out;
        out.completed = column_i64(row, "released") == 1;
        out.held = !out.completed && column_i64(row, "qualified") == 1;
        return out;
    }

    std::vector<std::pair<JobId, CompleteRow>> finish_many(
        const std::vector<Completion>& batch) override {
        // The batch travels as one JSON parameter, so a burst's completions are one statement,
        // planned once, committed once, with one ExecuteAt (the transaction's now()).
        nlohmann::json rows = nlohmann::json::array();
        for (const auto& c : batch) {
            nlohmann::json result = nullptr;
            if (c.result && !c.result->empty()) result = *c.result;
            rows.push_back({{"id", c.id}, {"tok", c.token}, {"res", std::move(result)}});
        }
        const std::string batch_text = rows.dump();
        std::string unfinished_text;
        sql() << "WITH p AS (SELECT CAST(:cid AS text) AS cid, CAST(CAST(:batch AS text) AS json) "
                 "AS batch), "
                 "b AS (SELECT r.id, r.tok, r.res FROM p, "
                 "json_to_recordset(p.batch) AS r(id bigint, tok bigint, res text)), " +
                     skip_held_ctes("Jobs.State = 1 AND Jobs.LockToken = b.tok", ", b.res") +
                     "u AS (UPDATE Jobs SET State = 2, ExecuteAt = now(), Result = c.res FROM c "
                     "WHERE Jobs.Id = c.Id RETURNING Jobs.Id), " +
                     batch_log_cte(Action::Complete, Action::Held, Action::Error) +
                     "SELECT CAST(COALESCE(json_agg(json_build_object('id', b.id, 'state', "
                     "Jobs.State, 'lock_token', Jobs.LockToken, 'locked_by', Jobs.LockedBy, "
                     "'held', v.Id IS NOT NULL)) FILTER (WHERE u.Id IS NULL), '[]') AS text) "
                     "FROM b LEFT JOIN u ON u.Id = b.id LEFT JOIN v ON v.Id = b.id "
                     "LEFT JOIN " +
                     job_by_id("b.id") + " ON true",
            soci::use(client_id(), "cid"), soci::use(batch_text, "batch"),
            soci::into(unfinished_text);
        std::vector<std::pair<JobId, CompleteRow>> unfinished;
        for (const auto& item : nlohmann::json::parse(unfinished_text)) {
            CompleteRow row;
            const auto& state = item.at("state");
            const auto& token = item.at("lock_token");
            const auto& locked_by = item.at("locked_by");
            if (!state.is_null()) row.state = static_cast<JobState>(state.get<int>());
            if (!token.is_null()) row.token = token.get<LockToken>();
            if (!locked_by.is_null()) row.locked_by = locked_by.get<std::string>();
            row.held = item.value("held", false);
            unfinished.emplace_back(item.at("id").get<JobId>(), std::move(row));
        }
        return unfinished;
    }

    std::optional<JobId> create(DbTime run_at, const std::optional<std::string>& payload) override {
        const long long run_at_ms = to_ms(run_at);
        const std::string payload_value = payload.value_or("");
        soci::indicator payload_ind = payload ? soci::i_ok : soci::i_null;
        long long id = 0;
        soci::indicator id_ind = soci::i_null;
        sql() << "WITH p AS (SELECT timestamptz 'epoch' + CAST(:r AS double precision) * "
                 "interval '1 millisecond' AS r, CAST(:pl AS text) AS pl, CAST(:cid AS text) AS "
                 "cid), "
                 "i AS (INSERT INTO Jobs (RunAt, Payload) SELECT p.r, p.pl FROM p "
                 "WHERE p.r >= now() + " +
                     kMinPrepareInterval +
                     " RETURNING Id), "
                     "l AS (INSERT INTO WorkerLogs (JobId, Action, ClientId, Results) "
                     "SELECT i.Id, " +
                     sql_literal(Action::Create) +
                     ", p.cid, 1 FROM i, p) "
                     "SELECT (SELECT Id FROM i)",
            soci::use(run_at_ms, "r"), soci::use(payload_value, payload_ind, "pl"),
            soci::use(client_id(), "cid"), soci::into(id, id_ind);
        if (id_ind == soci::i_null) return std::nullopt;
        return id;
    }

    std::size_t create_many(const std::vector<DbTime>& run_ats) override {
        nlohmann::json times = nlohmann::json::array();
        for (const DbTime t : run_ats) times.push_back(to_ms(t));
        const std::string batch_text = times.dump();
        int created = 0;
        sql()
            << "WITH p AS (SELECT CAST(:cid AS text) AS cid, CAST(CAST(:batch AS text) AS json) "
               "AS batch), "
               "b AS (SELECT timestamptz 'epoch' + CAST(e.value AS double precision) * "
               "interval '1 millisecond' AS r, e.n FROM p, json_array_elements_text(p.batch) "
               "WITH ORDINALITY AS e(value, n)), "
               "i AS (INSERT INTO Jobs (RunAt) SELECT b.r FROM b WHERE NOT EXISTS (SELECT 1 "
               "FROM b AS s WHERE s.r < now() + " +
                   kMinPrepareInterval +
                   ") ORDER BY b.n RETURNING Id), "
                   "l AS (INSERT INTO WorkerLogs (JobId, Action, ClientId, Results) SELECT i.Id, " +
                   sql_literal(Action::Create) +
                   ", p.cid, 1 FROM i, p) "
                   "SELECT CAST(count(*) AS integer) FROM i",
            soci::use(client_id(), "cid"), soci::use(batch_text, "batch"), soci::into(created);
        return static_cast<std::size_t>(created);
    }

    void reset() override { sql() << "TRUNCATE Jobs, WorkerLogs RESTART IDENTITY"; }

    Statistics statistics() override {
        return read_statistics(sql(), ms("ExecuteAt") + " - " + ms("RunAt"), ms("RunAt"),
                               "CreateAt > RunAt - " + kMinPrepareInterval);
    }

    DbTime now() override {
        long long now_ms = 0;
        sql() << "SELECT " + ms("clock_timestamp()"), soci::into(now_ms);
        return from_ms(now_ms);
    }

    std::map<std::string, long long> connections() override {
        std::map<std::string, long long> out;
        for_each_row(sql(),
                     "SELECT COALESCE(application_name, '') AS name, CAST(count(*) AS bigint) AS "
                     "n FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1",
                     [&](const soci::row& row) {
                         out[row.get<std::string>("name")] = column_i64(row, "n");
                     });
        return out;
    }

    void recover() override {
        try {
            sql().rollback();
        } catch (const soci::soci_error&) {
            // Autocommit: there was nothing to roll back.
        }
    }
};

}  // namespace

std::unique_ptr<Backend> make_postgresql_backend(ConnectionUrl url,
                                                 std::unique_ptr<soci::session> sql,
                                                 std::string client_id) {
    return std::make_unique<PostgresqlBackend>(std::move(url), std::move(sql),
                                               std::move(client_id));
}

}  // namespace jobs::repo

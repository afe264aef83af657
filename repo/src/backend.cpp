#include "backend.h"

#include <cmath>

#include <charconv>
#include <cstring>

#include <soci/odbc/soci-odbc.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "jobs/repo/error.h"

namespace jobs::repo {

Backend::Backend(ConnectionUrl url, std::unique_ptr<soci::session> sql, std::string client_id)
    : url_(std::move(url)), sql_(std::move(sql)), client_id_(std::move(client_id)) {}

namespace {

bool mentions(const char* text, const char* word) { return std::strstr(text, word) != nullptr; }

}  // namespace

Failure Backend::classify(const soci::soci_error& e) const {
    if (const auto* s = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
        const int code = s->result() & 0xff;  // primary result code
        if (code == 5 /* SQLITE_BUSY */ || code == 6 /* SQLITE_LOCKED */) return Failure::Busy;
        return Failure::Other;
    }
    if (const auto* p = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
        const std::string state = p->sqlstate();
        if (state == "40001" || state == "40P01") return Failure::Busy;
        if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03") {
            return Failure::Disconnected;
        }
    }
    if (const auto* o = dynamic_cast<const soci::odbc_soci_error*>(&e)) {
        const char* state = reinterpret_cast<const char*>(o->odbc_error_code());
        if (std::strncmp(state, "08", 2) == 0) return Failure::Disconnected;
        if (std::strcmp(state, "40001") == 0) return Failure::Busy;
        // sqliteodbc reports SQLite's busy as a general error; only its text tells.
        if (mentions(e.what(), "database is locked") || mentions(e.what(), "database is busy")) {
            return Failure::Busy;
        }
    }
    if (!sql_->is_connected()) return Failure::Disconnected;
    // libpq's text when the server went away mid-statement carries no SQLSTATE.
    if (mentions(e.what(), "server closed the connection") || mentions(e.what(), "no connection") ||
        mentions(e.what(), "connection not open") || mentions(e.what(), "could not connect")) {
        return Failure::Disconnected;
    }
    return Failure::Other;
}

void Backend::reconnect() { sql_->reconnect(); }

void Backend::log_connect(int statements) {
    *sql_ << "INSERT INTO WorkerLogs (Action, ClientId, Results) VALUES (" +
                 sql_literal(Action::Connect) + ", :cid, :n)",
        soci::use(client_id_, "cid"), soci::use(statements, "n");
}

void Backend::leave() {
    *sql_ << "INSERT INTO WorkerLogs (Action, ClientId) VALUES (" + sql_literal(Action::Leave) +
                 ", :cid)",
        soci::use(client_id_, "cid");
}

int Backend::create_or_verify(int tables, bool create, std::string_view script,
                              const char* schema_file) {
    if (tables != 0 || !create) return verify_schema_columns(*sql_, tables, schema_file);
    int statements = 0;
    for (const auto& statement : split_script(script)) {
        *sql_ << statement;
        ++statements;
    }
    return statements;
}

long long column_i64(const soci::row& row, const std::string& name) {
    const auto value = column_opt_i64(row, name);
    if (!value) throw RepoError(ErrorKind::Database, "unexpected NULL in column " + name);
    return *value;
}

std::optional<long long> column_opt_i64(const soci::row& row, const std::string& name) {
    if (row.get_indicator(name) == soci::i_null) return std::nullopt;
    // Drivers disagree on the type of an expression column (ODBC's SQLite driver says text).
    switch (row.get_properties(name).get_data_type()) {
        case soci::dt_integer:
            return row.get<int>(name);
        case soci::dt_long_long:
            return row.get<long long>(name);
        case soci::dt_unsigned_long_long:
            return static_cast<long long>(row.get<unsigned long long>(name));
        case soci::dt_double: {
            const double value = row.get<double>(name);
            // Beyond ±2^63 the cast is undefined: an infinite or absurd time is unreadable.
            if (!std::isfinite(value) || std::fabs(value) >= 9.2e18) {
                throw RepoError(ErrorKind::Database, "column " + name + " is out of range");
            }
            return static_cast<long long>(value);
        }
        case soci::dt_string: {
            const std::string text = row.get<std::string>(name);
            long long value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec != std::errc{}) {
                throw RepoError(ErrorKind::Database,
                                "column " + name + " is not a number: '" + text + "'");
            }
            (void)end;
            return value;
        }
        default:
            throw RepoError(ErrorKind::Database, "column " + name + " has an unexpected type");
    }
}

std::optional<std::string> column_opt_text(const soci::row& row, const std::string& name) {
    if (row.get_indicator(name) == soci::i_null) return std::nullopt;
    if (row.get_properties(name).get_data_type() == soci::dt_string) {
        return row.get<std::string>(name);
    }
    return std::to_string(column_i64(row, name));
}

Job read_job(const soci::row& row) {
    namespace c = job_column;
    Job job;
    job.id = column_i64(row, c::kId);
    job.run_at = from_ms(column_i64(row, c::kRunAt));
    job.create_at = from_ms(column_i64(row, c::kCreateAt));
    if (auto v = column_opt_i64(row, c::kLockAt)) job.lock_at = from_ms(*v);
    if (auto v = column_opt_i64(row, c::kExecuteAt)) job.execute_at = from_ms(*v);
    job.state = static_cast<JobState>(column_i64(row, c::kState));
    job.locked_by = column_opt_text(row, c::kLockedBy);
    job.lock_token = column_opt_i64(row, c::kLockToken);
    job.payload = column_opt_text(row, c::kPayload);
    if (auto v = column_opt_i64(row, c::kStartedAt)) job.started_at = from_ms(*v);
    if (auto v = column_opt_i64(row, c::kLeaseUntil)) job.lease_until = from_ms(*v);
    job.attempts = static_cast<int>(column_opt_i64(row, c::kAttempts).value_or(0));
    return job;
}

void read_listed_job(const soci::row& row, ReadyJobs& out) {
    try {
        out.jobs.push_back(read_job(row));
    } catch (const std::exception& e) {
        std::optional<JobId> id;
        try {
            id = column_opt_i64(row, job_column::kId);
        } catch (const std::exception&) {
            // The id itself is unreadable: reported without one.
        }
        out.unreadable.push_back({id, e.what()});
    }
}

namespace {

// The stop of a truncated list, from columns stop_run_at and stop_id: none when its last row is
// gone or its RunAt cannot be read (the list then covers no job by its rows).
std::optional<ListStop> read_stop(const soci::row& row) {
    const auto run_at = column_opt_i64(row, "stop_run_at");
    const auto id = column_opt_i64(row, "stop_id");
    if (!run_at || !id) return std::nullopt;
    return ListStop{from_ms(*run_at), *id};
}

}  // namespace

void read_own_stop(const soci::row& row, ReadyJobs& out) {
    if (out.truncated || column_i64(row, "trunc") == 0) return;
    out.truncated = true;
    out.stop = read_stop(row);
}

void read_list_record(const std::string& client_column, const std::string& at_column, bool leave,
                      const soci::row& row, ReadyJobs& out) {
    try {
        const auto client = column_opt_text(row, client_column);
        if (!client) throw RepoError(ErrorKind::Database, "unexpected NULL in column ClientId");
        ListRecord record{*client, from_ms(column_i64(row, at_column)), leave};
        record.truncated = column_i64(row, "trunc") != 0;
        if (record.truncated) record.stop = read_stop(row);
        out.recent_lists.push_back(std::move(record));
    } catch (const std::exception& e) {
        out.unreadable.push_back({std::nullopt, std::string("a WorkerLogs list row: ") + e.what()});
    }
}

Statistics read_statistics(soci::session& sql, const std::string& delay_ms_expr,
                           const std::string& run_at_ms_expr,
                           const std::string& late_created_cond) {
    Statistics stats;
    for_each_row(sql, "SELECT Action AS action, count(*) AS n FROM WorkerLogs GROUP BY Action",
                 [&](const soci::row& row) {
                     stats.actions[row.get<std::string>("action")] = column_i64(row, "n");
                 });
    for_each_row(sql, "SELECT State AS state, count(*) AS n FROM Jobs GROUP BY State",
                 [&](const soci::row& row) {
                     stats.states[static_cast<int>(column_i64(row, "state"))] =
                         column_i64(row, "n");
                 });
    const auto count_rows = [&](const std::string& query) {
        long long n = 0;
        sql << query, soci::into(n);
        return n;
    };
    const auto count = [&](const std::string& where) {
        return count_rows("SELECT count(*) FROM Jobs WHERE " + where);
    };
    stats.early_lock = count("RunAt > LockAt");
    stats.early_exec = count("RunAt > ExecuteAt");
    stats.delay_exceed =
        count("State = 2 AND " + delay_ms_expr + " > " + std::to_string(kMaxDelayTime.count()));
    stats.late_created = count(late_created_cond);
    // A task leaves one COMPLETE, or an ERROR when it ran without holding the lock: two of them
    // for one job mean it ran twice.
    stats.duplicates = count("Id IN (SELECT JobId FROM WorkerLogs WHERE Action IN (" +
                             sql_literal(Action::Complete) + ", " + sql_literal(Action::Error) +
                             ") AND JobId IS NOT NULL GROUP BY JobId HAVING count(*) > 1)");
    stats.statements = count_rows(
        "SELECT count(*) FROM (SELECT DISTINCT ClientId, Action, LogDate FROM WorkerLogs WHERE "
        "Action <> " +
        sql_literal(Action::Create) + ") AS s");
    for_each_row(sql,
                 "SELECT " + as(delay_ms_expr, "delay_ms") + ", " +
                     as(run_at_ms_expr, "run_at_ms") +
                     " FROM Jobs WHERE State = 2 ORDER BY RunAt, Id",
                 [&](const soci::row& row) {
                     stats.delays_ms.push_back(column_i64(row, "delay_ms"));
                     stats.run_at_ms.push_back(column_i64(row, "run_at_ms"));
                 });
    return stats;
}

int verify_schema_columns(soci::session& sql, int tables, const char* schema_file) {
    const std::string advice = std::string(": create it from ") + schema_file +
                               " in a new database (or drop both tables and let the program do it)";
    if (tables == 0) {
        throw RepoError(ErrorKind::Schema,
                        std::string("the database has no Jobs and WorkerLogs tables") + advice);
    }
    if (tables == 1) {
        throw RepoError(ErrorKind::Schema,
                        "incompatible schema: only one of Jobs and WorkerLogs exists" + advice);
    }
    try {
        sql << "SELECT Id, RunAt, CreateAt, LockAt, ExecuteAt, State, LockedBy, LockToken, "
               "LeaseUntil, "
               "StartedAt, Attempts, Payload, Result FROM Jobs WHERE 1 = 0";
        sql << "SELECT Sn, JobId, LogDate, Action, ClientId, Results FROM WorkerLogs WHERE 1 = 0";
    } catch (const soci::soci_error& e) {
        throw RepoError(ErrorKind::Schema,
                        std::string("incompatible schema (") + e.what() + ")" + advice);
    }
    return 2;
}

namespace {

// Drops a trailing "-- comment": an apostrophe in it would unbalance the quote tracking SOCI's
// ODBC backend does when it looks for ":name" placeholders.
std::string_view without_comment(std::string_view line) {
    bool quoted = false;
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
        if (line[i] == '\'') quoted = !quoted;
        if (!quoted && line[i] == '-' && line[i + 1] == '-') return line.substr(0, i);
    }
    return line;
}

}  // namespace

std::vector<std::string> split_script(std::string_view script) {
    std::vector<std::string> statements;
    std::string current;
    bool in_trigger = false;
    std::size_t pos = 0;
    while (pos <= script.size()) {
        const std::size_t end = std::min(script.find('\n', pos), script.size());
        std::string_view line = script.substr(pos, end - pos);
        pos = end + 1;
        line = without_comment(line);
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos) continue;
        const std::string_view trimmed = line.substr(first);
        if (current.empty() && trimmed.starts_with("CREATE TRIGGER")) in_trigger = true;
        current.append(line).append("\n");
        const auto last = line.find_last_not_of(" \t\r");
        const bool ends = line[last] == ';';
        if (!ends) continue;
        if (in_trigger && !trimmed.starts_with("END;")) continue;
        in_trigger = false;
        if (!current.starts_with("PRAGMA")) statements.push_back(current);
        current.clear();
    }
    return statements;
}

}  // namespace jobs::repo

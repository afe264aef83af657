#pragma once

#include <cstddef>
#include <string>

namespace soci {
class row;
}

namespace jobs::test {

// An integer column as any backend types it (SOCI's SQLite backend calls expressions text).
long long as_integer(const soci::row& row, std::size_t column);

// The database a test binary runs against, chosen by JOBS_TEST_BACKEND (set per CTest entry).
// Each backend's quirks live in test_db.cpp, nowhere else.
struct TestDb {
    std::string label;  // sqlite, postgresql, odbc-postgresql, odbc-sqlite
    std::string url;
    bool shared_server = false;  // true: one database for every test, reset between them
};

// Keeps the ODBC drivers loaded until exit, so LeakSanitizer can name them in its report and
// tests/lsan.supp can suppress their own leaks (unloaded, they show as "<unknown module>").
void pin_odbc_drivers();

// Exits the process with 77 (CTest's "skipped") when the backend's variable is unset, or fails
// when CI=true, where every backend must run.
const TestDb& test_db();
// SQLite natively or through ODBC: one file, one writer at a time.
bool speaks_sqlite(const TestDb& db);
// A URL to an empty database with the schema in place (fresh file, or the shared one reset).
std::string fresh_database();
// A URL to a database (or PostgreSQL schema) with no tables at all, for the schema tests.
std::string empty_database();
// A URL to an empty database whose schema was loaded from sql/<dialect>/schema.sql with the
// plain sqlite3 / psql client, as a user would.
std::string database_from_schema_file();
// Plain SQL a person would type: insert `count` jobs all due at now + offset_ms (negative:
// overdue) on the database's clock.
std::string insert_jobs_sql(int count, long long offset_ms);

}  // namespace jobs::test

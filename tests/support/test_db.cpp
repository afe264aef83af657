#include "test_db.h"

#include <dlfcn.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"

namespace jobs::test {
namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

TestDb load() {
    const std::string label =
        env("JOBS_TEST_BACKEND").empty() ? "sqlite" : env("JOBS_TEST_BACKEND");
    if (label == "sqlite") return {label, "", false};
    const char* variable = label == "postgresql"        ? "JOBS_TEST_POSTGRESQL"
                           : label == "odbc-postgresql" ? "JOBS_TEST_ODBC_POSTGRESQL"
                           : label == "odbc-sqlite"     ? "JOBS_TEST_ODBC_SQLITE"
                                                        : nullptr;
    if (variable == nullptr) {
        std::fprintf(stderr, "unknown JOBS_TEST_BACKEND '%s'\n", label.c_str());
        std::exit(2);
    }
    const std::string url = env(variable);
    if (url.empty()) {
        if (env("CI") == "true") {
            std::fprintf(stderr, "%s is unset: under CI=true every backend must run\n", variable);
            std::exit(1);
        }
        std::fprintf(stderr, "%s is unset: skipping the %s suite (scripts/test.sh sets it)\n",
                     variable, label.c_str());
        std::exit(77);
    }
    return {label, url, true};
}

}  // namespace

void pin_odbc_drivers() {
    for (const char* driver : {"/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so",
                               "/usr/lib/x86_64-linux-gnu/odbc/libsqlite3odbc.so"}) {
        dlopen(driver, RTLD_NOW | RTLD_NODELETE);  // absent drivers are simply not pinned
    }
}

const TestDb& test_db() {
    static const TestDb db = load();
    return db;
}

namespace {

// A new SQLite file per call, so tests cannot see each other's rows.
struct TempDir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("jobs-test-" + std::to_string(getpid()));
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

std::string new_sqlite_file() {
    static int counter = 0;
    static const TempDir temp;
    const auto& dir = temp.path;
    const auto file = dir / ("t" + std::to_string(++counter) + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix);
    return file.string();
}

}  // namespace

std::string fresh_database() {
    const TestDb& db = test_db();
    const std::string url = db.shared_server ? db.url : "sqlite3://db=" + new_sqlite_file();
    repo::RepoOptions options{.url = url, .client_id = "test-reset"};
    options.log_connect = false;
    repo::JobsRepo(options).reset();  // creates the schema when missing
    return url;
}

std::string empty_database() {
    const TestDb& db = test_db();
    if (db.label == "sqlite") return "sqlite3://db=" + new_sqlite_file();
    if (db.label == "odbc-sqlite") return db.url + ";Database=" + new_sqlite_file();
    // PostgreSQL: an empty schema first on the search path stands for an empty database.
    auto sql = repo::open_session(repo::ConnectionUrl::parse(db.url));
    *sql << "DROP SCHEMA IF EXISTS jobs_empty CASCADE";
    *sql << "CREATE SCHEMA jobs_empty";
    if (db.label == "postgresql") return db.url + " options='-csearch_path=jobs_empty'";
    return db.url + ";ConnSettings=SET search_path TO jobs_empty";
}

bool speaks_sqlite(const TestDb& db) { return db.label == "sqlite" || db.label == "odbc-sqlite"; }

namespace {

// libpq's conninfo inside a SOCI URL, for psql.
std::string conninfo(const std::string& url) { return url.substr(url.find("://") + 3); }

void run_client(const std::string& command) {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

}  // namespace

long long as_integer(const soci::row& r, std::size_t i) {
    switch (r.get_properties(i).get_data_type()) {
        case soci::dt_integer:
            return r.get<int>(i);
        case soci::dt_double:
            return std::llround(r.get<double>(i));
        case soci::dt_string:
            return std::stoll(r.get<std::string>(i));
        case soci::dt_unsigned_long_long:
            return static_cast<long long>(r.get<unsigned long long>(i));
        default:
            return r.get<long long>(i);
    }
}

std::string database_from_schema_file() {
    const TestDb& db = test_db();
    const std::string schema =
        std::string(JOBS_SOURCE_DIR) +
        (speaks_sqlite(db) ? "/sql/sqlite/schema.sql" : "/sql/postgresql/schema.sql");
    if (db.label == "sqlite") {
        const std::string file = new_sqlite_file();
        run_client(fmt::format("sqlite3 '{}' < '{}' > /dev/null", file, schema));
        return "sqlite3://db=" + file;
    }
    if (db.label == "postgresql") {
        // The empty schema, filled by psql from the file.
        const std::string url = empty_database();
        run_client(
            fmt::format("PGOPTIONS='-csearch_path=jobs_empty' psql -q -v ON_ERROR_STOP=1 '{}' -f "
                        "'{}' > /dev/null",
                        conninfo(test_db().url), schema));
        return url;
    }
    return fresh_database();  // ODBC: the programs created it from the same file
}

std::string insert_jobs_sql(int count, long long offset_ms) {
    if (speaks_sqlite(test_db())) {
        return fmt::format(
            "INSERT INTO Jobs (RunAt) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
            "n "
            "WHERE i < {}) SELECT strftime('%Y-%m-%d %H:%M:%f', 'now', '{:+.3f} seconds') FROM n",
            count, static_cast<double>(offset_ms) / 1000.0);
    }
    return fmt::format(
        "INSERT INTO Jobs (RunAt) SELECT now() + interval '{} milliseconds' "
        "FROM generate_series(1, {})",
        offset_ms, count);
}

}  // namespace jobs::test

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "jobs/repo/connection_url.h"
#include "jobs/repo/error.h"

using namespace jobs::repo;

TEST_CASE("connection URLs name their backend and keep the connection string whole") {
    const auto pg = ConnectionUrl::parse("postgresql://host=127.0.0.1 port=5432 dbname=jobs");
    CHECK(pg.backend == BackendKind::Postgresql);
    CHECK(pg.connection == "host=127.0.0.1 port=5432 dbname=jobs");
    CHECK(ConnectionUrl::parse("sqlite3://db=jobs.db").backend == BackendKind::Sqlite3);
    CHECK(ConnectionUrl::parse("odbc://DRIVER={SQLite3};Database=a://b").connection ==
          "DRIVER={SQLite3};Database=a://b");
    CHECK_THROWS_AS(ConnectionUrl::parse("db=jobs.db"), RepoError);
}

TEST_CASE("a URL can come from the environment or a file, out of the process list") {
    setenv("JOBS_TEST_URL_VAR", "sqlite3://db=from-env.db", 1);
    CHECK(resolve_url("env:JOBS_TEST_URL_VAR") == "sqlite3://db=from-env.db");
    const auto path = std::filesystem::temp_directory_path() / "jobs-test-url.txt";
    std::ofstream(path) << "postgresql://dbname=secret\n";
    CHECK(resolve_url("file:" + path.string()) == "postgresql://dbname=secret");
    std::filesystem::remove(path);
    CHECK(resolve_url("sqlite3://db=plain.db") == "sqlite3://db=plain.db");
    CHECK_THROWS_AS(resolve_url("file:/nonexistent/jobs-url"), RepoError);
}

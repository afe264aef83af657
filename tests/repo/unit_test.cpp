#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "jobs/repo/action.h"
#include "jobs/repo/connection_url.h"
#include "jobs/repo/error.h"
#include "jobs/repo/exercise.h"
#include "jobs/repo/storable_text.h"

using namespace jobs::repo;
using namespace std::chrono_literals;

TEST_CASE("every action reads back from its name, and weighs as SPEC section 5 says") {
    for (const auto& info : kActions) {
        CHECK(parse_action(action_name(info.action)) == info.action);
        CHECK(action_weight(info.name) == action_weight(info.action));
    }
    CHECK(action_weight(Action::QueryList) == 100);
    CHECK(action_weight(Action::AcquireFailure) == 10);
    CHECK(action_weight(Action::QueryJob) == 1);
    // A failed write, like a lost lock.
    CHECK(action_weight(Action::StartFailure) == 10);
    CHECK(action_weight(Action::Start) == 0);
    CHECK_FALSE(parse_action("BY_HAND").has_value());
    CHECK(action_weight("BY_HAND") == 0);
    CHECK_FALSE(parse_action("querylist").has_value());
}

// The one place the exercise's numbers are written out again: everything else uses the names.
TEST_CASE("the exercise's constants are SPEC's numbers") {
    CHECK(kMinPrepareTime == 10s);
    CHECK(kMaxDelayTime == 30s);
    CHECK(kMaxPayloadBytes == 65'536);
    CHECK(kTaskPermitsPerProcess == 5);
    CHECK(kTaskLength == 83ms);
    CHECK(kEveryJobPeriod == 3s);
    CHECK(kBatchPeriod == 13s);
    CHECK(kBatchSize == 20);
    CHECK(kRandomGapMin == 1'000ms);
    CHECK(kRandomGapSpread == 1'999ms);
    CHECK(kLiveNotice == 10'100ms);
    CHECK(kScoreTail == 40s);
}

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

TEST_CASE(
    "storable text keeps valid UTF-8 byte for byte and turns each NUL and each byte of a "
    "malformed sequence into U+FFFD") {
    using namespace std::string_literals;
    const std::string valid = "plain, \xc3\xa9t\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80, \t\n";
    CHECK(storable_text(valid).text == valid);
    CHECK(storable_text(valid).replaced == 0);
    CHECK(storable_text("").text.empty());
    const std::string fffd = "\xef\xbf\xbd";
    const auto check = [&](const std::string& bytes, const std::string& expected, std::size_t n) {
        const StorableText t = storable_text(bytes);
        CHECK(t.text == expected);
        CHECK(t.replaced == n);
    };
    check("a\0b"s, "a" + fffd + "b", 1);
    check("\xff", fffd, 1);                                   // never in UTF-8
    check("\x80x", fffd + "x", 1);                            // a stray continuation byte
    check("\xc0\xaf", fffd + fffd, 2);                        // an overlong '/'
    check("\xe0\x80\xaf", fffd + fffd + fffd, 3);             // overlong, three bytes
    check("\xed\xa0\x80", fffd + fffd + fffd, 3);             // a surrogate
    check("\xf4\x90\x80\x80", fffd + fffd + fffd + fffd, 4);  // past U+10FFFF
    check("ok\xc3", "ok" + fffd, 1);                          // cut short at the end
    check("\xe2\x82x", fffd + fffd + "x", 2);                 // cut short before an ASCII byte
}

TEST_CASE("a URL's password never shows in what may be logged: errors and redacted()") {
    CHECK(redacted("postgresql://host=h password=s3cret dbname=d") ==
          "postgresql://host=h password=*** dbname=d");
    CHECK(redacted("postgresql://host=h PASSWORD = 's3 cr\\'et' dbname=d") ==
          "postgresql://host=h PASSWORD = *** dbname=d");
    CHECK(redacted("odbc://DSN=x;UID=u;PWD={s3;cret};") == "odbc://DSN=x;UID=u;PWD=***;");
    CHECK(redacted("postgresql://user:s3cret@host/db") == "postgresql://user:***@host/db");
    CHECK(redacted("postgresql://postgresql://h/db?sslmode=require&password=s3cret&x=1") ==
          "postgresql://postgresql://h/db?sslmode=require&password=***&x=1");
    CHECK(redacted("odbc://DSN=x;PWD=s3 cret;UID=u") == "odbc://DSN=x;PWD=***;UID=u");
    CHECK(redacted("odbc://DSN=x;PWD={a}}b;c};UID=u") == "odbc://DSN=x;PWD=***;UID=u");
    CHECK(redacted("sqlite3://db=jobs.db") == "sqlite3://db=jobs.db");
    try {
        ConnectionUrl::parse("postgres:/host=h password=s3cret");
        FAIL("parsed a malformed URL");
    } catch (const RepoError& e) {
        CHECK(std::string(e.what()).find("s3cret") == std::string::npos);
        CHECK(std::string(e.what()).find("password=***") != std::string::npos);
    }
}

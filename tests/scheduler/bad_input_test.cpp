// An instance facing broken workers and odd rows: each case ends with a clear outcome and
// nothing lost or run twice.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "jobs/harness/instance.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/session.h"
#include "logged.h"
#include "test_db.h"

using namespace jobs;
using namespace std::chrono_literals;
using harness::Instance;

namespace {

std::string new_database() { return test::database_from_schema_file(); }

std::unique_ptr<Instance> instance(const std::string& url, const std::string& id,
                                   std::vector<std::string> extra) {
    std::vector<std::string> argv = {JOBS_SCHEDULER, "--db", url, "--client-id", id};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string log = "/tmp/jobs-bad-input-" + id + ".log";
    std::filesystem::remove(log);  // the log is appended to: only this run's lines
    return std::make_unique<Instance>(argv, log);
}

long long scalar(soci::session& sql, const std::string& query) {
    soci::rowset<soci::row> rows = sql.prepare << query;
    return test::as_integer(*rows.begin(), 0);
}

// Waits until no job of `ids` is waiting or locked; false at the deadline.
bool settle(soci::session& sql, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (scalar(sql, "SELECT count(*) FROM Jobs WHERE State IN (0, 1)") == 0) return true;
        std::this_thread::sleep_for(200ms);
    }
    return false;
}

struct Case {
    std::string name;
    std::vector<std::string> flags;
    int expected_state;
    std::string result_mentions;
};

}  // namespace

TEST_CASE(
    "broken workers: each job ends failed or interrupted with the reason, never run twice; one "
    "no worker could take only after three locks" *
    doctest::timeout(150)) {
    const std::vector<Case> cases = {
        {"crash", {"--worker-arg", "crash"}, 4, "died"},
        {"hang", {"--worker-arg", "hang", "--task-timeout", "500"}, 3, "timed out"},
        {"garbage", {"--worker-arg", "garbage"}, 3, "garbage"},
        {"exit-at-start", {"--worker-arg", "exit-at-start"}, 3, "exited at start"},
        {"silent", {"--worker-arg", "silent", "--worker-start-timeout", "300"}, 3, "ready"},
        {"ok", {"--worker-arg", "pid"}, 2, ""},
    };
    std::vector<std::string> urls;
    std::vector<std::unique_ptr<Instance>> instances;
    for (const auto& c : cases) {
        urls.push_back(new_database());
        auto sql = repo::open_session(repo::ConnectionUrl::parse(urls.back()));
        *sql << test::insert_jobs_sql(2, 11'000);
        std::vector<std::string> flags = {"--worker", JOBS_TEST_FAKE_WORKER, "--pool-min", "0"};
        flags.insert(flags.end(), c.flags.begin(), c.flags.end());
        instances.push_back(instance(urls.back(), c.name, flags));
    }
    for (std::size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(cases[i].name);
        auto sql = repo::open_session(repo::ConnectionUrl::parse(urls[i]));
        REQUIRE(settle(*sql, 90s));
        instances[i]->signal(SIGINT);
        CHECK(instances[i]->wait_for(5s) == std::optional<int>(0));
        CHECK(scalar(*sql, "SELECT count(*) FROM Jobs WHERE State = " +
                               std::to_string(cases[i].expected_state)) == 2);
        if (!cases[i].result_mentions.empty()) {
            std::string result;
            *sql << "SELECT Result FROM Jobs WHERE Id = 1", soci::into(result);
            CHECK_MESSAGE(result.find(cases[i].result_mentions) != std::string::npos, result);
        }
        // A worker that never starts: each job locked (and fenced) three times, then failed.
        const bool undelivered = cases[i].name == "exit-at-start" || cases[i].name == "silent";
        CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                               jobs::test::quoted(jobs::repo::Action::Start)) <=
              (undelivered ? 6 : 2));
        if (undelivered) {
            CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                                   jobs::test::quoted(jobs::repo::Action::Release)) == 4);
        }
    }
}

TEST_CASE(
    "odd rows: an unknown State is left alone, an oversized payload is refused, the rest run" *
    doctest::timeout(90)) {
    const std::string url = new_database();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    *sql << test::insert_jobs_sql(3, 11'000);
    *sql << "UPDATE Jobs SET State = 7 WHERE Id = 2";
    *sql << "UPDATE Jobs SET Payload = '" + std::string(repo::kMaxPayloadBytes + 1, 'x') +
                "' WHERE Id = 3";
    auto it = instance(url, "odd", {});
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < deadline &&
           scalar(*sql, "SELECT count(*) FROM Jobs WHERE State IN (0, 1)") > 0) {
        std::this_thread::sleep_for(200ms);
    }
    it->signal(SIGINT);
    CHECK(it->wait_for(5s) == std::optional<int>(0));
    CHECK(scalar(*sql, "SELECT State FROM Jobs WHERE Id = 1") == 2);
    CHECK(scalar(*sql, "SELECT State FROM Jobs WHERE Id = 2") == 7);
    CHECK(scalar(*sql, "SELECT State FROM Jobs WHERE Id = 3") == 3);
    std::string result;
    *sql << "SELECT Result FROM Jobs WHERE Id = 3", soci::into(result);
    CHECK(result.find("exceeds") != std::string::npos);
}

TEST_CASE(
    "rows no list can read (a CreateAt that is not a time, a list row without a ClientId) are "
    "skipped and logged once; every other job runs" *
    doctest::timeout(90)) {
    const std::string url = new_database();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    *sql << test::insert_jobs_sql(4, 11'000);
    *sql << "UPDATE Jobs SET CreateAt = 'not a time' WHERE Id = 2";
    *sql << "INSERT INTO WorkerLogs (Action, ClientId) VALUES (" +
                test::quoted(repo::Action::QueryList) + ", NULL)";
    auto it = instance(url, "unreadable", {});
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < deadline &&
           scalar(*sql, "SELECT count(*) FROM Jobs WHERE State = 2") < 3) {
        std::this_thread::sleep_for(200ms);
    }
    std::this_thread::sleep_for(10s);  // one list more at least
    it->signal(SIGINT);
    CHECK(it->wait_for(5s) == std::optional<int>(0));
    CHECK(scalar(*sql, "SELECT count(*) FROM Jobs WHERE State = 2 AND Id <> 2") == 3);
    CHECK(scalar(*sql, "SELECT State FROM Jobs WHERE Id = 2") == 0);
    std::ifstream log("/tmp/jobs-bad-input-unreadable.log");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    std::size_t reported = 0;
    for (auto at = text.find("job 2: its row cannot be read"); at != std::string::npos;
         at = text.find("job 2: its row cannot be read", at + 1))
        ++reported;
    CHECK(reported == 1);
    CHECK(text.find("a WorkerLogs list row") != std::string::npos);
    CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                           test::quoted(repo::Action::QueryList) + " AND ClientId IS NOT NULL") >=
          2);
}

TEST_CASE(
    "jobs whose worker cannot start are not failed: offered again, then released, they run "
    "once the worker starts" *
    doctest::timeout(90)) {
    const std::string url = new_database();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    const std::string ready_file = "/tmp/jobs-bad-input-ready-after";
    std::filesystem::remove(ready_file);
    *sql << test::insert_jobs_sql(3, 11'000);
    auto it = instance(url, "undelivered",
                       {"--worker", JOBS_TEST_FAKE_WORKER, "--worker-arg", "ready-after",
                        "--worker-arg", ready_file});
    // Offered five times a second apart from RunAt on, then released: the worker can start
    // only after that, and the next list runs them.
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < deadline &&
           scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                            test::quoted(repo::Action::Release)) < 3) {
        std::this_thread::sleep_for(200ms);
    }
    std::ofstream(ready_file) << "ready\n";
    CHECK(settle(*sql, 40s));
    it->signal(SIGINT);
    CHECK(it->wait_for(5s) == std::optional<int>(0));
    std::filesystem::remove(ready_file);
    CHECK(scalar(*sql, "SELECT count(*) FROM Jobs WHERE State = 2") == 3);
    CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                           test::quoted(repo::Action::Release) + " AND Results = 1") == 3);
    CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action IN (" +
                           test::quoted(repo::Action::Failed) + ", " +
                           test::quoted(repo::Action::Interrupted) + ")") == 0);
    // Each completed once, after RunAt.
    CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                           test::quoted(repo::Action::Complete)) == 3);
}

TEST_CASE(
    "a custom worker gets the database URL only when the instance is started with --worker-db" *
    doctest::timeout(60)) {
    for (const bool given : {false, true}) {
        CAPTURE(given);
        const std::string url = new_database();
        auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
        *sql << test::insert_jobs_sql(1, 11'000);
        std::vector<std::string> flags = {"--worker", JOBS_TEST_FAKE_WORKER, "--worker-arg",
                                          "env",      "--worker-arg",        "JOBS_WORKER_DB"};
        if (given) flags.push_back("--worker-db");
        auto it = instance(url, given ? "env-given" : "env-withheld", flags);
        CHECK(settle(*sql, 40s));
        it->signal(SIGINT);
        CHECK(it->wait_for(5s) == std::optional<int>(0));
        std::string result;
        *sql << "SELECT Result FROM Jobs WHERE Id = 1", soci::into(result);
        CHECK(result == (given ? url : std::string("(unset)")));
    }
}

TEST_CASE("two instances given the same ClientId still run each job once" * doctest::timeout(90)) {
    const std::string url = new_database();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    for (int i = 0; i < 10; ++i) *sql << test::insert_jobs_sql(2, 11'000 + 500 * i);
    auto a = instance(url, "twin", {});
    auto b = instance(url, "twin", {});
    REQUIRE(settle(*sql, 60s));
    a->signal(SIGINT);
    b->signal(SIGINT);
    CHECK(a->wait_for(5s) == std::optional<int>(0));
    CHECK(b->wait_for(5s) == std::optional<int>(0));
    CHECK(scalar(*sql, "SELECT count(*) FROM Jobs WHERE State = 2") == 20);
    CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                           jobs::test::quoted(jobs::repo::Action::Complete)) == 20);
    CHECK(scalar(*sql, "SELECT count(*) FROM WorkerLogs WHERE Action = " +
                           jobs::test::quoted(jobs::repo::Action::Start)) == 20);
}

TEST_CASE("a signal during start-up stops the instance cleanly" * doctest::timeout(60)) {
    const std::string url = new_database();
    auto sql = repo::open_session(repo::ConnectionUrl::parse(url));
    *sql << test::insert_jobs_sql(1, 11'000);
    for (const auto delay : {0ms, 5ms, 50ms}) {
        auto it = instance(url, "early", {});
        std::this_thread::sleep_for(delay);
        it->signal(SIGTERM);
        const auto status = it->wait_for(5s);
        CAPTURE(delay.count());
        // Either it was still loading (the default action: terminated by the signal) or its
        // handler was in place (a clean exit); never a hang, never a held lock.
        REQUIRE(status.has_value());
        CHECK((*status == 0 || *status == -SIGTERM));
    }
    CHECK(scalar(*sql, "SELECT count(*) FROM Jobs WHERE State = 1") == 0);
}

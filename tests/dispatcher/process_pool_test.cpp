#include <doctest/doctest.h>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "jobs/dispatcher/bench/call_batch.h"
#include "jobs/dispatcher/bench/shared_payloads.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/dispatcher/worker_protocol.h"
#include "watchdog.h"

#ifndef JOBS_TEST_FAKE_WORKER
#error "JOBS_TEST_FAKE_WORKER must name the jobs-test-fake-worker executable"
#endif

using namespace jobs::dispatcher;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using jobs::test::Watchdog;

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!predicate()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

// A pool of jobs-test-fake-worker children in the given mode. Surplus children do not retire
// unless a test asks, so counts stay put while it looks at them.
PoolOptions fake_pool(std::vector<std::string> mode, std::size_t min_size, std::size_t max_size) {
    PoolOptions options;
    options.child.argv = {JOBS_TEST_FAKE_WORKER};
    options.child.argv.insert(options.child.argv.end(), mode.begin(), mode.end());
    options.min_size = min_size;
    options.max_size = max_size;
    options.idle_timeout = 60s;
    options.start_timeout = 10s;
    return options;
}

std::string run_line(std::int64_t job_id) { return format_request({job_id, 1, std::nullopt}); }

// Calls for jobs 1..count, each from a thread of its own, all at once.
std::vector<CallResult> call_jobs_at_once(ProcessPool& pool, std::size_t count) {
    std::vector<CallResult> results(count);
    std::vector<std::thread> callers;
    for (std::size_t i = 0; i < count; ++i) {
        callers.emplace_back(
            [&, i] { results[i] = pool.call(run_line(static_cast<std::int64_t>(i) + 1)); });
    }
    for (auto& t : callers) t.join();
    return results;
}

// The child's pid from a `pid` mode reply ("OK <id> <pid>"); -1 when it is not one.
pid_t pid_of(const CallResult& result) {
    if (result.status != CallStatus::Replied) return -1;
    const auto reply = parse_reply(result.reply);
    if (!reply || reply->kind != ReplyKind::Ok) return -1;
    return static_cast<pid_t>(std::stol(reply->text));
}

// The pid in a detail such as "worker 123 died while running the task"; -1 when absent.
pid_t pid_in_detail(const std::string& detail) {
    const auto at = detail.find("worker ");
    if (at == std::string::npos) return -1;
    return static_cast<pid_t>(std::strtol(detail.c_str() + at + 7, nullptr, 10));
}

// Reaped: no process, not even a zombie, has this pid any more.
bool reaped(pid_t pid) { return pid > 0 && ::kill(pid, 0) == -1 && errno == ESRCH; }

// Dead (a zombie or reaped): its descriptors, and so its end of the socket, are closed.
bool dead(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return true;
    const auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

// Samples stats() on a thread until stopped, keeping the largest size seen.
class PeakSize {
  public:
    explicit PeakSize(const ProcessPool& pool)
        : thread_([this, &pool] {
              while (!stop_) {
                  const auto size = pool.stats().size;
                  std::size_t peak = peak_.load();
                  while (size > peak && !peak_.compare_exchange_weak(peak, size)) {
                  }
                  std::this_thread::sleep_for(1ms);
              }
          }) {}
    ~PeakSize() { stop(); }
    PeakSize(const PeakSize&) = delete;
    PeakSize& operator=(const PeakSize&) = delete;

    std::size_t stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        return peak_.load();
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> peak_{0};
    std::thread thread_;
};

// Runs `threads` threads at once, each making `calls` calls in turn; results by thread, then call.
std::vector<CallResult> call_concurrently(ProcessPool& pool, int threads, int calls) {
    std::vector<CallResult> results(static_cast<std::size_t>(threads * calls));
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t) {
        callers.emplace_back([&pool, &results, t, calls] {
            for (int c = 0; c < calls; ++c) {
                const int index = t * calls + c;
                results[static_cast<std::size_t>(index)] = pool.call(run_line(index + 1));
            }
        });
    }
    for (auto& caller : callers) caller.join();
    return results;
}

}  // namespace

TEST_CASE("a pool rejects sizes it cannot honour") {
    CHECK_THROWS_AS((void)ProcessPool(fake_pool({"ok"}, 0, 0)), std::invalid_argument);
    CHECK_THROWS_AS((void)ProcessPool(fake_pool({"ok"}, 3, 2)), std::invalid_argument);
}

TEST_CASE("a pool starts min_size children when it is built and times their start" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "min_size at construction");
    ProcessPool pool(fake_pool({"ok"}, 2, 4));
    CHECK(eventually([&] {
        const auto s = pool.stats();
        return s.size == 2 && s.idle == 2;
    }));
    const auto s = pool.stats();
    CHECK(s.started == 2);
    CHECK(s.lost == 0);
    CHECK(s.average_start_ms > 0);
    const auto result = pool.call(run_line(5));
    CHECK(result.status == CallStatus::Replied);
    CHECK(result.reply == "DONE\t5\t");
    CHECK(pool.stats().started == 2);  // served by a child already there
}

TEST_CASE("concurrent calls never make the pool grow past max_size" * doctest::timeout(60)) {
    Watchdog watchdog(60s, "max_size under concurrency");
    ProcessPool pool(fake_pool({"pid", "100"}, 0, 3));
    PeakSize peak(pool);
    const auto results = call_concurrently(pool, 12, 2);
    const std::size_t peak_size = peak.stop();

    std::set<pid_t> pids;
    int replied = 0;
    for (const auto& result : results) {
        if (result.status == CallStatus::Replied) ++replied;
        pids.insert(pid_of(result));
    }
    CHECK(replied == 24);
    CHECK_FALSE(pids.contains(-1));
    CHECK(pids.size() <= 3);  // no more than three children ever ran a task
    CHECK(peak_size <= 3);
    const auto s = pool.stats();
    CHECK(s.size == 3);  // twelve waiting callers do make it grow to the limit
    CHECK(s.started == 3);
    CHECK(s.lost == 0);
}

TEST_CASE("idle children beyond min_size retire after idle_timeout, down to min_size" *
          doctest::timeout(60)) {
    Watchdog watchdog(60s, "idle retirement");
    auto options = fake_pool({"sleep", "300"}, 1, 4);
    options.idle_timeout = 300ms;
    ProcessPool pool(options);
    REQUIRE(eventually([&] { return pool.stats().idle == 1; }));

    PeakSize peak(pool);
    const auto results = call_concurrently(pool, 4, 1);
    const std::size_t peak_size = peak.stop();
    for (const auto& result : results) CHECK(result.status == CallStatus::Replied);
    CHECK(peak_size > 1);
    CHECK(peak_size <= 4);

    CHECK(eventually([&] { return pool.stats().size == 1; }));
    std::this_thread::sleep_for(1200ms);  // two maintenance rounds: it must not go below min_size
    const auto s = pool.stats();
    CHECK(s.size == 1);
    CHECK(s.idle == 1);
    CHECK(s.retired >= peak_size - 1);
    CHECK(s.lost == 0);
}

TEST_CASE("a child killed while idle is reaped and replaced, back to min_size" *
          doctest::timeout(60)) {
    Watchdog watchdog(60s, "idle child killed");
    ProcessPool pool(fake_pool({"pid"}, 2, 2));
    REQUIRE(eventually([&] { return pool.stats().idle == 2; }));
    const pid_t victim = pid_of(pool.call(run_line(1)));
    REQUIRE(victim > 0);
    REQUIRE(eventually([&] { return pool.stats().idle == 2; }));

    REQUIRE(::kill(victim, SIGKILL) == 0);
    CHECK(eventually([&] {
        const auto s = pool.stats();
        return s.lost == 1 && s.started == 3 && s.size == 2 && s.idle == 2;
    }));
    CHECK(eventually([&] { return reaped(victim); }));
    for (int i = 0; i < 4; ++i) {
        const auto result = pool.call(run_line(10 + i));
        CHECK(result.status == CallStatus::Replied);
        const pid_t pid = pid_of(result);
        CHECK(pid > 0);
        CHECK(pid != victim);
    }
}

TEST_CASE(
    "a call handed a child that died while idle is retried on a fresh child, without SIGPIPE" *
    doctest::timeout(30)) {
    Watchdog watchdog(30s, "dead idle child handed out");
    ProcessPool pool(fake_pool({"pid"}, 1, 1));
    const pid_t victim = pid_of(pool.call(run_line(1)));
    REQUIRE(victim > 0);
    REQUIRE(::kill(victim, SIGKILL) == 0);
    REQUIRE(eventually([&] { return dead(victim); }));
    // Most likely the maintainer has not looked yet: the call gets the dead child, its send
    // fails (EPIPE, not a signal), and it tries again on a new one.
    const auto result = pool.call(run_line(2));
    CHECK(result.status == CallStatus::Replied);
    const pid_t pid = pid_of(result);
    CHECK(pid > 0);
    CHECK(pid != victim);
    CHECK(eventually([&] { return reaped(victim); }));
}

TEST_CASE("a child that dies mid-task is reported as ChildDied and the pool keeps serving" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "child dies mid-task");
    ProcessPool pool(fake_pool({"crash-on", "7"}, 1, 2));
    const auto before = pool.call(run_line(1));
    CHECK(before.status == CallStatus::Replied);
    CHECK(before.reply == "DONE\t1\t");

    const auto crashed = pool.call(run_line(7));
    CHECK(crashed.status == CallStatus::ChildDied);
    CHECK(crashed.reply.empty());
    CHECK(crashed.detail.find("died") != std::string::npos);
    const pid_t crashed_pid = pid_in_detail(crashed.detail);
    CHECK(crashed_pid > 0);
    CHECK(reaped(crashed_pid));  // discarded children are reaped before the call returns

    const auto after = pool.call(run_line(2));
    CHECK(after.status == CallStatus::Replied);
    CHECK(after.reply == "DONE\t2\t");
    CHECK(pool.stats().lost == 1);
}

TEST_CASE("a pipelined batch gets every reply in order through one child" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "pipelined batch");
    ProcessPool pool(fake_pool({}, 1, 1));
    std::vector<std::string> lines;
    for (int i = 1; i <= 100; ++i) lines.push_back(run_line(i));
    const std::vector<std::string_view> batch(lines.begin(), lines.end());
    const auto results = bench::call_batch(pool, batch, 16);
    REQUIRE(results.size() == 100);
    for (int i = 1; i <= 100; ++i) {
        CHECK(results[static_cast<std::size_t>(i - 1)].status == CallStatus::Replied);
        CHECK(results[static_cast<std::size_t>(i - 1)].reply ==
              "DONE\t" + std::to_string(i) + "\t");
    }
    CHECK(pool.stats().started == 1);
    CHECK(pool.call(run_line(101)).status ==
          CallStatus::Replied);  // the child went back to the pool
}

TEST_CASE(
    "a child dying in a batch: replies before it stand, what it held died, the rest was never "
    "sent" *
    doctest::timeout(30)) {
    Watchdog watchdog(30s, "batch with a crash");
    ProcessPool pool(fake_pool({"crash-on", "7"}, 1, 2));
    std::vector<std::string> lines;
    for (int i = 1; i <= 40; ++i) lines.push_back(run_line(i));
    const std::vector<std::string_view> batch(lines.begin(), lines.end());
    const auto results = bench::call_batch(pool, batch, 4);
    REQUIRE(results.size() == 40);
    for (std::size_t i = 0; i < 6; ++i) CHECK(results[i].status == CallStatus::Replied);
    CHECK(results[6].status == CallStatus::ChildDied);
    // At most depth requests were in flight when it died; none after that was delivered.
    std::size_t died = 0;
    std::size_t unsent = 0;
    for (std::size_t i = 6; i < 40; ++i) {
        died += results[i].status == CallStatus::ChildDied ? 1 : 0;
        unsent += results[i].status == CallStatus::StartFailed ? 1 : 0;
    }
    CHECK(died >= 1);
    CHECK(died <= 4);
    CHECK(died + unsent == 34);
    CHECK(pool.call(run_line(41)).status == CallStatus::Replied);
}

TEST_CASE("every call to a crashing worker is reported once, never re-sent, and the host survives" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "crashing worker");
    ProcessPool pool(fake_pool({"crash"}, 0, 2));
    for (int i = 0; i < 3; ++i) {
        const auto result = pool.call(run_line(i + 1));
        CHECK(result.status == CallStatus::ChildDied);
    }
    const auto s = pool.stats();
    CHECK(s.started == 3);  // one child per request: a delivered request is not tried again
    CHECK(s.lost == 3);
    CHECK(s.size == 0);
}

TEST_CASE("a task that outlives task_timeout is killed and reported TimedOut" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "task timeout");
    auto options = fake_pool({"hang"}, 0, 1);
    options.task_timeout = 200ms;
    ProcessPool pool(options);
    for (int i = 0; i < 2; ++i) {  // the second call proves the pool is still usable
        const auto begin = Clock::now();
        const auto result = pool.call(run_line(i + 1));
        const auto took = Clock::now() - begin;
        CHECK(result.status == CallStatus::TimedOut);
        CHECK(took >= 150ms);
        CHECK(took < 5s);
        const pid_t pid = pid_in_detail(result.detail);
        CHECK(pid > 0);
        CHECK(reaped(pid));
    }
    const auto s = pool.stats();
    CHECK(s.lost == 2);
    CHECK(s.size == 0);
}

TEST_CASE("a worker that exits at start gives StartFailed without hanging" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "exit at start");
    ProcessPool pool(fake_pool({"exit-at-start"}, 0, 2));
    const auto begin = Clock::now();
    const auto result = pool.call(run_line(1));
    CHECK(Clock::now() - begin < 5s);
    CHECK(result.status == CallStatus::StartFailed);
    CHECK(result.detail.find("exited at start") != std::string::npos);
    const auto s = pool.stats();
    CHECK(s.lost == 3);  // a request never delivered may try another child, a few times
    CHECK(s.size == 0);
}

TEST_CASE("a worker program that cannot be run gives StartFailed" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "missing program");
    auto options = fake_pool({}, 0, 1);
    options.child.argv = {"/nonexistent/jobs-test-no-such-worker"};
    ProcessPool pool(options);
    const auto begin = Clock::now();
    const auto result = pool.call(run_line(1));
    CHECK(Clock::now() - begin < 5s);
    CHECK(result.status == CallStatus::StartFailed);
}

TEST_CASE("a worker that never says READY gives StartFailed after start_timeout" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "silent worker");
    auto options = fake_pool({"silent"}, 0, 2);
    options.start_timeout = 200ms;
    ProcessPool pool(options);
    const auto begin = Clock::now();
    const auto result = pool.call(run_line(1));
    const auto took = Clock::now() - begin;
    CHECK(result.status == CallStatus::StartFailed);
    CHECK(result.detail.find("did not become ready") != std::string::npos);
    CHECK(took >= 150ms);
    CHECK(took < 5s);
    CHECK(pool.stats().size == 0);
}

TEST_CASE(
    "a caller waiting for the only place is told StartFailed when the pool's own start fails" *
    doctest::timeout(30)) {
    Watchdog watchdog(30s, "caller waits on the maintainer's failed start");
    // min_size == max_size: the maintainer holds the only place while its child fails to
    // start, so the caller must be woken when that place is given back.
    auto options = fake_pool({"silent"}, 1, 1);
    options.start_timeout = 300ms;
    ProcessPool pool(options);
    REQUIRE(
        eventually([&] { return pool.stats().size == 1; }, 2s));  // the maintainer is starting one
    const auto begin = Clock::now();
    const auto result = pool.call(run_line(1));
    CHECK(result.status == CallStatus::StartFailed);
    CHECK(Clock::now() - begin < 10s);
}

TEST_CASE("a reply that is not the protocol is handed to the caller to judge" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "garbage reply");
    ProcessPool pool(fake_pool({"garbage"}, 0, 1));
    const auto result = pool.call(run_line(1));
    CHECK(result.status == CallStatus::Replied);
    CHECK(result.reply == "this is not the protocol");
    CHECK_FALSE(parse_reply(result.reply).has_value());
}

TEST_CASE("an idle child that writes unasked is removed from the pool" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "chatty child");
    // Each chatty child writes a line 200 ms after READY; the pool drops it and starts another.
    ProcessPool pool(fake_pool({"chatty"}, 1, 1));
    CHECK(eventually([&] {
        const auto s = pool.stats();
        return s.lost >= 2 && s.started >= 3;
    }));
    CHECK(pool.stats().size <= 1);
}

TEST_CASE("drain waits for a running call, reaps every child, and then refuses calls" *
          doctest::timeout(60)) {
    Watchdog watchdog(60s, "drain");
    ProcessPool pool(fake_pool({"pid", "300"}, 2, 3));
    REQUIRE(eventually([&] { return pool.stats().idle == 2; }));
    std::set<pid_t> pids;
    for (const auto& result : call_concurrently(pool, 2, 1)) pids.insert(pid_of(result));
    REQUIRE_FALSE(pids.contains(-1));

    std::atomic<bool> call_returned{false};
    CallResult running;
    std::thread caller([&] {
        running = pool.call(run_line(99));
        call_returned = true;
    });
    const bool busy = eventually([&] {
        const auto s = pool.stats();
        return s.idle < s.size;
    });
    CHECK(busy);
    const auto begin = Clock::now();
    pool.drain();
    const auto took = Clock::now() - begin;
    caller.join();
    CHECK(call_returned.load());
    CHECK(running.status == CallStatus::Replied);  // it finished: drain did not kill its child
    if (busy) CHECK(took >= 100ms);                // drain waited for the 300 ms task
    pids.insert(pid_of(running));
    CHECK_FALSE(pids.contains(-1));
    for (const pid_t pid : pids) {
        CAPTURE(pid);
        CHECK(reaped(pid));
    }
    const auto s = pool.stats();
    CHECK(s.size == 0);
    CHECK(s.idle == 0);
    CHECK(pool.call(run_line(100)).status == CallStatus::Stopped);
    pool.drain();  // a second drain (and the destructor's) is harmless
}

TEST_CASE("warm grows the pool to the asked size, capped at max_size" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "warm");
    ProcessPool pool(fake_pool({"ok"}, 0, 3));
    PeakSize peak(pool);
    pool.warm(2);
    CHECK(eventually([&] {
        const auto s = pool.stats();
        return s.size == 2 && s.idle == 2;
    }));
    pool.warm(10);
    CHECK(eventually([&] {
        const auto s = pool.stats();
        return s.size == 3 && s.idle == 3;
    }));
    std::this_thread::sleep_for(600ms);  // a maintenance round: nothing more is started
    CHECK(peak.stop() == 3);
    const auto s = pool.stats();
    CHECK(s.size == 3);
    CHECK(s.started == 3);
    CHECK(pool.call(run_line(1)).status == CallStatus::Replied);
}

TEST_CASE(
    "children handed the shared region read a payload in place, in order, in a batch, beside "
    "inline ones" *
    doctest::timeout(30)) {
    Watchdog watchdog(30s, "shared payloads");
    bench::SharedPayloads shared(1 << 22);
    auto options = fake_pool({"echo"}, 0, 2);
    options.child.inherit_fds = {shared.fd()};
    options.child.extra_env = {shared.child_env()};
    ProcessPool pool(options);
    std::vector<bench::SharedPayloads::Block> blocks;
    std::vector<std::string> payloads, lines;
    for (int i = 0; i < 8; ++i) {
        payloads.push_back(std::string(100'000 + i, static_cast<char>('a' + i)) + "\t\n\\");
        auto block = shared.store(payloads.back());
        REQUIRE(block.has_value());
        lines.push_back(format_request({i, 1, std::nullopt, std::nullopt, block->ref()}));
        blocks.push_back(std::move(*block));
    }
    // An inline payload in the same batch still arrives as itself.
    payloads.push_back(std::string(50'000, 'z') + "\t\n\\");
    lines.push_back(format_request({8, 1, payloads.back(), std::nullopt, std::nullopt}));
    const auto results = bench::call_batch(pool, {lines.begin(), lines.end()}, 4);
    REQUIRE(results.size() == 9);
    for (int i = 0; i < 9; ++i) {
        const auto reply = parse_reply(results[static_cast<std::size_t>(i)].reply);
        REQUIRE(reply.has_value());
        CHECK(reply->kind == ReplyKind::Ok);
        CHECK(reply->job_id == i);
        CHECK(reply->text == payloads[static_cast<std::size_t>(i)]);
    }
}

TEST_CASE("a child not handed the region cannot read a shared payload and says so" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "shared payloads, not handed");
    bench::SharedPayloads shared(1 << 16);
    auto block = shared.store("secret");
    REQUIRE(block.has_value());
    ProcessPool pool(fake_pool({"echo"}, 0, 1));
    const auto result = pool.call(format_request({1, 1, std::nullopt, std::nullopt, block->ref()}));
    REQUIRE(result.status == CallStatus::Replied);
    const auto reply = parse_reply(result.reply);
    REQUIRE(reply.has_value());
    CHECK(reply->kind == ReplyKind::Failed);
    CHECK(reply->text == "shared payload out of reach");
}

TEST_CASE("a child announcing another protocol version is refused, naming both, and counted lost" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "another version");
    ProcessPool pool(fake_pool({"ready", "READY\t2\tfake"}, 0, 2));
    const auto result = pool.call(run_line(1));
    CHECK(result.status == CallStatus::StartFailed);
    CHECK_MESSAGE(result.detail.find("version 2") != std::string::npos, result.detail);
    CHECK_MESSAGE(result.detail.find("version 1") != std::string::npos, result.detail);
    const auto s = pool.stats();
    CHECK(s.lost == 3);  // like a child that failed to start
    CHECK(s.size == 0);
    CHECK_FALSE(pool.capabilities().has_value());
}

TEST_CASE("a first line that is not READY is refused with the line" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "not READY");
    ProcessPool pool(fake_pool({"ready", "READY"}, 0, 1));
    const auto result = pool.call(run_line(1));
    CHECK(result.status == CallStatus::StartFailed);
    CHECK_MESSAGE(result.detail.find("not READY: READY") != std::string::npos, result.detail);
}

TEST_CASE("the pool records the capabilities its children declare" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "capabilities");
    ProcessPool fencing(fake_pool({"ready", "READY\t1\tfake\tfences"}, 1, 2));
    CHECK(fencing.await_capabilities() == Capabilities{Capability::Fences});
    CHECK(fencing.capabilities() == Capabilities{Capability::Fences});
    CHECK(fencing.call(run_line(3)).reply == "DONE\t3\t");

    // min_size 0: one child is started to hear what the workers are.
    ProcessPool plain(fake_pool({"ok"}, 0, 2));
    CHECK(plain.await_capabilities().empty());
    CHECK(plain.capabilities() == Capabilities{});
    CHECK(plain.stats().started == 1);
}

TEST_CASE("a child declaring other capabilities than the pool's first is refused" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "capabilities differ");
    const std::string path = "/tmp/jobs-fake-ready-" + std::to_string(::getpid());
    const auto announce = [&](const std::string& line) { std::ofstream(path) << line << '\n'; };
    announce("READY\t1\tfake\tfences");
    ProcessPool pool(fake_pool({"ready-from", path}, 1, 2));
    REQUIRE(pool.await_capabilities() == Capabilities{Capability::Fences});
    announce("READY\t1\tfake");
    // The first child is busy, so the call starts others: each says it is plain.
    auto lease = pool.borrow();
    REQUIRE(lease);
    const auto result = pool.call(run_line(1));
    CHECK(result.status == CallStatus::StartFailed);
    CHECK_MESSAGE(result.detail.find("'none'") != std::string::npos, result.detail);
    CHECK_MESSAGE(result.detail.find("'fences'") != std::string::npos, result.detail);
    // The call's three attempts; and a child started at the pool's start, alongside the one that
    // answered await_capabilities, may read the changed line too and be refused.
    CHECK(pool.stats().lost >= 3);
    CHECK(pool.stats().lost <= 4);
    CHECK(pool.capabilities() == Capabilities{Capability::Fences});
    std::remove(path.c_str());
}

TEST_CASE("when no child becomes ready, the pool's workers are taken to be plain" *
          doctest::timeout(30)) {
    Watchdog watchdog(30s, "no child ready");
    ProcessPool pool(fake_pool({"exit-at-start"}, 0, 2));
    CHECK(pool.await_capabilities().empty());
    CHECK(pool.capabilities() == Capabilities{});
    CHECK(pool.stats().lost >= 3);
}

TEST_CASE("a child that declares 5 permits serves 5 calls at once, each reply reaching its call") {
    Watchdog watchdog(30s, "five calls on one child");
    ProcessPool pool(fake_pool({"permits", "5", "400"}, 1, 4));
    REQUIRE(eventually([&] { return pool.stats().idle == 1; }));
    CHECK(pool.permits() == 5);
    const std::vector<CallResult> results = call_jobs_at_once(pool, 5);
    std::set<pid_t> pids;
    for (std::size_t i = 0; i < results.size(); ++i) {
        CAPTURE(i);
        REQUIRE(results[i].status == CallStatus::Replied);
        // The later jobs answer first: each reply still reaches the call for its job.
        CHECK(parse_reply(results[i].reply)->job_id == static_cast<std::int64_t>(i) + 1);
        pids.insert(pid_of(results[i]));
    }
    CHECK(pids.size() == 1);
    CHECK(pool.stats().started == 1);
}

TEST_CASE("calls beyond the children's permits start one child more, not one per call") {
    Watchdog watchdog(30s, "calls beyond permits");
    // Job k sleeps 3000/k ms: all 7 calls are in flight together for at least 400 ms.
    ProcessPool pool(fake_pool({"permits", "5", "3000"}, 1, 8));
    REQUIRE(eventually([&] { return pool.stats().idle == 1; }));
    const std::vector<CallResult> results = call_jobs_at_once(pool, 7);
    std::set<pid_t> pids;
    for (const auto& result : results) {
        REQUIRE(result.status == CallStatus::Replied);
        pids.insert(pid_of(result));
    }
    CHECK(pids.size() == 2);
    CHECK(pool.stats().started == 2);
}

TEST_CASE("a child that dies with several tasks in flight reports each as died, then is replaced") {
    Watchdog watchdog(30s, "a child dying mid-tasks");
    ProcessPool pool(fake_pool({"permits", "5", "3000", "4"}, 1, 2));
    REQUIRE(eventually([&] { return pool.stats().idle == 1; }));
    std::vector<CallResult> results(3);
    std::vector<std::thread> callers;
    for (std::size_t i = 0; i < results.size(); ++i) {
        callers.emplace_back([&, i] { results[i] = pool.call(run_line(static_cast<int>(i) + 1)); });
    }
    REQUIRE(eventually([&] { return pool.stats().calls == 3; }));
    const auto crashed = pool.call(run_line(4));
    for (auto& t : callers) t.join();
    CHECK(crashed.status == CallStatus::ChildDied);
    for (const auto& result : results) CHECK(result.status == CallStatus::ChildDied);
    CHECK(pool.call(run_line(5)).status == CallStatus::Replied);
    CHECK(pool.stats().lost == 1);
}

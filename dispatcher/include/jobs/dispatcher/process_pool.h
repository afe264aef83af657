#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "jobs/dispatcher/worker_process.h"

namespace jobs::dispatcher {

struct PoolOptions {
    ChildOptions child;
    std::size_t min_size = 1;
    std::size_t max_size = 20;
    std::chrono::milliseconds idle_timeout{30'000};   // surplus idle children retire after this
    std::chrono::milliseconds start_timeout{10'000};  // from start to the READY line
    std::chrono::milliseconds task_timeout{0};        // 0: none; else the child is killed
};

enum class CallStatus {
    Replied,      // `reply` holds the child's answer line
    ChildDied,    // the request was delivered and the child died before answering
    TimedOut,     // the child exceeded task_timeout and was killed
    StartFailed,  // no child could be started; the request was never delivered
    Stopped,      // the pool is draining; the request was never delivered
};

struct CallResult {
    CallStatus status = CallStatus::Stopped;
    std::string reply;
    std::string detail;  // what went wrong, for logs and the job's Result
};

struct PoolStats {
    std::size_t size = 0;
    std::size_t idle = 0;
    std::size_t started = 0;
    std::size_t retired = 0;
    std::size_t lost = 0;         // died, timed out, or never became ready
    double average_start_ms = 0;  // start of a child to its READY line
};

// A pool of worker processes between min_size and max_size. Calls block until a child is
// free; a child is started only while the count (starting ones included) is below max_size,
// so a race cannot overshoot it. A child that dies is removed and replaced up to min_size; the
// request it held is reported, never re-sent. drain() waits for running calls and reaps all.
class ProcessPool {
  public:
    explicit ProcessPool(PoolOptions options);
    ~ProcessPool();
    ProcessPool(const ProcessPool&) = delete;
    ProcessPool& operator=(const ProcessPool&) = delete;

    // Sends one request line (ending in '\n') and waits for one reply line.
    CallResult call(std::string_view request);
    // Pipelining: runs the requests in order through one child, keeping up to `depth` of them
    // in flight, so the child never waits for the next request and replies leave in batches.
    // Keep depth x request size well under the socket's buffer (about 200 KB). If the child
    // dies, the requests it held are ChildDied and the ones never sent StartFailed.
    std::vector<CallResult> call_batch(const std::vector<std::string_view>& requests,
                                       std::size_t depth);
    // Starts children in the background until `count` exist (capped at max_size), e.g. ahead
    // of a known burst; they retire after idle_timeout like any other.
    void warm(std::size_t count);
    void drain();
    PoolStats stats() const;

  private:
    struct Child {
        std::unique_ptr<WorkerProcess> process;
        bool ready = false;
        WorkerProcess::Clock::time_point last_used;
    };

    std::unique_ptr<Child> acquire();
    // EOF to every child first, then reaps each: their exits overlap instead of queuing.
    static void close_then_reap(std::vector<std::unique_ptr<Child>>& children);
    // A child that said READY, or nothing (`result` then says why).
    std::unique_ptr<Child> acquire_ready(CallResult& result);
    void release(std::unique_ptr<Child> child);
    void discard(std::unique_ptr<Child> child);  // kills it and frees its place
    std::unique_ptr<Child> start_child();        // its place must already be counted
    bool await_ready(Child& child, std::string& detail);
    void maintain();

    const PoolOptions options_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::unique_ptr<Child>> idle_;  // most recently used last
    std::size_t size_ = 0;                      // idle + busy + starting
    std::size_t warm_target_ = 0;
    bool stopping_ = false;
    PoolStats counters_;
    double start_ms_total_ = 0;
    std::size_t start_samples_ = 0;
    std::thread maintainer_;  // last: stopped before the state it uses goes away
};

}  // namespace jobs::dispatcher

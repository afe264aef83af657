#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "jobs/common/cond_var.h"
#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/dispatcher/worker_process.h"
#include "jobs/dispatcher/worker_protocol.h"

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
    std::size_t lost = 0;         // died, timed out, or never became ready (or was refused)
    double average_start_ms = 0;  // start of a child to its READY line
};

// A pool of worker processes between min_size and max_size. Calls block until a child is
// free; a child is started only while the count (starting ones included) is below max_size,
// so a race cannot overshoot it. A child that dies is removed and replaced up to min_size; the
// request it held is reported, never re-sent. drain() waits for running calls and reaps all.
// A child is taken once its READY line names this protocol version; the first one fixes the
// pool's capabilities, and a later one that declares others is refused.
class ProcessPool {
    struct Child;

  public:
    // A ready child lent to one caller for exchanges of its own (dispatcher/bench pipelines
    // through one); it goes back to the pool when the lease ends, unless discarded.
    class Lease {
      public:
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease();

        explicit operator bool() const { return child_ != nullptr; }
        // Why there is no child (StartFailed or Stopped), when there is none.
        const CallResult& failure() const { return failure_; }
        WorkerProcess& process() const;
        // Kills the child (it died or misbehaved) and frees its place.
        void discard();

      private:
        friend class ProcessPool;
        Lease(ProcessPool& pool, std::unique_ptr<Child> child, CallResult failure);

        ProcessPool* pool_;
        std::unique_ptr<Child> child_;
        CallResult failure_;
    };

    explicit ProcessPool(PoolOptions options);
    ~ProcessPool();
    ProcessPool(const ProcessPool&) = delete;
    ProcessPool& operator=(const ProcessPool&) = delete;

    // Sends one request line (ending in '\n') and waits for one reply line.
    CallResult call(std::string_view request) EXCLUDES(mutex_);
    // A ready child for the caller alone, started if need be, like call() does.
    Lease borrow() EXCLUDES(mutex_);
    // Starts children in the background until `count` exist (capped at max_size), e.g. ahead
    // of a known burst; they retire after idle_timeout like any other.
    void warm(std::size_t count) EXCLUDES(mutex_);
    void drain() EXCLUDES(mutex_);
    PoolStats stats() const EXCLUDES(mutex_);
    const PoolOptions& options() const { return options_; }

    // What the children declared in their READY line; nothing before the first one did.
    std::optional<Capabilities> capabilities() const EXCLUDES(mutex_);
    // Waits for the first child's READY (starting one if none is under way) and returns its
    // capabilities. If no child becomes ready in a few attempts, the pool's children are taken
    // to be plain from then on (a later one declaring more is refused) and none is returned.
    Capabilities await_capabilities() EXCLUDES(mutex_);

  private:
    struct Child {
        std::unique_ptr<WorkerProcess> process;
        bool ready = false;
        WorkerProcess::Clock::time_point last_used;
    };

    std::unique_ptr<Child> acquire() EXCLUDES(mutex_);
    // EOF to every child first, then reaps each: their exits overlap instead of queuing.
    static void close_then_reap(std::vector<std::unique_ptr<Child>>& children);
    // A child that said READY, or nothing (`result` then says why).
    std::unique_ptr<Child> acquire_ready(CallResult& result) EXCLUDES(mutex_);
    void release(std::unique_ptr<Child> child) EXCLUDES(mutex_);
    void discard(std::unique_ptr<Child> child) EXCLUDES(mutex_);  // kills it, frees its place
    std::unique_ptr<Child> start_child() EXCLUDES(mutex_);  // its place must already be counted
    bool await_ready(Child& child, std::string& detail) EXCLUDES(mutex_);
    // Records what a child declared, or refuses it (`detail` says why).
    bool accept_capabilities(Capabilities declared, std::string& detail) EXCLUDES(mutex_);
    void maintain() EXCLUDES(mutex_);

    const PoolOptions options_;
    mutable Mutex mutex_;
    CondVar changed_;
    std::vector<std::unique_ptr<Child>> idle_ GUARDED_BY(mutex_);  // most recently used last
    std::size_t size_ GUARDED_BY(mutex_) = 0;                      // idle + busy + starting
    std::size_t warm_target_ GUARDED_BY(mutex_) = 0;
    bool stopping_ GUARDED_BY(mutex_) = false;
    std::optional<Capabilities> capabilities_ GUARDED_BY(mutex_);
    PoolStats counters_ GUARDED_BY(mutex_);
    double start_ms_total_ GUARDED_BY(mutex_) = 0;
    std::size_t start_samples_ GUARDED_BY(mutex_) = 0;
    std::thread maintainer_;  // last: stopped before the state it uses goes away
};

}  // namespace jobs::dispatcher

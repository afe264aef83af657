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
    std::size_t idle = 0;   // ready, with nothing in flight
    std::size_t calls = 0;  // requests in flight, over all children
    std::size_t started = 0;
    std::size_t retired = 0;
    std::size_t lost = 0;         // died, timed out, or never became ready (or was refused)
    double average_start_ms = 0;  // start of a child to its READY line
};

// A pool of worker processes between min_size and max_size. A child serves up to the permits
// its READY line declares at once (1 unless it says more): calls go to the busiest child with a
// permit free, so the number of processes follows the calls in flight divided by permits, and a
// child is started only while the count (starting ones included) is below max_size, so a race
// cannot overshoot it. The callers waiting on one child take turns reading its replies and hand
// each to the call with its job id. A child that dies is removed and replaced up to min_size;
// the requests it held are reported, never re-sent. drain() waits for running calls and reaps
// all. A child is taken once its READY line names this protocol version; the first one fixes
// the pool's capabilities, and a later one that declares others is refused.
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
        Lease(ProcessPool& pool, Child* child, CallResult failure);

        ProcessPool* pool_;
        Child* child_;
        CallResult failure_;
    };

    explicit ProcessPool(PoolOptions options);
    ~ProcessPool();
    ProcessPool(const ProcessPool&) = delete;
    ProcessPool& operator=(const ProcessPool&) = delete;

    // Sends one request line (ending in '\n') and waits for the reply to its job.
    CallResult call(std::string_view request) EXCLUDES(mutex_);
    // A ready child with nothing in flight, for the caller alone, started if need be.
    Lease borrow() EXCLUDES(mutex_);
    // About `tasks` calls are due together soon: starts children in the background until there
    // are enough for them at the children's permits (capped at max_size); they retire after
    // idle_timeout like any other.
    void warm(std::size_t tasks) EXCLUDES(mutex_);
    void drain() EXCLUDES(mutex_);
    PoolStats stats() const EXCLUDES(mutex_);
    const PoolOptions& options() const { return options_; }

    // What the children declared in their READY line; nothing before the first one did.
    std::optional<Capabilities> capabilities() const EXCLUDES(mutex_);
    // Waits for the first child's READY (starting one if none is under way) and returns its
    // capabilities. If no child becomes ready in a few attempts, the pool's children are taken
    // to be plain from then on (a later one declaring more is refused) and none is returned.
    Capabilities await_capabilities() EXCLUDES(mutex_);
    // The permits the first ready child declared (kDefaultPermits before one did).
    std::size_t permits() const EXCLUDES(mutex_);

  private:
    // Where one call's reply goes.
    struct Waiter {
        std::int64_t job_id = 0;
        bool done = false;
        IoStatus status = IoStatus::Ok;  // Closed: the child died before answering
        std::string line;
    };

    // A ready child. `process` and `permits` are fixed once it is in children_; the rest is
    // guarded by the pool's mutex_ (an annotation cannot name another object's mutex).
    struct Child {
        std::unique_ptr<WorkerProcess> process;
        std::size_t permits = kDefaultPermits;
        WorkerProcess::Clock::time_point last_used;
        std::size_t calls = 0;         // requests given to it and not yet answered
        bool lent = false;             // borrowed: its channel is the borrower's alone
        bool broken = false;           // died or misbehaved: takes nothing more, leaves when unused
        bool reading = false;          // one of its callers reads its replies for all of them
        std::vector<Waiter*> waiting;  // in the order sent
        CondVar replied;
        Mutex send_mutex;  // concurrent callers' request lines never interleave
    };

    // A child with a permit free (or, to lend, nothing in flight), started if need be and
    // counted as taken, or nothing (`result` then says why).
    Child* acquire(CallResult& result, bool lend) EXCLUDES(mutex_);
    Child* pick(bool lend) REQUIRES(mutex_);
    // Whether a caller that found no permit free should start a child rather than wait.
    bool should_start() const REQUIRES(mutex_);
    void take(Child& child, bool lend) REQUIRES(mutex_);
    // Waits for `waiter`'s reply, reading the child's channel while no other caller does.
    CallResult await_reply(Child& child, Waiter& waiter,
                           std::optional<WorkerProcess::Clock::time_point> deadline)
        EXCLUDES(mutex_);
    // Gives a reply line to the call with its job id; a line nobody can claim breaks the child.
    void route(Child& child, std::string line) REQUIRES(mutex_);
    void mark_broken(Child& child) REQUIRES(mutex_);
    // The end of one call or lease on `child`: a broken child leaves once nothing uses it.
    void finish(Child& child) EXCLUDES(mutex_);
    // EOF to every child first, then reaps each: their exits overlap instead of queuing.
    static void close_then_reap(std::vector<std::unique_ptr<Child>>& children);
    // A started child that said READY, or nothing (its place freed, `detail` saying why).
    std::unique_ptr<Child> start_ready(std::string& detail) EXCLUDES(mutex_);
    std::unique_ptr<Child> start_child() EXCLUDES(mutex_);  // its place must already be counted
    bool await_ready(Child& child, std::string& detail) EXCLUDES(mutex_);
    // Records what a child declared, or refuses it (`detail` says why).
    bool accept(const Ready& ready, std::string& detail) EXCLUDES(mutex_);
    void lose_start() EXCLUDES(mutex_);  // a start that failed: its place is free again
    void maintain() EXCLUDES(mutex_);

    const PoolOptions options_;
    mutable Mutex mutex_;
    CondVar changed_;
    std::vector<std::unique_ptr<Child>> children_ GUARDED_BY(mutex_);  // ready ones
    std::size_t size_ GUARDED_BY(mutex_) = 0;         // ready ones and those starting
    std::size_t warm_target_ GUARDED_BY(mutex_) = 0;  // in children
    // Callers starting a child for themselves, and callers waiting for a permit: a caller
    // starts one only while the children starting cannot serve them all at their permits.
    std::size_t callers_starting_ GUARDED_BY(mutex_) = 0;
    std::size_t callers_waiting_ GUARDED_BY(mutex_) = 0;
    bool stopping_ GUARDED_BY(mutex_) = false;
    std::optional<Capabilities> capabilities_ GUARDED_BY(mutex_);
    std::size_t permits_ GUARDED_BY(mutex_) = kDefaultPermits;
    PoolStats counters_ GUARDED_BY(mutex_);
    double start_ms_total_ GUARDED_BY(mutex_) = 0;
    std::size_t start_samples_ GUARDED_BY(mutex_) = 0;
    std::thread maintainer_;  // last: stopped before the state it uses goes away
};

}  // namespace jobs::dispatcher

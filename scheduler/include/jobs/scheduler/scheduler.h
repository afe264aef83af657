#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "jobs/dispatcher/blocking_queue.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/scheduler/completer.h"
#include "jobs/scheduler/coordinator.h"
#include "jobs/scheduler/db_clock.h"
#include "jobs/scheduler/db_thread.h"
#include "jobs/scheduler/options.h"

namespace jobs::scheduler {

// A locked job, due now, on its way to an executor.
struct ReadyTask {
    repo::Job job;
    repo::LockToken token = 0;
    // Handed over early (see SchedulerOptions::start_lead): the task must not begin before
    // this steady time. Empty: due now.
    std::optional<DbClock::Steady::time_point> not_before;
};

using TaskQueue = dispatcher::BlockingQueue<ReadyTask>;

struct SchedulerCounters {
    long long listed = 0, checked = 0, skipped = 0, locked = 0, lost = 0, handed = 0;
    long long done = 0, failed = 0, interrupted = 0;
};

// One instance's scheduling: lists the jobs due within the window about once per window,
// checks then locks each one a random lead before its RunAt, and hands it to the queue at its
// RunAt on the database's clock. Timers run on `io` (one thread); database calls on two
// DbThreads (listing, and checking/locking/reporting failures) and a Completer (recording the
// tasks that ended well, in batches), so no timer waits on the database.
class Scheduler {
  public:
    Scheduler(boost::asio::io_context& io, SchedulerOptions options,
              std::unique_ptr<repo::JobsRepo> list_repo, std::unique_ptr<repo::JobsRepo> lock_repo,
              std::unique_ptr<repo::JobsRepo> complete_repo, TaskQueue::Producer producer,
              std::function<void(std::size_t)> warm_workers);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    void start();
    // On the io thread. Stops listing and forgets unlocked jobs (they stay free for others);
    // locked ones still run at their RunAt. Then the queue closes and `on_drained` is called.
    // A second call only logs.
    void stop(std::function<void()> on_drained);
    // From executor threads: the outcome of a task, recorded in the database.
    void report(const ReadyTask& task, const dispatcher::CallResult& result);
    // After the executors are joined: waits for the outcomes still being written.
    void finish_database_work();
    SchedulerCounters counters() const;

  private:
    enum class Phase { Waiting, Checking, Locked, Done };
    struct Entry {
        Phase phase = Phase::Waiting;
        repo::Job job;
        repo::LockToken token = 0;
        bool owned = false;  // ours by coordination: lock it without a GetJob first
        std::unique_ptr<boost::asio::steady_timer> timer;
    };

    void poll();
    void on_listed(const repo::ReadyJobs& ready, DbClock::Steady::time_point sent,
                   DbClock::Steady::time_point received);
    void look();
    void schedule_next();
    void schedule_poll(DbClock::Steady::time_point at, bool only_look = false);
    void plan(Entry& entry);
    void check(repo::JobId id);
    void interrupt_stale(const repo::Job& job);
    void on_checked(repo::JobId id, bool won, repo::LockToken token);
    void hand_over(repo::JobId id);
    void warm_for(const Entry& entry);
    void maybe_drained();

    boost::asio::io_context& io_;
    const SchedulerOptions options_;
    TaskQueue::Producer producer_;
    std::function<void(std::size_t)> warm_workers_;
    std::function<void()> on_drained_;
    DbClock clock_;
    Coordinator coordinator_;
    std::mt19937_64 rng_;
    boost::asio::steady_timer poll_timer_;
    std::map<repo::JobId, Entry> jobs_;
    bool stopping_ = false;
    int checks_in_flight_ = 0;
    mutable std::mutex counters_mutex_;
    SchedulerCounters counters_;
    DbThread lister_;  // threads last: they stop before the state their work touches
    DbThread locker_;
    Completer completer_;
};

}  // namespace jobs::scheduler

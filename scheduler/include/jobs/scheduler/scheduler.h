#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/scheduler/completer.h"
#include "jobs/scheduler/completion_gather.h"
#include "jobs/scheduler/db_clock.h"
#include "jobs/scheduler/db_lane.h"
#include "jobs/scheduler/event_loop.h"
#include "jobs/scheduler/job_tracker.h"
#include "jobs/scheduler/loop_batch.h"
#include "jobs/scheduler/options.h"
#include "jobs/scheduler/poll_policy.h"
#include "jobs/scheduler/running_tasks.h"
#include "jobs/scheduler/task_sink.h"

namespace jobs::scheduler {

struct SchedulerCounters {
    long long listed = 0, checked = 0, skipped = 0, locked = 0, lost = 0, handed = 0;
    long long held = 0;  // locks skipped because another transaction held the row: tried again
    long long done = 0, failed = 0, interrupted = 0;
    long long renewed = 0, renewals_lost = 0;
    long long unreadable = 0;   // distinct job rows a list could not read, and log rows
    long long undelivered = 0;  // requests no worker received (offered again, or released)
};

// The database lanes of one instance: lists and looks; checks, locks and failures; fencing
// starts; completions (batched by the Completer). Each its own session, so a slow list never
// holds up a lock, and a slow lock never holds up a start that is due.
struct Lanes {
    std::unique_ptr<DbLane> list;
    std::unique_ptr<DbLane> lock;
    std::unique_ptr<DbLane> start;
    std::unique_ptr<DbLane> complete;
};

// One instance's scheduling, a thin shell over its parts: the poll policy says when to list or
// look and which listed jobs to take; the tracker takes each job through its phases; the clock
// turns database times into steady ones; outcome.h reads the workers' replies. The shell sends
// what they decide to the lanes, the timers and the sink. Every handler runs on the loop's
// thread; only report() is called from the executors.
class Scheduler {
  public:
    // Throws std::invalid_argument for options that validate() refuses.
    Scheduler(EventLoop& loop, SchedulerOptions options, const std::string& client_id, Lanes lanes,
              TaskSink& sink, std::uint64_t seed);
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    void start();
    // Loop thread. Stops listing and lets unlocked jobs go (they stay free for others);
    // locked ones still run at their RunAt. Then the sink closes and `on_drained` is called.
    // A second call only logs.
    void stop(std::function<void()> on_drained);
    // From executor threads: the outcome of a task, recorded in the database.
    void report(const ReadyTask& task, const dispatcher::CallResult& result);
    // After the executors are joined: waits for the outcomes still being written.
    void finish_database_work();
    SchedulerCounters counters() const EXCLUDES(counters_mutex_);

  private:
    void list();
    void look();
    void on_listed(repo::ReadyJobs ready, EventLoop::TimePoint sent, EventLoop::TimePoint received);
    // Takes the listed jobs from `from` on, a slice at a time, so the timers due meanwhile
    // run between slices: a list of 24,000 jobs does not hold up a hand-over.
    void admit_listed(std::shared_ptr<const repo::ReadyJobs> ready, std::size_t from,
                      EventLoop::TimePoint sent);
    void schedule(NextPoll next);
    // After a truncated list: the next list before the jobs after its stop are due.
    void continue_after(const repo::ReadyJobs& ready, EventLoop::TimePoint sent);
    // The continuation's moment came: lists if the instance has room (or its slot came).
    void continue_list();
    // Jobs this instance holds that are due, and tasks not yet recorded: work in hand.
    std::size_t backlog() const;
    void schedule_next(EventLoop::TimePoint last_sent);
    void plan(JobTracker::Entry& entry);
    void check(repo::JobId id);
    void send_checks();
    void on_checked(repo::JobId id, bool won, repo::LockToken token);
    void on_held(repo::JobId id);
    void hand_over(repo::JobId id);
    void fence_then_push(ReadyTask task);
    void send_fences();
    void interrupt_stale(const repo::Job& job);
    void note_clock(bool stepped_back);
    void report_unreadable(const std::vector<repo::UnreadableRow>& rows);
    // The job goes to the executors: its run lease is renewed until it is reported.
    void push_running(ReadyTask task);
    void beat();
    // Any thread: the task's outcome is written (or never will be); no more renewals for it.
    void stop_renewing(repo::JobId id);
    // A task no worker received: offered again shortly, or released (it never began).
    void redeliver(const ReadyTask& task, const std::string& detail);
    void release(repo::JobId id, repo::LockToken token, int attempt = 0);
    // Any thread: `again` runs on the loop a moment later (a write whose row was held).
    void after_held(std::function<void()> again);
    // Pushes `task` at `at`; the sink stays open for it meanwhile, even while stopping.
    void push_at(ReadyTask task, EventLoop::TimePoint at);
    void on_renewed(const std::vector<repo::StartRequest>& sent,
                    const std::vector<repo::Renewal>& renewed, EventLoop::TimePoint at);
    // `attempt`: how many times another transaction's hold on the row sent it back.
    void record_failure(repo::JobId id, repo::LockToken token, repo::JobState state,
                        const std::string& message, int attempt = 0);
    void warm_for(const repo::Job& job);
    // Any thread: a task answered; its completion, if any, goes to the Completer with those of
    // the tasks due at the same moment (see CompletionGather).
    void answered(const ReadyTask& task, std::optional<repo::Completion> completion);
    void maybe_drained();
    void count(long long SchedulerCounters::*counter, long long by = 1) EXCLUDES(counters_mutex_);

    EventLoop& loop_;
    const SchedulerOptions options_;
    TaskSink& sink_;
    std::function<void()> on_drained_;
    DbClock clock_;
    std::unique_ptr<PollPolicy> policy_;
    JobTracker tracker_;
    std::mt19937_64 rng_;
    // A job whose lock time came, with what its check needs.
    struct PendingCheck {
        repo::JobId id = 0;
        repo::DbTime db_now;
        bool owned = false;
    };
    // Locks (with their checks) and fencing starts go in batches, one of each on its way.
    LoopBatch<PendingCheck> checks_;
    LoopBatch<ReadyTask> fences_;
    std::optional<EventLoop::TimerId> poll_timer_;
    // The heartbeat: armed while tasks run, one renewal statement on its way at most.
    RunningTasks running_;
    CompletionGather gather_;
    // Unreadable job rows already logged: each is reported once, not at every list.
    std::set<repo::JobId> unreadable_seen_;
    std::map<repo::JobId, int> undelivered_tries_;
    std::optional<EventLoop::TimerId> beat_timer_;
    bool renewing_ = false;
    int held_back_ = 0;  // tasks push_at holds
    EventLoop::TimePoint last_sent_{};
    std::optional<repo::ListStop> last_stop_;  // of our last list, if it was truncated
    // A list that goes on after our truncated one is due then (or sooner, if the policy's is).
    std::optional<EventLoop::TimePoint> continue_at_;
    bool stopping_ = false;
    mutable Mutex counters_mutex_;  // report() runs on the executors
    SchedulerCounters counters_ GUARDED_BY(counters_mutex_);
    // Lanes last: they finish before the state their work touches goes.
    std::unique_ptr<DbLane> lister_;
    std::unique_ptr<DbLane> locker_;
    std::unique_ptr<DbLane> starter_;
    Completer completer_;
};

}  // namespace jobs::scheduler

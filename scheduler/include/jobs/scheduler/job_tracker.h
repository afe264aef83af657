#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/repo/types.h"
#include "jobs/scheduler/event_loop.h"

namespace jobs::scheduler {

// Where a job this instance took stands.
enum class JobPhase {
    Waiting,   // planned: its lock time has not come
    Checking,  // its GetJob and lock (or the lock alone) are on their way
    Locked,    // ours: handed over at RunAt, even while stopping
    Starting,  // handed over, the scheduler's fencing start on its way (plain workers)
    Done,      // handed over, lost, or let go; kept until no list can return it
};

// The jobs an instance took, each through its phases. It decides, and does no I/O: the shell
// (scheduler.h) sends what it decides to the database, the timers and the executors.
class JobTracker {
  public:
    struct Entry {
        JobPhase phase = JobPhase::Waiting;
        repo::Job job;
        repo::LockToken token = 0;
        bool owned = false;  // ours by coordination: locked without a GetJob first
        std::optional<EventLoop::TimerId> timer;
    };

    // What to do with a locked job at RunAt.
    enum class HandOver {
        Push,    // to the executors, its worker writing the fencing start
        Fence,   // the scheduler writes the fencing start first, then pushes
        Refuse,  // not run: it breaks a rule (`refusal` says which); recorded failed
    };
    struct HandOverDecision {
        HandOver kind = HandOver::Push;
        const Entry* entry = nullptr;
        std::string refusal;
    };

    bool knows(repo::JobId id) const { return jobs_.contains(id); }
    // A job a list returned: planned if new, or listed again after it was done with here (its
    // lock lapsed unstarted). Nothing if it is in hand.
    Entry* admit(const repo::Job& job, bool owned);
    // The lock time came: whether to check it now (it still waits and we are not stopping).
    Entry* begin_check(repo::JobId id);
    // The check's answer: the entry, now Locked, when the lock was won.
    Entry* on_checked(repo::JobId id, bool won, repo::LockToken token);
    // A check whose lock found the row held by another transaction: a job we own waits again
    // (for another check) until `now` is more than `patience` past its RunAt; otherwise it is
    // dropped like a lost one (nullptr), and the next list offers it again.
    Entry* on_held(repo::JobId id, repo::DbTime now, std::chrono::milliseconds patience);
    // Its RunAt came (less the start lead). Nothing if it is not ours to hand over (any more).
    std::optional<HandOverDecision> hand_over(repo::JobId id, bool worker_starts_jobs);
    // The scheduler's fencing start answered.
    void on_started(repo::JobId id);

    struct Stopping {
        std::vector<EventLoop::TimerId> cancel;  // the timers of jobs let go
        std::size_t let_go = 0;                  // unlocked: left to the other instances
        std::size_t locked = 0;                  // locked: still run
    };
    // No job is checked from now on; those waiting are let go.
    Stopping stop();
    // Some job is between its check and its hand-over: stopping must wait for it.
    bool busy() const;
    // Drops finished jobs due before `t`: no list returns them any more.
    void forget_done_before(repo::DbTime t);
    // Jobs locked or about to be, due within about `within` of `run_at` (to kCountStep): the
    // workers a burst needs. A range of counts, not a walk of the jobs held: it runs for every
    // job planned or locked.
    std::size_t due_together(repo::DbTime run_at, std::chrono::milliseconds within) const;
    const Entry* find(repo::JobId id) const;
    // Jobs coming (as due_together counts them) due up to `t`: work already due.
    std::size_t coming_before(repo::DbTime t) const;

    // The resolution of due_together.
    static constexpr std::chrono::milliseconds kCountStep{100};

  private:
    // Every change of an entry's phase or ownership goes through here, so `coming_` follows.
    void set(Entry& entry, JobPhase phase);
    void count_coming(const Entry& entry, int delta);

    std::map<repo::JobId, Entry> jobs_;
    // Jobs coming (locked, or ours by coordination and not yet locked), by RunAt / kCountStep.
    std::map<long long, std::size_t> coming_;
    bool stopping_ = false;
};

}  // namespace jobs::scheduler

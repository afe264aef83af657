#include "jobs/scheduler/scheduler.h"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "jobs/common/mutex_lock.h"
#include "jobs/repo/error.h"
#include "jobs/repo/exercise.h"
#include "jobs/repo/storable_text.h"
#include "jobs/scheduler/lock_timing.h"
#include "jobs/scheduler/outcome.h"

namespace jobs::scheduler {

using namespace std::chrono_literals;
using TimePoint = EventLoop::TimePoint;

namespace {

// Finished jobs are kept this many windows after their RunAt: no list can return them later.
constexpr int kForgetAfterWindows = 2;
// Jobs due within this of each other run at about the same moment (tasks of 83 ms overlap
// within it): the pool is warmed for them. Wider, a steady rate would warm workers for seconds
// of tasks at once.
constexpr std::chrono::milliseconds kBurstSpan{100};
// A random first list within this, so instances started together do not list in lockstep.
constexpr int kFirstListSpreadMs = 1'000;
// Listed jobs taken in one go on the loop thread, between which due timers run.
constexpr std::size_t kAdmitSlice = 1'000;
// The heartbeat beats this many times per run lease, and renews each lease once this fraction
// of it has passed: a lease is renewed with at least half of it left.
constexpr int kBeatsPerLease = 6;
constexpr int kRenewAfter = 3;
// An outcome whose row another transaction holds is written again after this, this many times;
// a lock of a job we own whose row is held is tried again after this, while it can run in time.
constexpr std::chrono::milliseconds kHeldRetryDelay{1'000};
constexpr int kMaxHeldRetries = 60;
// A task no worker could take is offered again after this, up to this many deliveries; then the
// job is released for any instance to run.
constexpr std::chrono::milliseconds kRedeliverDelay{1'000};
constexpr int kMaxDeliveries = 3;
// A job no worker could take on this many locks is marked failed.
constexpr int kMaxUndeliveredLocks = 3;
// Unreadable job rows remembered so each is logged once; past this many, all are forgotten.
constexpr std::size_t kMaxUnreadableRemembered = 10'000;
// The most locks or fencing starts one statement carries.
constexpr std::size_t kMaxLockBatch = 256;
// A list that goes on after a truncated one waits, this long at a time, while the instance
// holds more due work than half a list.
constexpr std::chrono::milliseconds kContinueRecheck{100};
// The completions of a burst wait at most this for the burst's last task, then go anyway.
constexpr std::chrono::milliseconds kGatherFor{5};

}  // namespace

Scheduler::Scheduler(EventLoop& loop, SchedulerOptions options, const std::string& client_id,
                     Lanes lanes, TaskSink& sink, std::uint64_t seed)
    : loop_(loop),
      options_(options),
      sink_(sink),
      policy_(make_poll_policy(options, client_id, seed)),
      rng_(seed ^ 0x9e3779b97f4a7c15ULL),
      checks_(kMaxLockBatch),
      fences_(kMaxLockBatch),
      lister_(std::move(lanes.list)),
      locker_(std::move(lanes.lock)),
      starter_(std::move(lanes.start)),
      completer_(std::move(lanes.complete), [this](repo::JobId id) { stop_renewing(id); }) {
    if (const auto error = validate(options_)) throw std::invalid_argument(*error);
}

void Scheduler::start() {
    std::uniform_int_distribution<int> first(0, kFirstListSpreadMs);
    schedule({NextPoll::Kind::List, loop_.now() + std::chrono::milliseconds(first(rng_))});
}

void Scheduler::schedule(NextPoll next) {
    if (stopping_) return;
    if (poll_timer_) loop_.cancel(*poll_timer_);
    poll_timer_ = loop_.at(next.at, [this, kind = next.kind] {
        poll_timer_.reset();
        switch (kind) {
            case NextPoll::Kind::Look:
                look();
                return;
            case NextPoll::Kind::Continue:
                continue_list();
                return;
            case NextPoll::Kind::List:
                list();
                return;
        }
    });
}

void Scheduler::continue_after(const repo::ReadyJobs& ready, TimePoint sent) {
    // A normal list sees jobs window - poll_interval before they are due at the latest.
    continue_at_ =
        std::max(loop_.now(),
                 clock_.steady_at(ready.stop->run_at - (options_.window - options_.poll_interval)));
    spdlog::debug("list truncated at {} rows: the next goes on after job {}", ready.jobs.size(),
                  ready.stop->id);
    schedule_next(sent);
}

void Scheduler::continue_list() {
    if (backlog() * 2 > options_.list_limit) {
        // Meanwhile the policy's looks and slot lists still come (schedule_next takes the
        // earlier), so a peer's death or departure is noticed while a backlog drains.
        continue_at_ = loop_.now() + kContinueRecheck;
        schedule_next(last_sent_);
        return;
    }
    list();
}

std::size_t Scheduler::backlog() const {
    return tracker_.coming_before(clock_.now(loop_.now())) + running_.size();
}

void Scheduler::schedule_next(TimePoint last_sent) {
    const NextPoll planned = policy_->next(clock_, last_sent);
    if (continue_at_ && *continue_at_ < planned.at) {
        schedule({NextPoll::Kind::Continue, *continue_at_});
        return;
    }
    schedule(planned);
}

void Scheduler::list() {
    if (stopping_) return;
    continue_at_.reset();  // any list goes on after the last one; its answer decides again
    const auto history = policy_->history();
    lister_->post([this, history](repo::JobStore& store) {
        const auto sent = loop_.now();
        try {
            auto ready = store.get_ready_jobs(options_.window, history, options_.list_limit);
            const auto received = loop_.now();
            loop_.post([this, ready = std::move(ready), sent, received]() mutable {
                on_listed(std::move(ready), sent, received);
            });
        } catch (const repo::RepoError& e) {
            spdlog::error("listing failed: {}; retrying in {} ms", e.what(),
                          options_.retry_delay.count());
            loop_.post([this] {
                schedule({NextPoll::Kind::List, loop_.now() + options_.retry_delay});
            });
        }
    });
}

void Scheduler::look() {
    if (stopping_) return;
    lister_->post([this](repo::JobStore& store) {
        const auto sent = loop_.now();
        try {
            const repo::ClusterPeek peek = store.peek_lists();
            const auto received = loop_.now();
            loop_.post([this, peek, sent, received] {
                if (stopping_) return;
                note_clock(clock_.add_sample(peek.clock, sent, received));
                if (policy_->on_look(peek)) {
                    spdlog::info("the cluster missed a list or an instance left: listing now");
                    list();
                    return;
                }
                schedule_next(last_sent_);
            });
        } catch (const repo::RepoError& e) {
            spdlog::error("looking at the cluster failed: {}; listing in {} ms", e.what(),
                          options_.retry_delay.count());
            loop_.post([this] {
                schedule({NextPoll::Kind::List, loop_.now() + options_.retry_delay});
            });
        }
    });
}

void Scheduler::on_listed(repo::ReadyJobs ready, TimePoint sent, TimePoint received) {
    if (stopping_) return;
    note_clock(clock_.add_sample(ready.clock, sent, received));
    last_sent_ = sent;
    count(&SchedulerCounters::listed, static_cast<long long>(ready.jobs.size()));
    tracker_.forget_done_before(clock_.now(loop_.now()) - kForgetAfterWindows * options_.window);
    policy_->on_list(ready);
    if (!ready.unreadable.empty()) report_unreadable(ready.unreadable);
    spdlog::debug(
        "listed {} due jobs; {} instances; round trip {} us", ready.jobs.size(),
        policy_->instances(),
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.last_round_trip()).count());
    // Shared: each slice's handler holds it, and a std::function must be copyable.
    admit_listed(std::make_shared<const repo::ReadyJobs>(std::move(ready)), 0, sent);
}

void Scheduler::admit_listed(std::shared_ptr<const repo::ReadyJobs> ready, std::size_t from,
                             TimePoint sent) {
    if (stopping_) return;
    const std::size_t to = std::min(ready->jobs.size(), from + kAdmitSlice);
    for (std::size_t i = from; i < to; ++i) {
        const repo::Job& job = ready->jobs[i];
        if (job.state == repo::JobState::Locked && job.started_at) {
            interrupt_stale(job);
            continue;
        }
        // Another instance's (by the first list that covered it): leave it, unless it is one
        // we let go before and see again.
        if (!policy_->takes(job, ready->db_now) && !tracker_.knows(job.id)) continue;
        JobTracker::Entry* entry = tracker_.admit(job, policy_->locks_without_check());
        if (entry == nullptr) continue;  // in hand already
        plan(*entry);
    }
    if (to < ready->jobs.size()) {
        loop_.post([this, ready = std::move(ready), to, sent] { admit_listed(ready, to, sent); });
        return;
    }
    // A list goes on after a truncated one only with coordination; and without a stop (its
    // last row unreadable) or one that did not move, the next would return the same rows: the
    // normal cadence then, not a list at once.
    const bool goes_on = ready->truncated && ready->stop && policy_->history().count() > 0 &&
                         ready->stop != last_stop_;
    last_stop_ = ready->stop;
    if (goes_on) {
        continue_after(*ready, sent);
        return;
    }
    schedule_next(sent);
}

void Scheduler::plan(JobTracker::Entry& entry) {
    const repo::DbTime now = clock_.now(loop_.now());
    const repo::DbTime check_at = lock_time(entry.job.run_at, now, options_, rng_);
    const repo::JobId id = entry.job.id;
    // Known seconds ahead: start the workers a burst will need now, not at its RunAt.
    if (entry.owned) warm_for(entry.job);
    entry.timer = loop_.at(clock_.steady_at(check_at), [this, id] { check(id); });
}

void Scheduler::check(repo::JobId id) {
    const JobTracker::Entry* entry = tracker_.begin_check(id);
    if (entry == nullptr) return;
    // A lower bound of the database's now: a lease that ended before it has surely ended.
    const repo::DbTime db_now = clock_.now(loop_.now());
    if (checks_.add({id, db_now, entry->owned})) send_checks();
}

void Scheduler::send_checks() {
    std::vector<PendingCheck> batch = checks_.take();
    if (batch.empty()) return;
    locker_->post([this, batch = std::move(batch)](repo::JobStore& store) mutable {
        std::vector<repo::JobId> try_ids;
        for (const PendingCheck& c : batch) {
            if (c.owned) {  // ours by coordination and free when listed
                try_ids.push_back(c.id);
                continue;
            }
            // A one-row read (cost 1) first: a lost race costs a failed lock (cost 10).
            try {
                const auto job = store.get_job(c.id);
                const bool free = job && job->state == repo::JobState::Created;
                const bool abandoned = job && job->state == repo::JobState::Locked &&
                                       !job->started_at && job->lease_until &&
                                       *job->lease_until < c.db_now;
                if (free || abandoned) try_ids.push_back(c.id);
            } catch (const repo::RepoError& e) {
                spdlog::warn("job {}: check failed: {}", c.id, e.what());
            }
        }
        std::vector<std::pair<repo::JobId, repo::LockToken>> won;
        std::vector<repo::JobId> held;
        try {
            const std::vector<repo::Lock> locks =
                try_ids.empty() ? std::vector<repo::Lock>{} : store.acquire_job_locks(try_ids);
            for (std::size_t i = 0; i < locks.size(); ++i) {
                if (locks[i].outcome == repo::LockOutcome::Won)
                    won.emplace_back(try_ids[i], locks[i].token);
                if (locks[i].outcome == repo::LockOutcome::Held) held.push_back(try_ids[i]);
            }
        } catch (const repo::RepoError& e) {
            // Not locked by us (or unknown): another instance, or our next list, will run them.
            spdlog::warn("locking {} jobs failed: {}", try_ids.size(), e.what());
        }
        loop_.post([this, batch = std::move(batch), won = std::move(won), held = std::move(held)] {
            // `won` and `held` keep the batch's order: one pass matches them.
            std::size_t w = 0;
            std::size_t h = 0;
            for (const PendingCheck& c : batch) {
                if (h < held.size() && held[h] == c.id) {
                    ++h;
                    on_held(c.id);
                    continue;
                }
                const bool ours = w < won.size() && won[w].first == c.id;
                on_checked(c.id, ours, ours ? won[w++].second : 0);
            }
            if (checks_.answered()) send_checks();
        });
    });
}

void Scheduler::on_checked(repo::JobId id, bool won, repo::LockToken token) {
    {
        MutexLock lock(counters_mutex_);
        ++counters_.checked;
        ++(won ? counters_.locked : counters_.lost);
    }
    JobTracker::Entry* entry = tracker_.on_checked(id, won, token);
    if (entry == nullptr) {
        maybe_drained();
        return;
    }
    // Locked: it runs at RunAt even if we are stopping, so it is never left locked.
    warm_for(entry->job);
    const auto lead = options_.worker_starts_jobs || options_.worker_waits
                          ? options_.start_lead
                          : std::chrono::milliseconds(0);
    entry->timer =
        loop_.at(clock_.steady_at(entry->job.run_at) - lead, [this, id] { hand_over(id); });
}

void Scheduler::on_held(repo::JobId id) {
    {
        MutexLock lock(counters_mutex_);
        ++counters_.checked;
        ++counters_.held;
    }
    // The holder (a session left open, a rival's statement) may let go at any moment: the
    // job's owner checks again every second rather than wait for the next list, while the job
    // can still run in time. Others drop it, so a held row costs one retry a second, not one
    // per instance.
    JobTracker::Entry* entry =
        tracker_.on_held(id, clock_.now(loop_.now()), repo::kMaxDelayTime - kHeldRetryDelay);
    if (entry == nullptr) {
        maybe_drained();
        return;
    }
    entry->timer = loop_.at(loop_.now() + kHeldRetryDelay, [this, id] { check(id); });
}

void Scheduler::hand_over(repo::JobId id) {
    const auto decision = tracker_.hand_over(id, options_.worker_starts_jobs);
    if (!decision) return;
    const repo::Job& job = decision->entry->job;
    ReadyTask task{job, decision->entry->token, std::nullopt};
    switch (decision->kind) {
        case JobTracker::HandOver::Refuse:
            count(&SchedulerCounters::failed);
            record_failure(job.id, task.token, repo::JobState::Failed, decision->refusal);
            break;
        case JobTracker::HandOver::Fence:
            count(&SchedulerCounters::handed);
            fence_then_push(std::move(task));
            break;
        case JobTracker::HandOver::Push:
            count(&SchedulerCounters::handed);
            task.not_before = clock_.steady_at(job.run_at);
            push_running(std::move(task));
            break;
    }
    maybe_drained();
}

void Scheduler::fence_then_push(ReadyTask task) {
    // A worker that does not fence: the push waits for the start to be won.
    if (fences_.add(std::move(task))) send_fences();
}

void Scheduler::send_fences() {
    std::vector<ReadyTask> batch = fences_.take();
    if (batch.empty()) return;
    starter_->post([this, batch = std::move(batch)](repo::JobStore& store) mutable {
        std::vector<repo::StartRequest> starts;
        starts.reserve(batch.size());
        for (const ReadyTask& t : batch) starts.push_back({t.job.id, t.token});
        repo::StartOutcome out;
        out.started.assign(batch.size(), false);
        const TimePoint sent = loop_.now();
        bool answered = false;
        try {
            out = store.start_locked_jobs(starts);
            answered = true;
        } catch (const repo::RepoError& e) {
            spdlog::warn("cannot start {} jobs: {}", batch.size(), e.what());
        }
        const TimePoint received = loop_.now();
        loop_.post([this, out = std::move(out), batch = std::move(batch), answered, sent,
                    received]() mutable {
            // The statement read the database's clock just before these tasks begin: a clock
            // that stepped back since the last list is caught here, before any task starts.
            if (answered) note_clock(clock_.add_sample(out.clock, sent, received));
            for (std::size_t i = 0; i < batch.size(); ++i) {
                tracker_.on_started(batch[i].job.id);
                if (!out.started[i]) continue;
                const TimePoint due = clock_.steady_at(batch[i].job.run_at);
                if (options_.worker_waits) {
                    batch[i].not_before = due;
                } else if (due > loop_.now()) {
                    push_at(std::move(batch[i]), due);  // a plain worker runs it at once
                    continue;
                }
                push_running(std::move(batch[i]));
            }
            if (fences_.answered()) send_fences();
            maybe_drained();
        });
    });
}

void Scheduler::interrupt_stale(const repo::Job& job) {
    // Started, its run lease long expired, never completed: its instance and worker are gone.
    // It is never started again; it is recorded as interrupted.
    const repo::JobId id = job.id;
    const repo::LockToken token = job.lock_token.value_or(0);
    locker_->post([id, token](repo::JobStore& store) {
        try {
            // Only if its lease is still lapsed: a renewal since the list means it lives.
            if (store.interrupt_lapsed_job(id, token)) {
                spdlog::warn("job {}: marked interrupted (its instance vanished mid-task)", id);
            } else {
                spdlog::info("job {}: not marked interrupted: renewed or ended since the list", id);
            }
        } catch (const repo::RepoError& e) {
            spdlog::info("job {}: not marked interrupted: {}", id, e.what());
        }
    });
}

void Scheduler::note_clock(bool stepped_back) {
    if (!stepped_back) return;
    spdlog::warn(
        "the database's clock stepped back (or drifted more than {} ppm from this "
        "host's): timing from the latest reading alone",
        DbClock::kMaxDriftPpm);
}

void Scheduler::report_unreadable(const std::vector<repo::UnreadableRow>& rows) {
    for (const repo::UnreadableRow& row : rows) {
        if (row.job_id && !unreadable_seen_.insert(*row.job_id).second) continue;
        if (unreadable_seen_.size() > kMaxUnreadableRemembered) unreadable_seen_.clear();
        count(&SchedulerCounters::unreadable);
        if (row.job_id) {
            spdlog::error("job {}: its row cannot be read ({}); skipped until it is repaired",
                          *row.job_id, row.reason);
        } else {
            spdlog::error("a row the list returned cannot be read ({}); skipped", row.reason);
        }
    }
}

void Scheduler::push_running(ReadyTask task) {
    running_.add(task.job.id, task.token, loop_.now());
    gather_.started(task.job.run_at);
    if (!beat_timer_)
        beat_timer_ =
            loop_.at(loop_.now() + options_.run_lease / kBeatsPerLease, [this] { beat(); });
    sink_.push(std::move(task));
}

void Scheduler::beat() {
    beat_timer_.reset();
    if (running_.empty()) return;
    const TimePoint now = loop_.now();
    beat_timer_ = loop_.at(now + options_.run_lease / kBeatsPerLease, [this] { beat(); });
    if (renewing_) return;
    std::vector<repo::StartRequest> due = running_.due(now - options_.run_lease / kRenewAfter);
    if (due.empty()) return;
    renewing_ = true;
    // On the list lane: a renewal has seconds to spare, a lock or a start none.
    lister_->post([this, due = std::move(due), now](repo::JobStore& store) {
        std::vector<repo::Renewal> renewed;
        try {
            renewed = store.renew_run_leases(due);
        } catch (const repo::RepoError& e) {
            spdlog::warn(
                "renewing the run leases of {} running tasks failed: {}; again at the "
                "next beat",
                due.size(), e.what());
        }
        loop_.post(
            [this, due, renewed = std::move(renewed), now] { on_renewed(due, renewed, now); });
    });
}

void Scheduler::on_renewed(const std::vector<repo::StartRequest>& sent,
                           const std::vector<repo::Renewal>& renewed, TimePoint at) {
    renewing_ = false;
    if (renewed.size() != sent.size()) return;  // failed: all still due
    std::vector<repo::JobId> ok;
    for (std::size_t i = 0; i < sent.size(); ++i) {
        const repo::JobId id = sent[i].id;
        if (renewed[i] == repo::Renewal::Renewed) {
            ok.push_back(id);
            continue;
        }
        if (renewed[i] == repo::Renewal::Waiting) continue;  // its worker starts it
        if (renewed[i] == repo::Renewal::Held) {
            spdlog::warn(
                "job {}: its run lease was not renewed: another transaction holds its "
                "row; again at the next beat",
                id);
            continue;
        }
        if (!running_.contains(id)) continue;  // it ended meanwhile
        count(&SchedulerCounters::renewals_lost);
        spdlog::warn(
            "job {}: its run lease could not be renewed: another instance took it for "
            "interrupted; its outcome will be refused",
            id);
        running_.remove(id);
    }
    count(&SchedulerCounters::renewed, static_cast<long long>(ok.size()));
    running_.renewed(ok, at);
}

void Scheduler::warm_for(const repo::Job& job) {
    sink_.warm(tracker_.due_together(job.run_at, kBurstSpan));
}

void Scheduler::stop(std::function<void()> on_drained) {
    if (stopping_) {
        spdlog::info("already stopping: waiting for locked jobs to run");
        return;
    }
    stopping_ = true;
    on_drained_ = std::move(on_drained);
    if (poll_timer_) loop_.cancel(*poll_timer_);
    poll_timer_.reset();
    const JobTracker::Stopping s = tracker_.stop();
    for (const EventLoop::TimerId timer : s.cancel) loop_.cancel(timer);
    if (policy_->announces_leave() && s.let_go > 0) {
        // Jobs that were ours by coordination: tell the others, so they take them over now
        // instead of once overdue. Without such jobs, our missed turns are enough.
        lister_->post([](repo::JobStore& store) {
            try {
                store.leave();
            } catch (const repo::RepoError& e) {
                spdlog::warn("could not announce leaving: {}", e.what());
            }
        });
    }
    spdlog::info("stopping: {} unlocked jobs left to other instances, {} locked jobs still to run",
                 s.let_go, s.locked);
    maybe_drained();
}

void Scheduler::maybe_drained() {
    if (!stopping_ || !on_drained_ || tracker_.busy() || held_back_ > 0) return;
    sink_.close();  // executors finish what is queued and stop
    auto done = std::move(on_drained_);
    on_drained_ = nullptr;
    done();
}

void Scheduler::answered(const ReadyTask& task, std::optional<repo::Completion> completion) {
    CompletionGather::Answer answer = gather_.answered(task.job.run_at, std::move(completion));
    completer_.add(std::move(answer.ready));
    if (!answer.first_held) return;
    loop_.post([this, run_at = task.job.run_at] {
        loop_.at(loop_.now() + kGatherFor,
                 [this, run_at] { completer_.add(gather_.flush(run_at)); });
    });
}

void Scheduler::report(const ReadyTask& task, const dispatcher::CallResult& result) {
    const repo::JobId id = task.job.id;
    const Outcome outcome = classify(id, result);
    if (outcome.kind != Outcome::Kind::Completed) answered(task, std::nullopt);
    // A task whose outcome is still to be written keeps its lease renewed until it is.
    if (outcome.kind != Outcome::Kind::Completed && outcome.kind != Outcome::Kind::Failed &&
        outcome.kind != Outcome::Kind::Interrupted)
        stop_renewing(id);
    switch (outcome.kind) {
        case Outcome::Kind::NotStarted:
            // The lock lapsed (a slow start, the database away): the job stays for whoever
            // takes it over next; nothing to record.
            spdlog::warn("job {}: not started: {}", id, outcome.text);
            count(&SchedulerCounters::skipped);
            return;
        case Outcome::Kind::NotDelivered:
            count(&SchedulerCounters::undelivered);
            loop_.post([this, task, detail = outcome.text] { redeliver(task, detail); });
            return;
        case Outcome::Kind::RecordedByWorker:
            count(&SchedulerCounters::done);
            return;
        case Outcome::Kind::Completed:
            count(&SchedulerCounters::done);
            if (const std::size_t bad = repo::storable_text(outcome.text).replaced; bad > 0) {
                spdlog::warn(
                    "job {}: its result is not text: {} bytes (NUL, or not UTF-8) are "
                    "stored as U+FFFD",
                    id, bad);
            }
            answered(task, repo::Completion{id, task.token, outcome.text});
            return;
        case Outcome::Kind::Failed:
            count(&SchedulerCounters::failed);
            record_failure(id, task.token, repo::JobState::Failed, outcome.text);
            return;
        case Outcome::Kind::Interrupted:
            count(&SchedulerCounters::interrupted);
            record_failure(id, task.token, repo::JobState::Interrupted, outcome.text);
            return;
    }
}

void Scheduler::stop_renewing(repo::JobId id) {
    // The last task ended: no beat is needed, and a stopping instance must not wait for one.
    if (!running_.remove(id)) return;
    loop_.post([this] {
        if (beat_timer_ && running_.empty()) {
            loop_.cancel(*beat_timer_);
            beat_timer_.reset();
        }
    });
}

void Scheduler::redeliver(const ReadyTask& task, const std::string& detail) {
    const repo::JobId id = task.job.id;
    const int tries = ++undelivered_tries_[id];
    if (stopping_ || tries > kMaxDeliveries) {
        undelivered_tries_.erase(id);
        // Locked this many times (by any instance) and never taken by a worker: the workers
        // are broken, not the job; failing it ends a cycle that would last for ever.
        const int locks = task.job.attempts + 1;
        if (!stopping_ && locks >= kMaxUndeliveredLocks) {
            count(&SchedulerCounters::failed);
            record_failure(
                id, task.token, repo::JobState::Failed,
                "no worker could take it (locked " + std::to_string(locks) + " times): " + detail);
            return;
        }
        spdlog::warn("job {}: no worker could take it ({}){}; released for any instance to run", id,
                     detail, stopping_ ? " before the instance stopped" : "");
        release(id, task.token);
        return;
    }
    spdlog::warn("job {}: no worker could take it ({}); again in {} ms", id, detail,
                 kRedeliverDelay.count());
    push_at(task, loop_.now() + kRedeliverDelay);
}

void Scheduler::push_at(ReadyTask task, TimePoint at) {
    ++held_back_;
    loop_.at(at, [this, task = std::move(task)]() mutable {
        --held_back_;
        push_running(std::move(task));
        maybe_drained();
    });
}

void Scheduler::release(repo::JobId id, repo::LockToken token, int attempt) {
    locker_->post([this, id, token, attempt](repo::JobStore& store) {
        try {
            if (!store.release_job(id, token))
                spdlog::info("job {}: not released: its lock is no longer ours", id);
        } catch (const repo::RepoError& e) {
            if (e.kind() != repo::ErrorKind::RowHeld || attempt >= kMaxHeldRetries) {
                // Still locked (and maybe started) by us: its lease lapses, and then it is
                // locked again or, if started, taken for interrupted.
                spdlog::error("job {}: cannot release it: {}", id, e.what());
                return;
            }
            after_held([this, id, token, attempt] { release(id, token, attempt + 1); });
        }
    });
}

void Scheduler::after_held(std::function<void()> again) {
    // From a lane, through the loop's timer: the lane's locks must not wait behind a row
    // someone else holds.
    loop_.post([this, again = std::move(again)]() mutable {
        loop_.at(loop_.now() + kHeldRetryDelay, std::move(again));
    });
}

void Scheduler::record_failure(repo::JobId id, repo::LockToken token, repo::JobState state,
                               const std::string& message, int attempt) {
    if (attempt == 0) spdlog::warn("job {}: {}", id, message);
    locker_->post([this, id, token, state, message, attempt](repo::JobStore& store) {
        try {
            store.fail_locked_job(id, token, state, message);
            stop_renewing(id);
        } catch (const repo::RepoError& e) {
            if (e.kind() != repo::ErrorKind::RowHeld || attempt >= kMaxHeldRetries) {
                spdlog::error("job {}: cannot record its outcome: {}", id, e.what());
                stop_renewing(id);
                return;
            }
            after_held([this, id, token, state, message, attempt] {
                record_failure(id, token, state, message, attempt + 1);
            });
        }
    });
}

void Scheduler::finish_database_work() {
    lister_->finish();
    locker_->finish();
    starter_->finish();
    completer_.add(gather_.flush_all());
    completer_.finish();
}

void Scheduler::count(long long SchedulerCounters::*counter, long long by) {
    MutexLock lock(counters_mutex_);
    counters_.*counter += by;
}

SchedulerCounters Scheduler::counters() const {
    MutexLock lock(counters_mutex_);
    return counters_;
}

}  // namespace jobs::scheduler

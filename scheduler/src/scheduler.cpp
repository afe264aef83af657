#include "jobs/scheduler/scheduler.h"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "jobs/dispatcher/line_protocol.h"
#include "jobs/repo/error.h"
#include "jobs/scheduler/lock_timing.h"

namespace jobs::scheduler {

using Steady = DbClock::Steady;
using namespace std::chrono_literals;

namespace {

CoordinatorOptions coordinator_options(const SchedulerOptions& options) {
    CoordinatorOptions c;
    c.cluster_interval = options.poll_interval;
    c.window = options.window;
    return c;
}

}  // namespace

Scheduler::Scheduler(boost::asio::io_context& io, SchedulerOptions options,
                     std::unique_ptr<repo::JobsRepo> list_repo,
                     std::unique_ptr<repo::JobsRepo> lock_repo,
                     std::unique_ptr<repo::JobsRepo> complete_repo, TaskQueue::Producer producer,
                     std::function<void(std::size_t)> warm_workers)
    : io_(io),
      options_(options),
      producer_(std::move(producer)),
      warm_workers_(std::move(warm_workers)),
      coordinator_(list_repo->client_id(), coordinator_options(options), std::random_device{}()),
      rng_(std::random_device{}()),
      poll_timer_(io),
      lister_(std::move(list_repo)),
      locker_(std::move(lock_repo)),
      completer_(std::move(complete_repo)) {}

Scheduler::~Scheduler() = default;

void Scheduler::start() {
    // A random first moment, so instances started together do not list in lockstep.
    std::uniform_int_distribution<int> first(0, 1000);
    schedule_poll(Steady::now() + std::chrono::milliseconds(first(rng_)));
}

void Scheduler::poll() {
    if (stopping_) return;
    lister_.post([this](repo::JobsRepo& repo) {
        const auto sent = Steady::now();
        try {
            const auto history = options_.coordinate ? coordinator_.history() : 0s;
            auto ready = repo.get_ready_jobs(options_.window, history);
            const auto received = Steady::now();
            boost::asio::post(io_, [this, ready = std::move(ready), sent, received] {
                on_listed(ready, sent, received);
            });
        } catch (const repo::RepoError& e) {
            spdlog::error("listing failed: {}; retrying in {} ms", e.what(),
                          options_.retry_delay.count());
            boost::asio::post(io_, [this] { schedule_poll(Steady::now() + options_.retry_delay); });
        }
    });
}

void Scheduler::look() {
    if (stopping_) return;
    lister_.post([this](repo::JobsRepo& repo) {
        const auto sent = Steady::now();
        try {
            const repo::ClusterPeek peek = repo.peek_lists();
            const auto received = Steady::now();
            boost::asio::post(io_, [this, peek, sent, received] {
                if (stopping_) return;
                clock_.add_sample(peek.clock, sent, received);
                if (coordinator_.on_look(peek)) {
                    spdlog::info("the cluster missed a list or an instance left: listing now");
                    poll();
                    return;
                }
                schedule_next();
            });
        } catch (const repo::RepoError& e) {
            spdlog::error("looking at the cluster failed: {}; listing in {} ms", e.what(),
                          options_.retry_delay.count());
            boost::asio::post(io_, [this] { schedule_poll(Steady::now() + options_.retry_delay); });
        }
    });
}

void Scheduler::schedule_next() {
    const auto look_at = coordinator_.next_look();
    if (look_at && *look_at < coordinator_.next_list()) {
        schedule_poll(clock_.steady_at(*look_at), true);
        return;
    }
    schedule_poll(clock_.steady_at(coordinator_.next_list()));
}

void Scheduler::schedule_poll(Steady::time_point at, bool only_look) {
    if (stopping_) return;
    poll_timer_.expires_at(at);
    poll_timer_.async_wait([this, only_look](const boost::system::error_code& ec) {
        if (ec) return;
        if (only_look) {
            look();
        } else {
            poll();
        }
    });
}

void Scheduler::on_listed(const repo::ReadyJobs& ready, Steady::time_point sent,
                          Steady::time_point received) {
    if (stopping_) return;
    clock_.add_sample(ready.clock, sent, received);
    const repo::DbTime now = clock_.now(Steady::now());
    {
        std::lock_guard lock(counters_mutex_);
        counters_.listed += static_cast<long long>(ready.jobs.size());
    }
    // Forget finished jobs once no list can return them any more.
    std::erase_if(jobs_, [&](const auto& item) {
        return item.second.phase == Phase::Done &&
               item.second.job.run_at < now - 2 * options_.window;
    });
    if (options_.coordinate) coordinator_.on_list(ready.db_now, ready.recent_lists);
    int added = 0;
    for (const auto& job : ready.jobs) {
        if (job.state == static_cast<int>(repo::JobState::Locked) && job.started_at) {
            interrupt_stale(job);
            continue;
        }
        // Another instance's, by the first list that covered it: leave it.
        if (options_.coordinate && !coordinator_.owns(job.run_at, job.create_at, ready.db_now) &&
            !jobs_.contains(job.id))
            continue;
        // New, or listed again after we let it go (its lease expired unstarted): plan it.
        auto [it, inserted] = jobs_.try_emplace(job.id);
        if (!inserted && it->second.phase != Phase::Done) continue;
        it->second.job = job;
        it->second.owned = options_.coordinate;
        plan(it->second);
        ++added;
    }
    spdlog::debug(
        "listed {} due jobs ({} ours); {} instances; round trip {} us", ready.jobs.size(), added,
        coordinator_.instances(),
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.last_round_trip()).count());
    if (options_.coordinate) {
        schedule_next();
    } else {
        schedule_poll(next_poll(sent, options_, rng_));
    }
}

void Scheduler::plan(Entry& entry) {
    const repo::DbTime now = clock_.now(Steady::now());
    const repo::DbTime check_at = lock_time(entry.job.run_at, now, options_, rng_);
    const repo::JobId id = entry.job.id;
    entry.phase = Phase::Waiting;
    entry.timer = std::make_unique<boost::asio::steady_timer>(io_, clock_.steady_at(check_at));
    // Known seconds ahead: start the workers a burst will need now, not at its RunAt.
    if (entry.owned) warm_for(entry);
    entry.timer->async_wait([this, id](const boost::system::error_code& ec) {
        if (!ec) check(id);
    });
}

void Scheduler::interrupt_stale(const repo::Job& job) {
    // Started, its run lease long expired, never completed: its instance and worker are gone.
    // It is never started again; it is recorded as interrupted.
    const repo::JobId id = job.id;
    const repo::LockToken token = job.lock_token.value_or(0);
    locker_.post([id, token](repo::JobsRepo& repo) {
        try {
            repo.fail_locked_job(id, token, repo::JobState::Interrupted,
                                 "started, but its instance stopped before reporting an outcome");
            spdlog::warn("job {}: marked interrupted (its instance vanished mid-task)", id);
        } catch (const repo::RepoError& e) {
            spdlog::info("job {}: not marked interrupted: {}", id, e.what());
        }
    });
}

void Scheduler::check(repo::JobId id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != Phase::Waiting || stopping_) return;
    it->second.phase = Phase::Checking;
    ++checks_in_flight_;
    // A lower bound of the database's now: a lease that ended before it has surely ended.
    const repo::DbTime db_now = clock_.now(Steady::now());
    const bool owned = it->second.owned;
    locker_.post([this, id, db_now, owned](repo::JobsRepo& repo) {
        bool won = false;
        repo::LockToken token = 0;
        try {
            if (owned) {
                // Ours by coordination and free when listed: lock it straight away.
                const repo::Lock lock = repo.acquire_job_lock(id);
                won = lock.outcome == repo::LockOutcome::Won;
                token = lock.token;
                boost::asio::post(io_, [this, id, won, token] { on_checked(id, won, token); });
                return;
            }
            // A one-row read (cost 1) first: a lost race costs a failed lock (cost 10).
            const auto job = repo.get_job(id);
            const bool free = job && job->state == static_cast<int>(repo::JobState::Created);
            const bool abandoned = job && job->state == static_cast<int>(repo::JobState::Locked) &&
                                   !job->started_at && job->lease_until &&
                                   *job->lease_until < db_now;
            if (free || abandoned) {
                const repo::Lock lock = repo.acquire_job_lock(id);
                won = lock.outcome == repo::LockOutcome::Won;
                token = lock.token;
            }
        } catch (const repo::RepoError& e) {
            // Not locked by us (or unknown): another instance, or our next list, will run it.
            spdlog::warn("job {}: check/lock failed: {}", id, e.what());
        }
        boost::asio::post(io_, [this, id, won, token] { on_checked(id, won, token); });
    });
}

void Scheduler::on_checked(repo::JobId id, bool won, repo::LockToken token) {
    --checks_in_flight_;
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Entry& entry = it->second;
    {
        std::lock_guard lock(counters_mutex_);
        ++counters_.checked;
        ++(won ? counters_.locked : counters_.lost);
    }
    if (!won) {
        entry.phase = Phase::Done;
        maybe_drained();
        return;
    }
    // Locked: it runs at RunAt even if we are stopping, so it is never left locked.
    entry.phase = Phase::Locked;
    entry.token = token;
    warm_for(entry);
    const auto lead =
        options_.worker_starts_jobs ? options_.start_lead : std::chrono::milliseconds(0);
    entry.timer->expires_at(clock_.steady_at(entry.job.run_at) - lead);
    entry.timer->async_wait([this, id](const boost::system::error_code&) { hand_over(id); });
}

void Scheduler::hand_over(repo::JobId id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != Phase::Locked) return;
    Entry& entry = it->second;
    entry.phase = Phase::Done;
    if (entry.job.payload && entry.job.payload->size() > repo::kMaxPayloadBytes) {
        // Refused, not run: a worker must never be handed more than the documented limit.
        const ReadyTask task{entry.job, entry.token};
        report(task,
               {dispatcher::CallStatus::StartFailed,
                {},
                "payload of " + std::to_string(entry.job.payload->size()) + " bytes exceeds the " +
                    std::to_string(repo::kMaxPayloadBytes) + " byte limit; not run"});
        maybe_drained();
        return;
    }
    {
        std::lock_guard lock(counters_mutex_);
        ++counters_.handed;
    }
    if (!options_.worker_starts_jobs) {
        // Fencing before an arbitrary worker runs it: the push waits for the start to be won.
        ++checks_in_flight_;
        locker_.post(
            [this, task = ReadyTask{entry.job, entry.token}](repo::JobsRepo& repo) mutable {
                bool started = false;
                try {
                    started = repo.start_locked_job(task.job.id, task.token);
                } catch (const repo::RepoError& e) {
                    spdlog::warn("job {}: cannot start: {}", task.job.id, e.what());
                }
                boost::asio::post(io_, [this, started, task = std::move(task)]() mutable {
                    --checks_in_flight_;
                    if (started) producer_.push(std::move(task));
                    maybe_drained();
                });
            });
        return;
    }
    producer_.push(ReadyTask{entry.job, entry.token, clock_.steady_at(entry.job.run_at)});
    maybe_drained();
}

void Scheduler::warm_for(const Entry& entry) {
    // Jobs locked for about the same moment will need a child each: start them now, not at RunAt.
    std::size_t together = 0;
    for (const auto& [id, other] : jobs_) {
        const bool coming =
            other.phase == Phase::Locked || (other.owned && other.phase != Phase::Done);
        if (coming && other.job.run_at - entry.job.run_at < 1s &&
            entry.job.run_at - other.job.run_at < 1s) {
            ++together;
        }
    }
    warm_workers_(together);
}

void Scheduler::stop(std::function<void()> on_drained) {
    if (stopping_) {
        spdlog::info("already stopping: waiting for locked jobs to run");
        return;
    }
    stopping_ = true;
    on_drained_ = std::move(on_drained);
    poll_timer_.cancel();
    std::size_t forgotten = 0;
    std::size_t locked = 0;
    for (auto& [id, entry] : jobs_) {
        if (entry.phase == Phase::Waiting) {
            entry.timer->cancel();
            entry.phase = Phase::Done;
            ++forgotten;
        } else if (entry.phase == Phase::Locked) {
            ++locked;
        }
    }
    if (options_.coordinate && forgotten > 0) {
        // Jobs that were ours by coordination: tell the others, so they take them over now
        // instead of once overdue. Without such jobs, our missed turns are enough.
        lister_.post([](repo::JobsRepo& repo) {
            try {
                repo.leave();
            } catch (const repo::RepoError& e) {
                spdlog::warn("could not announce leaving: {}", e.what());
            }
        });
    }
    spdlog::info("stopping: {} unlocked jobs left to other instances, {} locked jobs still to run",
                 forgotten, locked);
    maybe_drained();
}

void Scheduler::maybe_drained() {
    if (!stopping_ || !on_drained_ || checks_in_flight_ > 0) return;
    for (const auto& [id, entry] : jobs_) {
        if (entry.phase == Phase::Locked || entry.phase == Phase::Checking) return;
    }
    producer_.reset();  // closes the queue: executors finish what is queued and stop
    auto done = std::move(on_drained_);
    on_drained_ = nullptr;
    done();
}

void Scheduler::report(const ReadyTask& task, const dispatcher::CallResult& result) {
    const repo::JobId id = task.job.id;
    const repo::LockToken token = task.token;
    std::optional<repo::JobState> failure;
    std::string message = result.detail;
    std::optional<std::string> completion;
    switch (result.status) {
        case dispatcher::CallStatus::Replied: {
            const auto reply = dispatcher::parse_reply(result.reply);
            if (!reply || reply->job_id != id) {
                failure = repo::JobState::Failed;
                message = "worker replied with garbage: " + result.reply.substr(0, 200);
            } else if (reply->kind == dispatcher::ReplyKind::Ok) {
                completion = reply->text;
            } else if (reply->kind == dispatcher::ReplyKind::Failed) {
                failure = repo::JobState::Failed;
                message = reply->text;
            } else if (reply->kind == dispatcher::ReplyKind::Skipped) {
                // Not started: the lock lapsed (a slow start, the database away). The job stays
                // for whoever takes it over next; nothing to record.
                spdlog::warn("job {}: not started: {}", id, reply->text);
                std::lock_guard lock(counters_mutex_);
                ++counters_.skipped;
                return;
            }
            break;
        }
        case dispatcher::CallStatus::ChildDied:
            failure = repo::JobState::Interrupted;
            break;
        case dispatcher::CallStatus::TimedOut:
        case dispatcher::CallStatus::StartFailed:
        case dispatcher::CallStatus::Stopped:
            failure = repo::JobState::Failed;
            break;
    }
    {
        std::lock_guard lock(counters_mutex_);
        if (!failure)
            ++counters_.done;
        else if (*failure == repo::JobState::Interrupted)
            ++counters_.interrupted;
        else
            ++counters_.failed;
    }
    if (!failure && !completion) return;  // the worker completed the job itself
    if (!failure) {
        completer_.add({id, token, std::move(completion)});
        return;
    }
    spdlog::warn("job {}: {}", id, message);
    locker_.post([id, token, failure, message](repo::JobsRepo& repo) {
        try {
            repo.fail_locked_job(id, token, *failure, message);
        } catch (const repo::RepoError& e) {
            spdlog::error("job {}: cannot record its outcome: {}", id, e.what());
        }
    });
}

void Scheduler::finish_database_work() {
    lister_.finish();
    locker_.finish();
    completer_.finish();
}

SchedulerCounters Scheduler::counters() const {
    std::lock_guard lock(counters_mutex_);
    return counters_;
}

}  // namespace jobs::scheduler

#include "jobs/scheduler/completer.h"

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

#include "jobs/common/mutex_lock.h"
#include "jobs/repo/error.h"

namespace jobs::scheduler {

namespace {
// Bounds one statement's size (a JSON parameter on PostgreSQL, one transaction on SQLite).
constexpr std::size_t kMaxBatch = 256;
// A completion whose row another transaction holds goes again after this, this many times.
constexpr std::chrono::milliseconds kHeldRetryDelay{250};
constexpr int kMaxHeldTries = 240;
}  // namespace

Completer::Completer(std::unique_ptr<DbLane> lane, std::function<void(repo::JobId)> recorded)
    : recorded_(std::move(recorded)), lane_(std::move(lane)) {}

void Completer::add(repo::Completion completion) {
    std::vector<repo::Completion> one;
    one.push_back(std::move(completion));
    add(std::move(one));
}

void Completer::add(std::vector<repo::Completion> completions) {
    if (completions.empty()) return;
    MutexLock lock(mutex_);
    if (closing_) {
        for (const repo::Completion& c : completions) {
            spdlog::error("job {}: completed after the instance stopped recording; not recorded",
                          c.id);
        }
        return;
    }
    for (repo::Completion& c : completions) pending_.push_back(std::move(c));
    if (in_flight_) return;  // goes with the next batch
    in_flight_ = true;
    // Posted under the lock, so finish() cannot close the lane between the flag and the post.
    lane_->post([this](repo::JobStore& store) { record(store); });
}

void Completer::record(repo::JobStore& store) {
    std::vector<repo::Completion> batch;
    for (;;) {
        {
            MutexLock lock(mutex_);
            if (pending_.empty()) {
                in_flight_ = false;
                return;
            }
            const auto take = static_cast<long>(std::min(pending_.size(), kMaxBatch));
            batch.assign(std::make_move_iterator(pending_.begin()),
                         std::make_move_iterator(pending_.begin() + take));
            pending_.erase(pending_.begin(), pending_.begin() + take);
        }
        retry_held(complete(store, batch));
    }
}

void Completer::retry_held(std::vector<repo::Completion> held) {
    if (held.empty()) return;
    std::vector<repo::Completion> again;
    for (repo::Completion& c : held) {
        if (++held_tries_[c.id] > kMaxHeldTries) {
            spdlog::error(
                "job {}: cannot record its completion: its row stayed held by another "
                "transaction",
                c.id);
            held_tries_.erase(c.id);
            recorded_(c.id);
            continue;
        }
        again.push_back(std::move(c));
    }
    if (again.empty()) return;
    spdlog::warn("{} completions wait: their rows are held by another transaction", again.size());
    // On the lane's thread: completions added meanwhile go in the next batch, with these.
    std::this_thread::sleep_for(kHeldRetryDelay);
    MutexLock lock(mutex_);
    for (repo::Completion& c : again) pending_.push_back(std::move(c));
}

std::vector<repo::Completion> Completer::complete(repo::JobStore& store,
                                                  const std::vector<repo::Completion>& batch) {
    std::vector<repo::Completion> held;
    try {
        const repo::CompletionOutcome outcome = store.complete_locked_jobs(batch);
        for (const repo::JobId id : outcome.refused) {
            spdlog::error("job {}: cannot record its completion: its lock is no longer ours", id);
        }
        for (const repo::Completion& c : batch) {
            if (std::find(outcome.held.begin(), outcome.held.end(), c.id) != outcome.held.end()) {
                held.push_back(c);
                continue;
            }
            if (!held_tries_.empty()) held_tries_.erase(c.id);
            recorded_(c.id);
        }
        return held;
    } catch (const repo::RepoError& e) {
        if (batch.size() == 1 || e.kind() == repo::ErrorKind::Unavailable) {
            spdlog::error("cannot record the completion of {} jobs: {}", batch.size(), e.what());
            for (const repo::Completion& c : batch) recorded_(c.id);
            return held;
        }
        spdlog::warn("recording the completion of {} jobs failed: {}; recording each alone",
                     batch.size(), e.what());
    }
    // One row the database refuses must not take the others with it.
    for (const repo::Completion& c : batch) {
        for (repo::Completion& h : complete(store, {c})) held.push_back(std::move(h));
    }
    return held;
}

void Completer::finish() {
    {
        MutexLock lock(mutex_);
        closing_ = true;
    }
    lane_->finish();
}

}  // namespace jobs::scheduler

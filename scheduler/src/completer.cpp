#include "jobs/scheduler/completer.h"

#include <spdlog/spdlog.h>

#include "jobs/common/mutex_lock.h"
#include "jobs/repo/error.h"

namespace jobs::scheduler {

namespace {
// Bounds one statement's size (a JSON parameter on PostgreSQL, one transaction on SQLite).
constexpr std::size_t kMaxBatch = 256;
}  // namespace

Completer::Completer(std::unique_ptr<DbLane> lane) : lane_(std::move(lane)) {}

void Completer::add(repo::Completion completion) {
    MutexLock lock(mutex_);
    if (closing_) {
        spdlog::error("job {}: completed after the instance stopped recording; not recorded",
                      completion.id);
        return;
    }
    pending_.push_back(std::move(completion));
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
        complete(store, batch);
    }
}

void Completer::complete(repo::JobStore& store, const std::vector<repo::Completion>& batch) {
    try {
        for (const repo::JobId id : store.complete_locked_jobs(batch)) {
            spdlog::error("job {}: cannot record its completion: its lock is no longer ours", id);
        }
        return;
    } catch (const repo::RepoError& e) {
        if (batch.size() == 1 || e.kind() == repo::ErrorKind::Unavailable) {
            spdlog::error("cannot record the completion of {} jobs: {}", batch.size(), e.what());
            return;
        }
        spdlog::warn("recording the completion of {} jobs failed: {}; recording each alone",
                     batch.size(), e.what());
    }
    // One row the database refuses must not take the others with it.
    for (const repo::Completion& c : batch) complete(store, {c});
}

void Completer::finish() {
    {
        MutexLock lock(mutex_);
        closing_ = true;
    }
    lane_->finish();
}

}  // namespace jobs::scheduler

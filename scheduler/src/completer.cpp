#include "jobs/scheduler/completer.h"

#include <spdlog/spdlog.h>

#include "jobs/repo/error.h"

namespace jobs::scheduler {

namespace {
// Bounds one statement's size (a JSON parameter on PostgreSQL, one transaction on SQLite).
constexpr std::size_t kMaxBatch = 256;
}  // namespace

Completer::Completer(std::unique_ptr<repo::JobsRepo> repo)
    : repo_(std::move(repo)), thread_([this] { run(); }) {}

Completer::~Completer() { finish(); }

void Completer::add(repo::Completion completion) {
    {
        std::lock_guard lock(mutex_);
        if (closing_) {
            spdlog::error("job {}: completed after the instance stopped recording; not recorded",
                          completion.id);
            return;
        }
        pending_.push_back(std::move(completion));
    }
    arrived_.notify_one();
}

void Completer::finish() {
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
    }
    arrived_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void Completer::run() {
    std::vector<repo::Completion> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            arrived_.wait(lock, [this] { return closing_ || !pending_.empty(); });
            if (pending_.empty()) return;  // closing, and everything recorded
            const std::size_t take = std::min(pending_.size(), kMaxBatch);
            batch.assign(std::make_move_iterator(pending_.begin()),
                         std::make_move_iterator(pending_.begin() + take));
            pending_.erase(pending_.begin(), pending_.begin() + take);
        }
        try {
            for (const repo::JobId id : repo_->complete_locked_jobs(batch)) {
                spdlog::error("job {}: cannot record its completion: its lock is no longer ours",
                              id);
            }
        } catch (const repo::RepoError& e) {
            spdlog::error("cannot record the completion of {} jobs: {}", batch.size(), e.what());
        }
    }
}

}  // namespace jobs::scheduler

#include "jobs/scheduler/job_tracker.h"

#include "jobs/scheduler/outcome.h"

namespace jobs::scheduler {

JobTracker::Entry* JobTracker::admit(const repo::Job& job, bool owned) {
    auto [it, inserted] = jobs_.try_emplace(job.id);
    if (!inserted && it->second.phase != JobPhase::Done) return nullptr;
    Entry& entry = it->second;
    entry.phase = JobPhase::Waiting;
    entry.job = job;
    entry.token = 0;
    entry.owned = owned;
    entry.timer.reset();
    return &entry;
}

JobTracker::Entry* JobTracker::begin_check(repo::JobId id) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Waiting || stopping_) return nullptr;
    it->second.phase = JobPhase::Checking;
    it->second.timer.reset();
    return &it->second;
}

JobTracker::Entry* JobTracker::on_checked(repo::JobId id, bool won, repo::LockToken token) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Checking) return nullptr;
    Entry& entry = it->second;
    if (!won) {
        entry.phase = JobPhase::Done;
        return nullptr;
    }
    entry.phase = JobPhase::Locked;
    entry.token = token;
    return &entry;
}

std::optional<JobTracker::HandOverDecision> JobTracker::hand_over(repo::JobId id,
                                                                  bool worker_starts_jobs) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Locked) return std::nullopt;
    Entry& entry = it->second;
    entry.timer.reset();
    if (auto why = refusal(entry.job)) {
        entry.phase = JobPhase::Done;
        return HandOverDecision{HandOver::Refuse, &entry, std::move(*why)};
    }
    if (!worker_starts_jobs) {
        entry.phase = JobPhase::Starting;
        return HandOverDecision{HandOver::Fence, &entry, {}};
    }
    entry.phase = JobPhase::Done;
    return HandOverDecision{HandOver::Push, &entry, {}};
}

void JobTracker::on_started(repo::JobId id) {
    const auto it = jobs_.find(id);
    if (it != jobs_.end() && it->second.phase == JobPhase::Starting) {
        it->second.phase = JobPhase::Done;
    }
}

JobTracker::Stopping JobTracker::stop() {
    stopping_ = true;
    Stopping s;
    for (auto& [id, entry] : jobs_) {
        if (entry.phase == JobPhase::Waiting) {
            if (entry.timer) s.cancel.push_back(*entry.timer);
            entry.timer.reset();
            entry.phase = JobPhase::Done;
            ++s.let_go;
        } else if (entry.phase == JobPhase::Locked) {
            ++s.locked;
        }
    }
    return s;
}

bool JobTracker::busy() const {
    for (const auto& [id, entry] : jobs_) {
        if (entry.phase == JobPhase::Checking || entry.phase == JobPhase::Locked ||
            entry.phase == JobPhase::Starting)
            return true;
    }
    return false;
}

void JobTracker::forget_done_before(repo::DbTime t) {
    std::erase_if(jobs_, [&](const auto& item) {
        return item.second.phase == JobPhase::Done && item.second.job.run_at < t;
    });
}

std::size_t JobTracker::due_together(repo::DbTime run_at, std::chrono::milliseconds within) const {
    std::size_t together = 0;
    for (const auto& [id, other] : jobs_) {
        const bool coming =
            other.phase == JobPhase::Locked || (other.owned && (other.phase == JobPhase::Waiting ||
                                                                other.phase == JobPhase::Checking));
        if (coming && other.job.run_at - run_at < within && run_at - other.job.run_at < within) {
            ++together;
        }
    }
    return together;
}

const JobTracker::Entry* JobTracker::find(repo::JobId id) const {
    const auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : &it->second;
}

}  // namespace jobs::scheduler

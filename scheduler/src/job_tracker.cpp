#include "jobs/scheduler/job_tracker.h"

#include "jobs/scheduler/outcome.h"

namespace jobs::scheduler {

namespace {

bool is_coming(const JobTracker::Entry& e) {
    return e.phase == JobPhase::Locked ||
           (e.owned && (e.phase == JobPhase::Waiting || e.phase == JobPhase::Checking));
}

long long step_of(repo::DbTime t) {
    const long long ms = t.time_since_epoch().count();
    const long long step = JobTracker::kCountStep.count();
    return ms >= 0 ? ms / step : -((-ms + step - 1) / step);
}

}  // namespace

void JobTracker::count_coming(const Entry& entry, int delta) {
    if (!is_coming(entry)) return;
    const long long key = step_of(entry.job.run_at);
    if (delta > 0) {
        ++coming_[key];
        return;
    }
    const auto it = coming_.find(key);
    if (it == coming_.end()) return;
    if (--it->second == 0) coming_.erase(it);
}

void JobTracker::set(Entry& entry, JobPhase phase) {
    count_coming(entry, -1);
    entry.phase = phase;
    count_coming(entry, +1);
}

JobTracker::Entry* JobTracker::admit(const repo::Job& job, bool owned) {
    auto [it, inserted] = jobs_.try_emplace(job.id);
    if (!inserted && it->second.phase != JobPhase::Done) return nullptr;
    Entry& entry = it->second;
    entry.phase = JobPhase::Done;  // not counted while its job and owner change
    entry.job = job;
    entry.token = 0;
    entry.owned = owned;
    entry.timer.reset();
    set(entry, JobPhase::Waiting);
    return &entry;
}

JobTracker::Entry* JobTracker::begin_check(repo::JobId id) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Waiting || stopping_) return nullptr;
    set(it->second, JobPhase::Checking);
    it->second.timer.reset();
    return &it->second;
}

JobTracker::Entry* JobTracker::on_checked(repo::JobId id, bool won, repo::LockToken token) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Checking) return nullptr;
    Entry& entry = it->second;
    if (!won) {
        set(entry, JobPhase::Done);
        return nullptr;
    }
    set(entry, JobPhase::Locked);
    entry.token = token;
    return &entry;
}

JobTracker::Entry* JobTracker::on_held(repo::JobId id, repo::DbTime now,
                                       std::chrono::milliseconds patience) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Checking) return nullptr;
    Entry& entry = it->second;
    if (stopping_ || !entry.owned || now > entry.job.run_at + patience) {
        set(entry, JobPhase::Done);
        return nullptr;
    }
    set(entry, JobPhase::Waiting);
    return &entry;
}

std::optional<JobTracker::HandOverDecision> JobTracker::hand_over(repo::JobId id,
                                                                  bool worker_starts_jobs) {
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.phase != JobPhase::Locked) return std::nullopt;
    Entry& entry = it->second;
    entry.timer.reset();
    if (auto why = refusal(entry.job)) {
        set(entry, JobPhase::Done);
        return HandOverDecision{HandOver::Refuse, &entry, std::move(*why)};
    }
    if (!worker_starts_jobs) {
        set(entry, JobPhase::Starting);
        return HandOverDecision{HandOver::Fence, &entry, {}};
    }
    set(entry, JobPhase::Done);
    return HandOverDecision{HandOver::Push, &entry, {}};
}

void JobTracker::on_started(repo::JobId id) {
    const auto it = jobs_.find(id);
    if (it != jobs_.end() && it->second.phase == JobPhase::Starting) {
        set(it->second, JobPhase::Done);
    }
}

JobTracker::Stopping JobTracker::stop() {
    stopping_ = true;
    Stopping s;
    for (auto& [id, entry] : jobs_) {
        if (entry.phase == JobPhase::Waiting) {
            if (entry.timer) s.cancel.push_back(*entry.timer);
            entry.timer.reset();
            set(entry, JobPhase::Done);
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

std::size_t JobTracker::coming_before(repo::DbTime t) const {
    std::size_t due = 0;
    const auto end = coming_.upper_bound(step_of(t));
    for (auto it = coming_.begin(); it != end; ++it) due += it->second;
    return due;
}

std::size_t JobTracker::due_together(repo::DbTime run_at, std::chrono::milliseconds within) const {
    std::size_t together = 0;
    const auto end = coming_.upper_bound(step_of(run_at + within));
    for (auto it = coming_.lower_bound(step_of(run_at - within)); it != end; ++it) {
        together += it->second;
    }
    return together;
}

const JobTracker::Entry* JobTracker::find(repo::JobId id) const {
    const auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : &it->second;
}

}  // namespace jobs::scheduler

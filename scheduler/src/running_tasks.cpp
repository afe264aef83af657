#include "jobs/scheduler/running_tasks.h"

#include "jobs/common/mutex_lock.h"

namespace jobs::scheduler {

void RunningTasks::add(repo::JobId id, repo::LockToken token, TimePoint leased_at) {
    MutexLock lock(mutex_);
    tasks_[id] = Task{token, leased_at};
}

bool RunningTasks::remove(repo::JobId id) {
    MutexLock lock(mutex_);
    tasks_.erase(id);
    return tasks_.empty();
}

bool RunningTasks::contains(repo::JobId id) const {
    MutexLock lock(mutex_);
    return tasks_.contains(id);
}

std::vector<repo::StartRequest> RunningTasks::due(TimePoint written_before) const {
    MutexLock lock(mutex_);
    std::vector<repo::StartRequest> due;
    for (const auto& [id, task] : tasks_) {
        if (task.leased_at <= written_before) due.push_back({id, task.token});
    }
    return due;
}

void RunningTasks::renewed(const std::vector<repo::JobId>& ids, TimePoint at) {
    MutexLock lock(mutex_);
    for (const repo::JobId id : ids) {
        const auto it = tasks_.find(id);
        if (it != tasks_.end()) it->second.leased_at = at;
    }
}

std::size_t RunningTasks::size() const {
    MutexLock lock(mutex_);
    return tasks_.size();
}

bool RunningTasks::empty() const {
    MutexLock lock(mutex_);
    return tasks_.empty();
}

}  // namespace jobs::scheduler

#include "jobs/scheduler/completion_gather.h"

#include "jobs/common/mutex_lock.h"

namespace jobs::scheduler {

void CompletionGather::started(repo::DbTime run_at) {
    MutexLock lock(mutex_);
    ++moments_[run_at].unanswered;
}

CompletionGather::Answer CompletionGather::answered(repo::DbTime run_at,
                                                    std::optional<repo::Completion> completion) {
    MutexLock lock(mutex_);
    Answer answer;
    const auto it = moments_.find(run_at);
    if (it == moments_.end()) {  // flushed already, or never counted
        if (completion) answer.ready.push_back(std::move(*completion));
        return answer;
    }
    Moment& moment = it->second;
    if (moment.unanswered > 0) --moment.unanswered;
    if (moment.unanswered > 0) {
        if (completion) {
            answer.first_held = moment.held.empty();
            moment.held.push_back(std::move(*completion));
        }
        return answer;
    }
    answer.ready = std::move(moment.held);
    if (completion) answer.ready.push_back(std::move(*completion));
    moments_.erase(it);
    return answer;
}

std::vector<repo::Completion> CompletionGather::flush(repo::DbTime run_at) {
    MutexLock lock(mutex_);
    const auto it = moments_.find(run_at);
    if (it == moments_.end()) return {};
    std::vector<repo::Completion> held = std::move(it->second.held);
    moments_.erase(it);
    return held;
}

std::vector<repo::Completion> CompletionGather::flush_all() {
    MutexLock lock(mutex_);
    std::vector<repo::Completion> held;
    for (auto& [run_at, moment] : moments_) {
        for (repo::Completion& c : moment.held) held.push_back(std::move(c));
    }
    moments_.clear();
    return held;
}

}  // namespace jobs::scheduler

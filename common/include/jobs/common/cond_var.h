#pragma once

#include <chrono>
#include <condition_variable>

#include "jobs/common/mutex_lock.h"

namespace jobs {

// std::condition_variable for a MutexLock. There is no wait(lock, predicate): the analysis
// cannot see that a predicate runs with the lock held, so loop on the condition instead:
//     while (!ready_) changed_.wait(lock);
class CondVar {
  public:
    CondVar() = default;
    CondVar(const CondVar&) = delete;
    CondVar& operator=(const CondVar&) = delete;

    // The lock is released while waiting and held again on return, as the analysis assumes.
    void wait(MutexLock& lock) { cv_.wait(lock.lock_); }
    template <typename Rep, typename Period>
    std::cv_status wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& timeout) {
        return cv_.wait_for(lock.lock_, timeout);
    }
    template <typename Clock, typename Duration>
    std::cv_status wait_until(MutexLock& lock,
                              const std::chrono::time_point<Clock, Duration>& deadline) {
        return cv_.wait_until(lock.lock_, deadline);
    }

    void notify_one() noexcept { cv_.notify_one(); }
    void notify_all() noexcept { cv_.notify_all(); }

  private:
    std::condition_variable cv_;
};

}  // namespace jobs

#pragma once

#include <mutex>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"

namespace jobs {

// Holds a Mutex from construction to destruction (std::unique_lock underneath, so a
// CondVar can wait on it). unlock() and lock() let a slow step run outside the lock.
class SCOPED_CAPABILITY MutexLock {
  public:
    explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : lock_(mutex.mutex_) {}
    ~MutexLock() RELEASE() = default;
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

    void lock() ACQUIRE() { lock_.lock(); }
    void unlock() RELEASE() { lock_.unlock(); }

  private:
    friend class CondVar;
    std::unique_lock<std::mutex> lock_;
};

}  // namespace jobs

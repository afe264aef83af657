#pragma once

#include <mutex>

#include "jobs/common/thread_annotations.h"

namespace jobs {

// std::mutex with the annotations clang's -Wthread-safety needs. Same cost: it is one.
class CAPABILITY("mutex") Mutex {
  public:
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock() ACQUIRE() { mutex_.lock(); }
    void unlock() RELEASE() { mutex_.unlock(); }
    bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

  private:
    friend class MutexLock;
    std::mutex mutex_;
};

}  // namespace jobs

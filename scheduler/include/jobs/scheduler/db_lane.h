#pragma once

#include <functional>

#include "jobs/repo/job_store.h"

namespace jobs::scheduler {

// Where the scheduler sends its database calls: one store, its calls run one at a time in the
// order posted, off the loop's thread, so no timer ever waits on the database. The work posts
// its answer back to the loop itself. DbThread is the real one.
class DbLane {
  public:
    virtual ~DbLane() = default;

    // Any thread. Never runs `work` before returning.
    virtual void post(std::function<void(repo::JobStore&)> work) = 0;
    // Runs what was posted (and whatever that posts in turn), then returns; later posts are
    // dropped.
    virtual void finish() = 0;
};

}  // namespace jobs::scheduler

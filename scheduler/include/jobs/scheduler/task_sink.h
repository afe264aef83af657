#pragma once

#include <cstddef>
#include <optional>

#include "jobs/repo/types.h"
#include "jobs/scheduler/event_loop.h"

namespace jobs::scheduler {

// A locked job, due now, on its way to an executor.
struct ReadyTask {
    repo::Job job;
    repo::LockToken token = 0;
    // Handed over early (see SchedulerOptions::start_lead): the task must not begin before
    // this steady time. Empty: due now.
    std::optional<EventLoop::TimePoint> not_before;
};

// Where the scheduler hands its due jobs: the queue to the executors and their process pool.
// QueueSink is the real one; the tests run tasks in virtual time.
class TaskSink {
  public:
    virtual ~TaskSink() = default;

    // Loop thread.
    virtual void push(ReadyTask task) = 0;
    // About `count` tasks are due together soon: have that many workers ready.
    virtual void warm(std::size_t count) = 0;
    // Nothing more will be pushed: executors finish what they hold and stop.
    virtual void close() = 0;
};

}  // namespace jobs::scheduler

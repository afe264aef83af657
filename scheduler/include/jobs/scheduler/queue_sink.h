#pragma once

#include "jobs/dispatcher/blocking_queue.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/scheduler/task_sink.h"

namespace jobs::scheduler {

using TaskQueue = dispatcher::BlockingQueue<ReadyTask>;

// The real sink: the blocking queue the executors take from, and the pool they run tasks in.
// Closing gives up the queue's producer handle, so the queue closes itself.
class QueueSink final : public TaskSink {
  public:
    QueueSink(TaskQueue& queue, dispatcher::ProcessPool& pool)
        : producer_(queue.producer()), pool_(pool) {}

    void push(ReadyTask task) override { producer_.push(std::move(task)); }
    void warm(std::size_t count) override { pool_.warm(count); }
    void close() override { producer_.reset(); }

  private:
    TaskQueue::Producer producer_;
    dispatcher::ProcessPool& pool_;
};

}  // namespace jobs::scheduler

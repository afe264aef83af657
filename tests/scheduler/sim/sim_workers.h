#pragma once

#include <chrono>
#include <map>
#include <vector>

#include "jobs/scheduler/scheduler.h"
#include "jobs/scheduler/task_sink.h"
#include "memory_store.h"
#include "sim_lane.h"

namespace jobs::scheduler::sim {

// Every start of a task, by job, on the database's clock: more than one is a job run twice.
using TaskRuns = std::map<repo::JobId, std::vector<repo::DbTime>>;

// What a simulated worker declares (dispatcher/README.md, capabilities).
enum class SimWorker {
    Fences,  // writes its own START when handed the job, then waits for the moment given
    Timed,   // jobs-worker: fenced by the scheduler, handed the job early, waits for the moment
    Plain,   // fenced by the scheduler at RunAt, runs at once
};

// An instance's executors and pool in virtual time, workers without limit: each task is
// answered as jobs-worker answers it. A fencing worker writes its START (under the instance's
// ClientId) when handed the job, waits for the moment it was given, and runs; the others run at
// the moment given, or at once (the scheduler fenced them). The task lasts `task`. Killing the
// instance kills its workers too: their jobs end interrupted, never run again.
class SimWorkers final : public TaskSink {
  public:
    SimWorkers(VirtualWorld& world, int owner, MemoryDatabase& db, const std::string& client,
               SimWorker kind, LatencyDraw latency, TaskRuns& runs, milliseconds task);

    void attach(Scheduler& scheduler) { scheduler_ = &scheduler; }
    void push(ReadyTask task) override;
    // The next `n` tasks reach no worker: each is answered as a pool that could start none.
    void fail_deliveries(int n) { undeliverable_ = n; }
    void warm(std::size_t count) override { most_warmed_ = std::max(most_warmed_, count); }
    void close() override { closed_ = true; }

    bool closed() const { return closed_; }
    std::size_t most_warmed() const { return most_warmed_; }

  private:
    void run(const ReadyTask& task);
    void answer(const ReadyTask& task, const std::string& line);

    VirtualWorld& world_;
    const int owner_;
    MemoryDatabase& db_;
    MemoryStore store_;
    const SimWorker kind_;
    LatencyDraw latency_;
    TaskRuns& runs_;
    const milliseconds task_;
    Scheduler* scheduler_ = nullptr;
    bool closed_ = false;
    int undeliverable_ = 0;
    std::size_t most_warmed_ = 0;
};

}  // namespace jobs::scheduler::sim

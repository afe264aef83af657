#include "sim_workers.h"

#include "jobs/dispatcher/worker_protocol.h"

namespace jobs::scheduler::sim {

SimWorkers::SimWorkers(VirtualWorld& world, int owner, MemoryDatabase& db,
                       const std::string& client, SimWorker kind, LatencyDraw latency,
                       TaskRuns& runs, milliseconds task)
    : world_(world),
      owner_(owner),
      db_(db),
      store_(db, client),
      kind_(kind),
      latency_(latency),
      runs_(runs),
      task_(task) {}

void SimWorkers::push(ReadyTask task) {
    if (undeliverable_ > 0) {
        --undeliverable_;
        world_.at(world_.now() + latency_.next(), owner_, [this, task] {
            scheduler_->report(
                task, {dispatcher::CallStatus::StartFailed, {}, "no worker could be started"});
        });
        return;
    }
    if (kind_ != SimWorker::Fences) {
        world_.at(task.not_before.value_or(world_.now()), owner_, [this, task] { run(task); });
        return;
    }
    world_.at(world_.now() + latency_.next(), owner_, [this, task] {
        if (!store_.start_locked_jobs({{task.job.id, task.token}}).started.front()) {
            answer(task, dispatcher::format_reply({dispatcher::ReplyKind::Skipped, task.job.id,
                                                   "the lock was lost before the start"}));
            return;
        }
        world_.at(task.not_before.value_or(world_.now()), owner_, [this, task] { run(task); });
    });
}

void SimWorkers::run(const ReadyTask& task) {
    runs_[task.job.id].push_back(db_.now());
    // Tasks begun together end up to 2 ms apart, as real ones do (their processes, the pipes).
    const auto spread = std::chrono::microseconds((task.job.id * 7'919) % 2'000);
    world_.at(world_.now() + task_ + spread, owner_, [this, task] {
        answer(task, dispatcher::format_reply({dispatcher::ReplyKind::Ok, task.job.id, {}}));
    });
}

void SimWorkers::answer(const ReadyTask& task, const std::string& line) {
    // The pool hands the reply over without its line end.
    const std::string reply = line.substr(0, line.find('\n'));
    scheduler_->report(task, {dispatcher::CallStatus::Replied, reply, {}});
}

}  // namespace jobs::scheduler::sim

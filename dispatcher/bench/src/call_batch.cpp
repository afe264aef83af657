#include "jobs/dispatcher/bench/call_batch.h"

#include <algorithm>
#include <optional>
#include <string>

namespace jobs::dispatcher::bench {

std::vector<CallResult> call_batch(ProcessPool& pool, const std::vector<std::string_view>& requests,
                                   std::size_t depth) {
    using Clock = WorkerProcess::Clock;
    std::vector<CallResult> results(requests.size());
    if (requests.empty()) return results;
    auto lease = pool.borrow();
    if (!lease) {
        std::fill(results.begin(), results.end(), lease.failure());
        return results;
    }
    WorkerProcess& child = lease.process();
    const auto task_timeout = pool.options().task_timeout;
    depth = std::max<std::size_t>(depth, 1);
    std::size_t sent = 0;
    std::size_t answered = 0;
    const auto fail_rest = [&](CallStatus held, const std::string& why) {
        for (std::size_t i = answered; i < requests.size(); ++i) {
            results[i] = i < sent
                             ? CallResult{held, {}, why}
                             : CallResult{CallStatus::StartFailed, {}, "not delivered: " + why};
        }
        lease.discard();
    };
    // A send that fails means the child is gone, but replies it wrote before dying may still
    // be waiting in the socket: stop sending and read them before giving up on the rest.
    bool can_send = true;
    while (answered < requests.size()) {
        while (can_send && sent < requests.size() && sent - answered < depth) {
            if (child.send(requests[sent]) != IoStatus::Ok) {
                can_send = false;
                break;
            }
            ++sent;
        }
        if (answered == sent) {
            fail_rest(CallStatus::ChildDied, "worker died during a batch");
            return results;
        }
        std::optional<Clock::time_point> deadline;
        if (task_timeout.count() > 0) deadline = Clock::now() + task_timeout;
        std::string reply;
        const IoStatus status = child.read_line(reply, deadline);
        if (status == IoStatus::Timeout) {
            fail_rest(CallStatus::TimedOut, "task timed out; worker killed");
            return results;
        }
        if (status == IoStatus::Closed) {
            fail_rest(CallStatus::ChildDied, "worker died during a batch");
            return results;
        }
        results[answered++] = {CallStatus::Replied, std::move(reply), {}};
    }
    return results;  // the lease gives the child back
}

}  // namespace jobs::dispatcher::bench

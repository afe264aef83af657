#include "jobs/scheduler/options.h"

#include <string>

#include "jobs/repo/types.h"

namespace jobs::scheduler {

std::optional<std::string> validate(const SchedulerOptions& o) {
    if (o.window <= milliseconds(0)) return "window must be positive";
    if (o.poll_interval <= milliseconds(0) || o.poll_interval >= o.window) {
        return "poll-interval must be positive and below window, or a job could be due before "
               "the next list sees it";
    }
    if (o.poll_jitter < milliseconds(0) || o.poll_jitter >= o.poll_interval) {
        return "poll-jitter must be at least 0 and below poll-interval";
    }
    if (o.lock_lead_min < milliseconds(0) || o.lock_lead_min > o.lock_lead_max) {
        return "lock-lead-min must be at least 0 and at most lock-lead-max";
    }
    if (o.lock_lead_max >= o.window) {
        return "lock-lead-max must be below window, or a job would be locked before it is listed";
    }
    if (o.start_lead < milliseconds(0) || o.start_lead >= o.lock_lead_min) {
        return "start-lead must be at least 0 and below lock-lead-min: a job is handed over only "
               "once locked";
    }
    if (o.run_lease < kMinRunLease) {
        return "run-lease must be at least 1000 ms: it is renewed every third of it";
    }
    if (o.retry_delay <= milliseconds(0)) return "retry-delay must be positive";
    if (o.list_limit > repo::kMaxListLimit) {
        return "list-limit must be at most " + std::to_string(repo::kMaxListLimit);
    }
    return std::nullopt;
}

}  // namespace jobs::scheduler

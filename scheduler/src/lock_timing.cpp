#include "jobs/scheduler/lock_timing.h"

#include <algorithm>

namespace jobs::scheduler {

repo::DbTime lock_time(repo::DbTime run_at, repo::DbTime now, const SchedulerOptions& options,
                       std::mt19937_64& rng) {
    std::uniform_int_distribution<long long> lead(options.lock_lead_min.count(),
                                                  options.lock_lead_max.count());
    return std::max(now, run_at - std::chrono::milliseconds(lead(rng)));
}

std::chrono::steady_clock::time_point next_poll(std::chrono::steady_clock::time_point last_sent,
                                                const SchedulerOptions& options,
                                                std::mt19937_64& rng) {
    std::uniform_int_distribution<long long> jitter(0, options.poll_jitter.count());
    return last_sent + options.poll_interval - std::chrono::milliseconds(jitter(rng));
}

}  // namespace jobs::scheduler

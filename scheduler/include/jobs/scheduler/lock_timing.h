#pragma once

#include <chrono>
#include <random>

#include "jobs/repo/types.h"
#include "jobs/scheduler/options.h"

namespace jobs::scheduler {

// When to check-and-lock a job, on the database's clock: RunAt minus a random lead. A job whose
// lock time has passed (seen late, or already overdue) is checked at once: `now` is returned.
repo::DbTime lock_time(repo::DbTime run_at, repo::DbTime now, const SchedulerOptions& options,
                       std::mt19937_64& rng);

// The time to poll next, on the steady clock, from the moment the last poll was sent.
std::chrono::steady_clock::time_point next_poll(std::chrono::steady_clock::time_point last_sent,
                                                const SchedulerOptions& options,
                                                std::mt19937_64& rng);

}  // namespace jobs::scheduler

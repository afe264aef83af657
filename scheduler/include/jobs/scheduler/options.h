#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace jobs::scheduler {

using std::chrono::milliseconds;

// The shortest run lease: renewed every third of it, one statement per beat.
inline constexpr milliseconds kMinRunLease{1'000};

struct SchedulerOptions {
    // GetReadyJobs lists the jobs due within this window (the exercise's MinPrepareTime).
    milliseconds window{12'000};
    // Time between lists, minus a random jitter up to poll_jitter so instances drift apart.
    // Below window - (the latest lock lead), every job is seen before it must be locked.
    milliseconds poll_interval{9'700};
    milliseconds poll_jitter{500};
    // A job is checked and locked this long before its RunAt, drawn uniformly per job so
    // instances do not collide (the exercise's best: 1 s +- 700 ms).
    milliseconds lock_lead_min{300};
    milliseconds lock_lead_max{1'700};
    // Who writes the fencing start: a worker that declares it does (jobs-worker does, just
    // before its task); for any other worker the scheduler does, before handing the job over.
    bool worker_starts_jobs = true;
    // The worker takes a request early with the moment to begin (capability `timed` or
    // `fences`): the job is then handed over (and, unless the worker fences, its START written
    // by the scheduler in a batch) start_lead before RunAt, so the write is done by then and
    // the task begins at RunAt itself, not a round trip (or, in a burst, a queue of round
    // trips) later. Off: the scheduler fences at RunAt and the task begins when it reaches the
    // worker.
    bool worker_waits = true;
    milliseconds start_lead{50};
    // Share the polling and the jobs out through the database (see coordinator.h). Off: every
    // instance lists every poll_interval and checks each job with GetJob before locking it.
    bool coordinate = true;
    // How long a started task's lease holds (the repository's run lease): the instance renews
    // it for each task still running once a third of it has passed, so only a task whose
    // instance is gone ever outlives it.
    milliseconds run_lease{60'000};
    // The most jobs one list returns (0: all). A list that returns this many covers the jobs up
    // to its last row only; the instance lists again before the rest are due, once the work it
    // holds that is already due is below half of it, so a backlog of any size is worked
    // through a list at a time instead of in one statement that times out.
    std::size_t list_limit = 25'000;
    // After a failed list (database away), try again after this.
    milliseconds retry_delay{1'000};
};

// The one check of a set of options: what is wrong with them, in words a user of the command
// line understands, or nothing. Nothing is clamped or corrected anywhere else.
std::optional<std::string> validate(const SchedulerOptions& options);

}  // namespace jobs::scheduler

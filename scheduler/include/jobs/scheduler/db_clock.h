#pragma once

#include <chrono>
#include <deque>

#include "jobs/repo/types.h"

namespace jobs::scheduler {

// The database's clock, as seen from this host's steady clock. Every sample is a statement that
// read the database's now between `sent` and `received`: the offset (database minus steady)
// is then at least `db_now - received`. The clock keeps the tightest such lower bound of the
// last few samples, so its estimate of the database's time is never ahead of the truth and a
// job timed by it can never start early, whatever the host's wall clock says.
class DbClock {
  public:
    using Steady = std::chrono::steady_clock;

    void add_sample(repo::DbTime db_now, Steady::time_point sent, Steady::time_point received) {
        add_sample(std::chrono::microseconds(db_now.time_since_epoch()), sent, received);
    }
    // The database's time in microseconds since the epoch.
    void add_sample(std::chrono::microseconds db_now, Steady::time_point sent,
                    Steady::time_point received);
    bool ready() const { return !samples_.empty(); }

    // A lower bound of the database's time at steady time `at`.
    repo::DbTime now(Steady::time_point at) const;
    // The first steady time at which the database's clock has surely reached `t`.
    Steady::time_point steady_at(repo::DbTime t) const;
    // The last sample's round trip: how uncertain the bound is.
    std::chrono::nanoseconds last_round_trip() const { return last_round_trip_; }

  private:
    static constexpr std::size_t kSamples = 8;
    std::deque<std::chrono::nanoseconds> samples_;  // db - steady, lower bounds
    std::chrono::nanoseconds offset_{0};
    std::chrono::nanoseconds last_round_trip_{0};
};

}  // namespace jobs::scheduler

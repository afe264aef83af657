#pragma once

#include <chrono>
#include <deque>

#include "jobs/repo/types.h"

namespace jobs::scheduler {

// The database's clock, as seen from this host's steady clock. Every sample is a statement that
// read the database's now between `sent` and `received`: the offset (database minus steady)
// was then at least `db_now - received` and at most `db_now - sent`. The clock keeps the
// tightest lower bound of the last few samples, each loosened with its age by the most the two
// clocks may drift apart (kMaxDriftPpm), so its estimate of the database's time is never ahead
// of the truth and a job timed by it never starts early, whatever the host's wall clock says.
// A sample whose upper bound falls below that estimate shows the database's clock stepped back
// (or drifted faster than allowed): the older samples are dropped and the new one stands alone.
class DbClock {
  public:
    using Steady = std::chrono::steady_clock;

    // The drift allowed between the host's steady clock and the database's clock: 100 ppm,
    // 1 ms every 10 s of a sample's age.
    static constexpr long long kMaxDriftPpm = 100;

    // True when the sample showed the database's clock stepped back (see above).
    bool add_sample(repo::DbTime db_now, Steady::time_point sent, Steady::time_point received) {
        return add_sample(std::chrono::microseconds(db_now.time_since_epoch()), sent, received);
    }
    // The database's time in microseconds since the epoch.
    bool add_sample(std::chrono::microseconds db_now, Steady::time_point sent,
                    Steady::time_point received);
    bool ready() const { return !samples_.empty(); }

    // A lower bound of the database's time at steady time `at`.
    repo::DbTime now(Steady::time_point at) const;
    // The first steady time at which the database's clock has surely reached `t`.
    Steady::time_point steady_at(repo::DbTime t) const;
    // The last sample's round trip: how uncertain the bound is.
    std::chrono::nanoseconds last_round_trip() const { return last_round_trip_; }

  private:
    struct Sample {
        std::chrono::nanoseconds bound;     // db - steady, a lower bound at `received`
        std::chrono::nanoseconds received;  // steady, since its epoch
    };
    // The lower bound of (db - steady) at steady time `at`, from every sample kept.
    std::chrono::nanoseconds offset_at(std::chrono::nanoseconds at) const;

    static constexpr std::size_t kSamples = 8;
    std::deque<Sample> samples_;
    std::chrono::nanoseconds last_round_trip_{0};
};

}  // namespace jobs::scheduler

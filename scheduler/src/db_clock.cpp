#include "jobs/scheduler/db_clock.h"

#include <algorithm>

namespace jobs::scheduler {

using std::chrono::nanoseconds;

void DbClock::add_sample(std::chrono::microseconds db_now, Steady::time_point sent,
                         Steady::time_point received) {
    const nanoseconds bound =
        std::chrono::duration_cast<nanoseconds>(db_now) - received.time_since_epoch();
    samples_.push_back(bound);
    if (samples_.size() > kSamples) samples_.pop_front();
    offset_ = *std::max_element(samples_.begin(), samples_.end());
    last_round_trip_ = received - sent;
}

repo::DbTime DbClock::now(Steady::time_point at) const {
    return std::chrono::floor<std::chrono::milliseconds>(repo::DbTime::clock::time_point{} +
                                                         (at.time_since_epoch() + offset_));
}

DbClock::Steady::time_point DbClock::steady_at(repo::DbTime t) const {
    return Steady::time_point{std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()) -
                              offset_};
}

}  // namespace jobs::scheduler

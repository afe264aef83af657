#include "jobs/scheduler/db_clock.h"

#include <algorithm>

namespace jobs::scheduler {

using std::chrono::nanoseconds;

namespace {

constexpr long long kPerMillion = 1'000'000;
// The database's stamps are floored (to the millisecond on SQLite): an upper bound read from
// one may be this much too low, which is not yet a step back.
constexpr nanoseconds kStampResolution = std::chrono::milliseconds(1);
// About 285 years either side of the epoch: well inside what nanoseconds hold.
constexpr std::chrono::milliseconds kFarMs{9'000'000'000'000};

// How far a bound may have drifted over `age`, rounded up.
nanoseconds drift_over(nanoseconds age) {
    const long long n = age.count() < 0 ? -age.count() : age.count();
    return nanoseconds(n / kPerMillion * DbClock::kMaxDriftPpm +
                       (n % kPerMillion * DbClock::kMaxDriftPpm + kPerMillion - 1) / kPerMillion);
}

}  // namespace

nanoseconds DbClock::offset_at(nanoseconds at) const {
    if (samples_.empty()) return nanoseconds(0);
    nanoseconds best = nanoseconds::min();
    for (const Sample& s : samples_) best = std::max(best, s.bound - drift_over(at - s.received));
    return best;
}

bool DbClock::add_sample(std::chrono::microseconds db_now, Steady::time_point sent,
                         Steady::time_point received) {
    const nanoseconds db = std::chrono::duration_cast<nanoseconds>(db_now);
    const Sample sample{db - received.time_since_epoch(), received.time_since_epoch()};
    const nanoseconds upper = db - sent.time_since_epoch() + kStampResolution;
    const bool stepped_back = !samples_.empty() && upper < offset_at(sample.received);
    if (stepped_back) samples_.clear();
    samples_.push_back(sample);
    if (samples_.size() > kSamples) samples_.pop_front();
    last_round_trip_ = received - sent;
    return stepped_back;
}

repo::DbTime DbClock::now(Steady::time_point at) const {
    const nanoseconds offset = offset_at(at.time_since_epoch());
    return std::chrono::floor<std::chrono::milliseconds>(repo::DbTime::clock::time_point{} +
                                                         (at.time_since_epoch() + offset));
}

DbClock::Steady::time_point DbClock::steady_at(repo::DbTime t) const {
    // For each sample, the first steady s with s + bound - drift(|s - received|) >= t (each
    // such function of s rises, so the earliest over the samples is the answer).
    // Nanoseconds since the epoch hold about ±292 years: a time beyond (a hand-written RunAt
    // of the year 1000) is clamped, and so is long past or far ahead, never wrapped around.
    const auto ms = std::clamp(t.time_since_epoch(), -kFarMs, kFarMs);
    const nanoseconds target = std::chrono::duration_cast<nanoseconds>(ms);
    nanoseconds earliest = nanoseconds::max();
    for (const Sample& s : samples_) {
        // d: how far after `received` the target falls, were there no drift.
        const nanoseconds d = target - s.bound - s.received;
        const long long n = d.count() < 0 ? -d.count() : d.count();
        // After the sample the bound loosens as s runs on: s - received = d / (1 - k); before
        // it, d / (1 + k), k the drift allowed. Rounded up, so the moment named is never early.
        // d / (1 - k) = d + d k / (1 - k); -n / (1 + k) = -n + n k / (1 + k).
        const long long k = kMaxDriftPpm;
        const long long den = d.count() >= 0 ? kPerMillion - k : kPerMillion + k;
        const long long extra = n / den * k + (n % den * k + den - 1) / den;
        earliest = std::min(earliest, s.received + d + nanoseconds(extra));
    }
    if (samples_.empty()) earliest = target;
    return Steady::time_point{earliest};
}

}  // namespace jobs::scheduler

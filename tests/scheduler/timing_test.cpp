#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>

#include "jobs/repo/types.h"
#include "jobs/scheduler/db_clock.h"
#include "jobs/scheduler/lock_timing.h"
#include "jobs/scheduler/options.h"

using namespace jobs::scheduler;
using jobs::repo::DbTime;
using Steady = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using namespace std::chrono_literals;

namespace {

// The database's real clock: this host's steady clock plus a fixed offset, to the nanosecond.
// A query reports it floored to DbTime's milliseconds.
struct TrueDbClock {
    nanoseconds offset;

    std::chrono::sys_time<nanoseconds> at(Steady::time_point s) const {
        return std::chrono::sys_time<nanoseconds>{s.time_since_epoch() + offset};
    }
    DbTime stamp(Steady::time_point s) const { return std::chrono::floor<milliseconds>(at(s)); }
    // The steady moment at which the database's clock reads exactly t.
    Steady::time_point reaches(DbTime t) const {
        return Steady::time_point{duration_cast<nanoseconds>(t.time_since_epoch()) - offset};
    }
};

struct Sample {
    DbTime db_now;
    Steady::time_point sent;
    Steady::time_point received;
};

// A query sent at `sent` that took `round_trip`: the database read its clock somewhere in between.
Sample observe(const TrueDbClock& db, Steady::time_point sent, nanoseconds round_trip,
               std::mt19937_64& rng) {
    std::uniform_int_distribution<long long> where(0, round_trip.count());
    return {db.stamp(sent + nanoseconds(where(rng))), sent, sent + round_trip};
}

// An arbitrary steady epoch (hosts boot at different times) and a database clock in 2025 with
// an offset that is not a whole millisecond.
TrueDbClock random_db(Steady::time_point steady_base, std::mt19937_64& rng) {
    std::uniform_int_distribution<long long> sub_second(0, 999'999'999);
    const nanoseconds db_base = 1'735'732'800s + nanoseconds(sub_second(rng));
    return {db_base - steady_base.time_since_epoch()};
}

const DbTime kNow{milliseconds{1'735'732'800'000}};  // 2025-01-01 12:00:00 UTC

// What DbClock gives up for the drift it allows over `age`: 100 ppm, rounded up.
nanoseconds drift_allowance(nanoseconds age) {
    return nanoseconds(std::abs(age.count()) / 10'000 + 1);
}

}  // namespace

TEST_CASE(
    "the database clock's estimate is never ahead of the truth and lags it by at most the round "
    "trip and the drift it allows for its samples' age") {
    std::mt19937_64 rng(1);
    std::uniform_int_distribution<long long> round_trip_us(50, 50'000);
    std::uniform_int_distribution<long long> pause_ms(0, 2'000);
    std::uniform_int_distribution<long long> probe_ms(-10'000, 60'000);
    long checks = 0;
    long ahead = 0;
    long too_far_behind = 0;
    nanoseconds worst_slack = nanoseconds::min();
    for (int trial = 0; trial < 200; ++trial) {
        const Steady::time_point base{std::chrono::hours(100 + trial)};
        const TrueDbClock db = random_db(base, rng);
        DbClock clock;
        CHECK_FALSE(clock.ready());
        std::deque<nanoseconds> window;           // the round trips of the samples the clock keeps
        std::deque<Steady::time_point> received;  // and when they came back
        Steady::time_point t = base;
        for (int i = 0; i < 30; ++i) {
            const nanoseconds round_trip = std::chrono::microseconds(round_trip_us(rng));
            const Sample s = observe(db, t, round_trip, rng);
            clock.add_sample(s.db_now, s.sent, s.received);
            REQUIRE(clock.ready());
            REQUIRE(clock.last_round_trip() == round_trip);
            window.push_back(round_trip);
            received.push_back(s.received);
            if (window.size() > 8) {
                window.pop_front();
                received.pop_front();
            }
            const nanoseconds best = *std::min_element(window.begin(), window.end());
            for (int probe = 0; probe < 20; ++probe) {
                const Steady::time_point at = s.received + milliseconds(probe_ms(rng));
                const auto truth = db.at(at);
                const auto estimate = clock.now(at);
                ++checks;
                if (estimate > truth) ++ahead;
                // Two floors to milliseconds (the database's stamp, and now()'s result) each
                // lose less than 1 ms on top of the round trip's uncertainty.
                const nanoseconds behind = truth - estimate;
                // The best sample may be the oldest: its bound has loosened with its age.
                const nanoseconds drift = std::max(drift_allowance(at - received.front()),
                                                   drift_allowance(at - received.back()));
                if (behind >= best + 2ms + drift) ++too_far_behind;
                if (behind >= clock.last_round_trip() + 2ms + drift_allowance(at - s.received))
                    ++too_far_behind;
                worst_slack = std::max(worst_slack, behind - best - drift);
            }
            t = s.received + milliseconds(pause_ms(rng));
        }
    }
    CAPTURE(worst_slack.count());
    CHECK(checks == 200 * 30 * 20);
    CHECK(ahead == 0);
    CHECK(too_far_behind == 0);
}

TEST_CASE("steady_at never names a moment before the database's clock really reaches the time") {
    std::mt19937_64 rng(2);
    std::uniform_int_distribution<long long> round_trip_us(50, 50'000);
    std::uniform_int_distribution<long long> target_ms(0, 120'000);
    long early = 0;
    long late = 0;
    long misread = 0;
    for (int trial = 0; trial < 200; ++trial) {
        const Steady::time_point base{std::chrono::hours(7) + std::chrono::minutes(trial)};
        const TrueDbClock db = random_db(base, rng);
        DbClock clock;
        nanoseconds best = nanoseconds::max();
        Steady::time_point t = base;
        const Steady::time_point first = base;
        for (int i = 0; i < 8; ++i) {
            const nanoseconds round_trip = std::chrono::microseconds(round_trip_us(rng));
            const Sample s = observe(db, t, round_trip, rng);
            clock.add_sample(s.db_now, s.sent, s.received);
            best = std::min(best, round_trip);
            t = s.received + 1s;
        }
        for (int probe = 0; probe < 100; ++probe) {
            const DbTime target = db.stamp(t) + milliseconds(target_ms(rng));
            const Steady::time_point start = clock.steady_at(target);
            const Steady::time_point really = db.reaches(target);
            if (start < really) ++early;
            // One floor (the database's stamp), and the drift allowed over the samples' age.
            if (start - really >= best + 1ms + drift_allowance(really - first)) ++late;
            if (clock.now(start) != target) ++misread;  // at that moment the clock reads the target
        }
    }
    CHECK(early == 0);
    CHECK(late == 0);
    CHECK(misread == 0);
}

TEST_CASE("a slow round trip does not loosen the bound that a fast one gave") {
    std::mt19937_64 rng(3);
    const Steady::time_point base{std::chrono::hours(1)};
    const TrueDbClock db = random_db(base, rng);
    DbClock clock;
    const Sample fast = observe(db, base, 200us, rng);
    clock.add_sample(fast.db_now, fast.sent, fast.received);
    const Steady::time_point probe = base + 10s;
    const DbTime after_fast = clock.now(probe);
    const Steady::time_point start_after_fast = clock.steady_at(kNow);

    const Sample slow = observe(db, base + 2s, 800ms, rng);
    clock.add_sample(slow.db_now, slow.sent, slow.received);
    CHECK(clock.last_round_trip() == 800ms);
    CHECK(clock.now(probe) == after_fast);
    CHECK(clock.steady_at(kNow) == start_after_fast);
    CHECK(clock.now(probe) <= db.at(probe));
}

TEST_CASE(
    "a host whose wall clock is 5 s off times jobs exactly like one whose wall clock is right") {
    // DbClock takes no wall time at all: only steady time points and the database's stamps.
    // Two hosts share the database, run the same queries at the same real moments and differ
    // in their wall clocks (5 s fast) and their steady epochs (different boots).
    std::mt19937_64 rng(4);
    std::uniform_int_distribution<long long> round_trip_us(100, 20'000);
    const Steady::time_point base_right{std::chrono::hours(50)};
    const nanoseconds boot_gap = std::chrono::hours(3) + 123'456'789ns;
    const TrueDbClock db = random_db(base_right, rng);
    const TrueDbClock db_seen_from_off{db.offset -
                                       boot_gap};  // the same clock, the other steady epoch

    const auto wall_right = [&](Steady::time_point s) { return db.at(s); };  // a host in sync
    const auto wall_off = [&](Steady::time_point s) { return db_seen_from_off.at(s) + 5s; };

    DbClock right;
    DbClock off;
    DbClock off_again;  // the same host again: the same samples give the same answers
    Steady::time_point t = base_right;
    for (int i = 0; i < 8; ++i) {
        const Sample s = observe(db, t, std::chrono::microseconds(round_trip_us(rng)), rng);
        right.add_sample(s.db_now, s.sent, s.received);
        off.add_sample(s.db_now, s.sent + boot_gap, s.received + boot_gap);
        off_again.add_sample(s.db_now, s.sent + boot_gap, s.received + boot_gap);
        t = s.received + 500ms;
    }
    for (int i = 0; i < 50; ++i) {
        const DbTime target = db.stamp(t) + milliseconds(100 * i);
        const Steady::time_point start_right = right.steady_at(target);
        const Steady::time_point start_off = off.steady_at(target);
        CHECK(start_off == off_again.steady_at(target));
        CHECK(start_off - boot_gap == start_right);            // the same real moment on both hosts
        CHECK(start_off >= db_seen_from_off.reaches(target));  // and never early
        // The wall clocks disagree by 5 s at that moment; a host that trusted its own and
        // started when it read the target would have started 5 s early.
        CHECK(wall_off(start_off) - wall_right(start_right) == 5s);
        const Steady::time_point naive_off = db_seen_from_off.reaches(target) - 5s;
        CHECK(start_off - naive_off >= 5s);
        CHECK(off.now(start_off) == target);
    }
}

TEST_CASE("a job far ahead is locked a random lead before RunAt, within the configured bounds") {
    SchedulerOptions options;  // leads of 300 ms to 1.7 s
    std::mt19937_64 rng(5);
    const DbTime run_at = kNow + 60s;
    DbTime earliest = DbTime::max();
    DbTime latest = DbTime::min();
    long outside = 0;
    for (int i = 0; i < 10'000; ++i) {
        const DbTime at = lock_time(run_at, kNow, options, rng);
        if (at < run_at - options.lock_lead_max || at > run_at - options.lock_lead_min) ++outside;
        earliest = std::min(earliest, at);
        latest = std::max(latest, at);
    }
    CHECK(outside == 0);
    // Uniform over the whole range, not stuck at one end (fixed seed, 10,000 draws).
    CHECK(earliest - (run_at - options.lock_lead_max) < 50ms);
    CHECK((run_at - options.lock_lead_min) - latest < 50ms);
}

TEST_CASE("a job whose lock time has passed, or that is overdue, is locked now") {
    SchedulerOptions options;
    std::mt19937_64 rng(6);
    for (int i = 0; i < 1'000; ++i) {
        CHECK(lock_time(kNow - 5s, kNow, options, rng) == kNow);     // overdue
        CHECK(lock_time(kNow, kNow, options, rng) == kNow);          // due this instant
        CHECK(lock_time(kNow + 100ms, kNow, options, rng) == kNow);  // inside the shortest lead
        CHECK(lock_time(kNow + options.lock_lead_min, kNow, options, rng) ==
              kNow);                                                      // lead just passed
        const DbTime between = lock_time(kNow + 1s, kNow, options, rng);  // some leads passed
        CHECK(between >= kNow);
        CHECK(between <= kNow + 1s - options.lock_lead_min);
    }
}

TEST_CASE("options that cannot work are refused with the reason, never clamped") {
    CHECK_FALSE(validate(SchedulerOptions{}));
    SchedulerOptions upside_down;
    upside_down.lock_lead_min = 800ms;
    upside_down.lock_lead_max = 200ms;
    REQUIRE(validate(upside_down));
    CHECK(validate(upside_down)->find("lock-lead-min") != std::string::npos);
    SchedulerOptions slow;
    slow.poll_interval = slow.window;
    CHECK(validate(slow));
    SchedulerOptions early;
    early.start_lead = early.lock_lead_min;
    CHECK(validate(early));
    SchedulerOptions jumpy;
    jumpy.poll_jitter = jumpy.poll_interval;
    CHECK(validate(jumpy));
}

TEST_CASE("the next poll comes an interval after the last one was sent, less a random jitter") {
    SchedulerOptions options;  // 9 s, less up to 500 ms
    std::mt19937_64 rng(8);
    const Steady::time_point sent{std::chrono::hours(12)};
    Steady::time_point earliest = Steady::time_point::max();
    Steady::time_point latest = Steady::time_point::min();
    long outside = 0;
    for (int i = 0; i < 10'000; ++i) {
        const auto next = next_poll(sent, options, rng);
        if (next < sent + options.poll_interval - options.poll_jitter ||
            next > sent + options.poll_interval)
            ++outside;
        earliest = std::min(earliest, next);
        latest = std::max(latest, next);
    }
    CHECK(outside == 0);
    CHECK(latest - earliest > 400ms);  // the jitter really spreads instances apart

    options.poll_jitter = 0ms;
    CHECK(next_poll(sent, options, rng) == sent + options.poll_interval);
}

TEST_CASE(
    "a database clock that steps back is followed from the next sample on: the bound falls with "
    "it at once, and stays a lower bound") {
    std::mt19937_64 rng(9);
    const Steady::time_point base{std::chrono::hours(3)};
    TrueDbClock db = random_db(base, rng);
    DbClock clock;
    Steady::time_point t = base;
    for (int i = 0; i < 8; ++i) {
        const Sample s = observe(db, t, 300us, rng);
        CHECK_FALSE(clock.add_sample(s.db_now, s.sent, s.received));
        t = s.received + 1s;
    }
    for (const nanoseconds step : {-5'000ms, -10ms, -800ms}) {
        CAPTURE(step.count());
        db.offset += step;
        const Sample s = observe(db, t, 300us, rng);
        CHECK(clock.add_sample(s.db_now, s.sent, s.received));
        for (const auto ahead : {0ms, 10ms, 1'000ms, 30'000ms}) {
            CHECK(clock.now(s.received + ahead) <= db.at(s.received + ahead));
            CHECK(clock.steady_at(db.stamp(s.received + ahead)) >=
                  db.reaches(db.stamp(s.received + ahead)));
        }
        t = s.received + 1s;
    }
    // A step back within one sample's uncertainty (its round trip and the 1 ms of a stamp)
    // cannot be told from noise: the bound may then run ahead by no more than that.
    db.offset -= 500us;
    const Sample small = observe(db, t, 300us, rng);
    clock.add_sample(small.db_now, small.sent, small.received);
    CHECK(clock.now(small.received) - db.at(small.received) < 1ms + 300us);
    t = small.received + 1s;
    // A step forward needs no reset: the newest bound is simply the highest.
    db.offset += 5'000ms;
    const Sample s = observe(db, t, 300us, rng);
    CHECK_FALSE(clock.add_sample(s.db_now, s.sent, s.received));
    CHECK(db.at(s.received) - clock.now(s.received) < 2ms);
}

TEST_CASE("a database clock running 100 ppm slower than the host's never falls behind the bound") {
    std::mt19937_64 rng(10);
    const Steady::time_point base{std::chrono::hours(4)};
    const TrueDbClock db = random_db(base, rng);
    // The database's clock at steady s: db.at(base) + (s - base) * (1 - 100 ppm).
    const auto slow_at = [&](Steady::time_point s) {
        const nanoseconds since = s - base;
        return db.at(base) + since - nanoseconds(since.count() / 10'000);
    };
    DbClock clock;
    long ahead = 0;
    Steady::time_point t = base;
    for (int i = 0; i < 200; ++i) {
        std::uniform_int_distribution<long long> where(0, 300'000);
        const Steady::time_point read = t + nanoseconds(where(rng));
        clock.add_sample(std::chrono::floor<milliseconds>(slow_at(read)), t, t + 300us);
        for (const auto later : {0ms, 5'000ms, 60'000ms}) {
            const Steady::time_point at = t + 300us + later;
            if (clock.now(at) > std::chrono::floor<milliseconds>(slow_at(at))) ++ahead;
        }
        t += 10s;
    }
    CHECK(ahead == 0);
}

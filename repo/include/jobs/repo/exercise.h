#pragma once

#include <chrono>
#include <cstddef>

// The scheduling exercise's numbers (SPEC sections 1, 3 and 5), stated once. scripts/ read the
// durations below from this file: keep each one a "name{milliseconds}" definition.
namespace jobs::repo {

// Every job is inserted at least this long before its RunAt.
inline constexpr std::chrono::milliseconds kMinPrepareTime{10'000};
// Every job starts at most this long after its RunAt.
inline constexpr std::chrono::milliseconds kMaxDelayTime{30'000};
// A payload larger than this is refused (by CreateJob) or not run (by an instance).
inline constexpr std::size_t kMaxPayloadBytes = 64 * 1024;

// The simulated task: one of 5 permits shared by the whole operating-system process, 83 ms.
inline constexpr int kTaskPermitsPerProcess = 5;
inline constexpr std::chrono::milliseconds kTaskLength{83};

// The load. Step 1: one job every 3 s; step 2: a batch of 20 at one RunAt every 13 s; step 3:
// one job every 1000 + rand(0..1999) ms; step 4, live: after the same random pause, a job due
// kLiveNotice later, while now + kMinPrepareTime is before the end of the load.
inline constexpr std::chrono::milliseconds kEveryJobPeriod{3'000};
inline constexpr std::chrono::milliseconds kBatchPeriod{13'000};
inline constexpr int kBatchSize = 20;
inline constexpr std::chrono::milliseconds kRandomGapMin{1'000};
inline constexpr std::chrono::milliseconds kRandomGapSpread{1'999};  // rand(0..1999) ms on top
inline constexpr std::chrono::milliseconds kLiveNotice{10'100};

// The modes. HATEST: each slot waits rand(0..9) s, runs an instance rand(10..29) s, stops it,
// and again. KILL9 (ours): every 10-30 s one instance at random is SIGKILLed and restarted.
inline constexpr std::chrono::milliseconds kHaTestPauseMax{9'000};
inline constexpr std::chrono::milliseconds kHaTestLifeMin{10'000};
inline constexpr std::chrono::milliseconds kHaTestLifeMax{29'000};
inline constexpr std::chrono::milliseconds kKill9GapMin{10'000};
inline constexpr std::chrono::milliseconds kKill9GapMax{30'000};

// After the load ends, a run waits this long (40 s) before it is scored.
inline constexpr std::chrono::milliseconds kScoreTail = kMaxDelayTime + kMinPrepareTime;

}  // namespace jobs::repo

#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "jobs/common/mutex.h"
#include "jobs/common/thread_annotations.h"
#include "jobs/repo/jobs_repo.h"
#include "jobs/repo/types.h"

namespace jobs::harness {

// The throughput profile: `rate` jobs a second with RunAt spread evenly over [since, until),
// inserted live a notice ahead in batches, as a busy application would; and `burst` jobs more,
// all at `since`, inserted at the start.
struct RateProfile {
    repo::DbTime since;
    repo::DbTime until;
    double rate = 0;
    long long burst = 0;
};

// The steady jobs' RunAt in [from, to): the i-th is at since + i / rate.
std::vector<repo::DbTime> rate_run_ats(const RateProfile& profile, repo::DbTime from,
                                       repo::DbTime to);
// How many steady jobs the profile holds.
long long rate_jobs(const RateProfile& profile);

// Inserts the steady jobs, on a thread and session of its own, each kRateNotice before its
// RunAt, every kRateFeedEvery, at most repo::kMaxCreateBatch a statement.
class RateFeeder {
  public:
    static constexpr std::chrono::milliseconds kRateNotice{15'000};
    static constexpr std::chrono::milliseconds kRateFeedEvery{100};

    RateFeeder(repo::RepoOptions options, RateProfile profile);
    ~RateFeeder();
    RateFeeder(const RateFeeder&) = delete;
    RateFeeder& operator=(const RateFeeder&) = delete;
    void join();
    long long created() const { return created_; }

  private:
    void loop();

    repo::JobsRepo repo_;
    const RateProfile profile_;
    std::atomic<long long> created_{0};
    std::thread thread_;  // last
};

// Samples the database's connections by application_name (jobs-scheduler sets it to its
// ClientId, and its workers inherit it) and keeps the most seen at once.
class ConnectionSampler {
  public:
    static constexpr std::chrono::milliseconds kEvery{500};

    ConnectionSampler(repo::RepoOptions options, std::string prefix);
    ~ConnectionSampler();
    ConnectionSampler(const ConnectionSampler&) = delete;
    ConnectionSampler& operator=(const ConnectionSampler&) = delete;
    void stop();
    // The most connections any one instance held at once, and all instances together.
    long long most_per_instance() const EXCLUDES(mutex_);
    long long most_in_all() const EXCLUDES(mutex_);

  private:
    void loop() EXCLUDES(mutex_);

    repo::JobsRepo repo_;
    const std::string prefix_;
    mutable Mutex mutex_;
    long long per_instance_ GUARDED_BY(mutex_) = 0;
    long long in_all_ GUARDED_BY(mutex_) = 0;
    std::atomic<bool> stopping_{false};
    std::thread thread_;  // last
};

}  // namespace jobs::harness

#include "jobs/harness/rate_load.h"

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "jobs/common/mutex_lock.h"
#include "jobs/repo/error.h"

namespace jobs::harness {

namespace {

using Steady = std::chrono::steady_clock;

// The index of the first steady job at or after `t`.
long long first_at_or_after(const RateProfile& p, repo::DbTime t) {
    if (t <= p.since) return 0;
    const double seconds = std::chrono::duration<double>(t - p.since).count();
    return static_cast<long long>(std::ceil(seconds * p.rate - 1e-9));
}

repo::DbTime steady_run_at(const RateProfile& p, long long i) {
    return p.since + std::chrono::milliseconds(static_cast<long long>(
                         std::floor(static_cast<double>(i) * 1000.0 / p.rate)));
}

}  // namespace

long long rate_jobs(const RateProfile& profile) {
    if (profile.rate <= 0) return 0;
    return first_at_or_after(profile, profile.until);
}

std::vector<repo::DbTime> rate_run_ats(const RateProfile& profile, repo::DbTime from,
                                       repo::DbTime to) {
    std::vector<repo::DbTime> out;
    if (profile.rate <= 0) return out;
    const long long last = std::min(first_at_or_after(profile, to), rate_jobs(profile));
    for (long long i = first_at_or_after(profile, from); i < last; ++i)
        out.push_back(steady_run_at(profile, i));
    return out;
}

RateFeeder::RateFeeder(repo::RepoOptions options, RateProfile profile)
    : repo_(std::move(options)), profile_(profile), thread_([this] { loop(); }) {}

RateFeeder::~RateFeeder() { join(); }

void RateFeeder::join() {
    if (thread_.joinable()) thread_.join();
}

void RateFeeder::loop() {
    if (profile_.rate <= 0) return;
    // The database's time read once, then followed on this host's steady clock: no statement
    // a tick but the inserts.
    repo::DbTime db_start;
    try {
        db_start = repo_.db_now();
    } catch (const repo::RepoError& e) {
        spdlog::error("rate load: {}", e.what());
        return;
    }
    const auto steady_start = Steady::now();
    repo::DbTime fed_to = profile_.since;
    auto next = steady_start;
    while (fed_to < profile_.until) {
        std::this_thread::sleep_until(next);
        next += kRateFeedEvery;
        const repo::DbTime now = db_start + std::chrono::duration_cast<std::chrono::milliseconds>(
                                                Steady::now() - steady_start);
        const repo::DbTime horizon = std::min(now + kRateNotice, profile_.until);
        if (horizon <= fed_to) continue;
        try {
            const std::vector<repo::DbTime> due = rate_run_ats(profile_, fed_to, horizon);
            for (std::size_t i = 0; i < due.size(); i += repo::kMaxCreateBatch) {
                const auto end = std::min(due.size(), i + repo::kMaxCreateBatch);
                repo_.create_jobs(
                    {due.begin() + static_cast<long>(i), due.begin() + static_cast<long>(end)});
                created_ += static_cast<long long>(end - i);
            }
            fed_to = horizon;
        } catch (const repo::RepoError& e) {
            spdlog::error("rate load: {}", e.what());
        }
    }
}

ConnectionSampler::ConnectionSampler(repo::RepoOptions options, std::string prefix)
    : repo_(std::move(options)), prefix_(std::move(prefix)), thread_([this] { loop(); }) {}

ConnectionSampler::~ConnectionSampler() { stop(); }

void ConnectionSampler::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

long long ConnectionSampler::most_per_instance() const {
    MutexLock lock(mutex_);
    return per_instance_;
}

long long ConnectionSampler::most_in_all() const {
    MutexLock lock(mutex_);
    return in_all_;
}

void ConnectionSampler::loop() {
    while (!stopping_) {
        try {
            long long all = 0, most = 0;
            for (const auto& [name, count] : repo_.connections()) {
                if (name.rfind(prefix_, 0) != 0) continue;
                all += count;
                most = std::max(most, count);
            }
            MutexLock lock(mutex_);
            per_instance_ = std::max(per_instance_, most);
            in_all_ = std::max(in_all_, all);
        } catch (const repo::RepoError& e) {
            spdlog::warn("counting connections: {}", e.what());
        }
        std::this_thread::sleep_for(kEvery);
    }
}

}  // namespace jobs::harness

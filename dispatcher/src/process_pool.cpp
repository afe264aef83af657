#include "jobs/dispatcher/process_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

#include "jobs/common/mutex_lock.h"

namespace jobs::dispatcher {

using Clock = WorkerProcess::Clock;

namespace {

// Children tried for one call, or by await_capabilities(), before giving up.
constexpr int kStartAttempts = 3;

}  // namespace

ProcessPool::Lease::Lease(ProcessPool& pool, std::unique_ptr<Child> child, CallResult failure)
    : pool_(&pool), child_(std::move(child)), failure_(std::move(failure)) {}

ProcessPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), child_(std::move(other.child_)), failure_(std::move(other.failure_)) {}

ProcessPool::Lease::~Lease() {
    if (child_) pool_->release(std::move(child_));
}

WorkerProcess& ProcessPool::Lease::process() const { return *child_->process; }

void ProcessPool::Lease::discard() {
    if (child_) pool_->discard(std::move(child_));
}

ProcessPool::ProcessPool(PoolOptions options) : options_(std::move(options)) {
    if (options_.max_size == 0 || options_.min_size > options_.max_size) {
        throw std::invalid_argument(
            "process pool: need 0 <= min_size <= max_size and max_size > 0");
    }
    maintainer_ = std::thread([this] { maintain(); });
}

ProcessPool::~ProcessPool() { drain(); }

std::unique_ptr<ProcessPool::Child> ProcessPool::start_child() {
    auto child = std::make_unique<Child>();
    child->process = std::make_unique<WorkerProcess>(options_.child);
    MutexLock lock(mutex_);
    ++counters_.started;
    return child;
}

bool ProcessPool::await_ready(Child& child, std::string& detail) {
    if (child.ready) return true;
    std::string line;
    const auto status = child.process->read_line(line, Clock::now() + options_.start_timeout);
    if (status != IoStatus::Ok) {
        detail = status == IoStatus::Timeout ? "worker did not become ready in time"
                                             : "worker exited at start";
        return false;
    }
    const auto ready = parse_ready(line, detail);
    if (!ready || !accept_capabilities(ready->capabilities, detail)) return false;
    child.ready = true;
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - child.process->started_at())
            .count();
    MutexLock lock(mutex_);
    start_ms_total_ += ms;
    ++start_samples_;
    return true;
}

bool ProcessPool::accept_capabilities(Capabilities declared, std::string& detail) {
    MutexLock lock(mutex_);
    if (!capabilities_) {
        capabilities_ = declared;
        changed_.notify_all();  // await_capabilities() may be waiting for this
        return true;
    }
    if (*capabilities_ == declared) return true;
    detail = "worker declares capabilities '" + describe(declared) +
             "', unlike the pool's other workers ('" + describe(*capabilities_) + "')";
    return false;
}

std::optional<Capabilities> ProcessPool::capabilities() const {
    MutexLock lock(mutex_);
    return capabilities_;
}

Capabilities ProcessPool::await_capabilities() {
    MutexLock lock(mutex_);
    const std::size_t lost_before = counters_.lost;
    for (;;) {
        if (capabilities_) return *capabilities_;
        if (stopping_ || counters_.lost >= lost_before + kStartAttempts) break;
        // Nothing alive or starting: the maintainer starts one, which retires like a warmed one.
        if (size_ == 0) {
            warm_target_ = std::max<std::size_t>(warm_target_, 1);
            changed_.notify_all();
        }
        changed_.wait(lock);
    }
    spdlog::warn("process pool: no worker became ready; taking its workers to be plain");
    capabilities_ = Capabilities{};
    return *capabilities_;
}

std::unique_ptr<ProcessPool::Child> ProcessPool::acquire() {
    MutexLock lock(mutex_);
    for (;;) {
        if (stopping_) return nullptr;
        if (!idle_.empty()) {
            auto child = std::move(idle_.back());
            idle_.pop_back();
            return child;
        }
        if (size_ < options_.max_size) {
            ++size_;  // the place is taken before the slow start, so no race overshoots max
            lock.unlock();
            try {
                return start_child();
            } catch (const std::system_error& e) {
                spdlog::error("process pool: cannot start a worker: {}", e.what());
                lock.lock();
                --size_;
                ++counters_.lost;
                changed_.notify_all();
                return nullptr;
            }
        }
        changed_.wait(lock);
    }
}

void ProcessPool::release(std::unique_ptr<Child> child) {
    child->last_used = Clock::now();
    MutexLock lock(mutex_);
    idle_.push_back(std::move(child));
    changed_.notify_all();
}

void ProcessPool::discard(std::unique_ptr<Child> child) {
    child->process->kill_now();
    child.reset();  // reaps
    MutexLock lock(mutex_);
    --size_;
    ++counters_.lost;
    changed_.notify_all();  // the maintainer restores min_size; a waiting caller may start one
}

CallResult ProcessPool::call(std::string_view request) {
    CallResult failure;
    // A child that fails before the request is delivered costs nothing: try another.
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        auto child = acquire_ready(failure);
        if (!child) return failure;
        if (child->process->send(request) != IoStatus::Ok) {
            failure = {CallStatus::StartFailed, {}, "worker had exited"};
            discard(std::move(child));
            continue;
        }
        std::optional<Clock::time_point> deadline;
        if (options_.task_timeout.count() > 0) deadline = Clock::now() + options_.task_timeout;
        std::string reply;
        switch (child->process->read_line(reply, deadline)) {
            case IoStatus::Ok:
                release(std::move(child));
                return {CallStatus::Replied, std::move(reply), {}};
            case IoStatus::Timeout: {
                const auto pid = child->process->pid();
                discard(std::move(child));
                return {CallStatus::TimedOut,
                        {},
                        "task timed out after " + std::to_string(options_.task_timeout.count()) +
                            " ms; worker " + std::to_string(pid) + " killed"};
            }
            case IoStatus::Closed: {
                const auto pid = child->process->pid();
                discard(std::move(child));
                return {CallStatus::ChildDied,
                        {},
                        "worker " + std::to_string(pid) + " died while running the task"};
            }
        }
    }
    return failure;
}

ProcessPool::Lease ProcessPool::borrow() {
    CallResult failure;
    auto child = acquire_ready(failure);
    return Lease(*this, std::move(child), std::move(failure));
}

std::unique_ptr<ProcessPool::Child> ProcessPool::acquire_ready(CallResult& result) {
    result = {CallStatus::StartFailed, {}, "no worker could be started"};
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        auto child = acquire();
        if (!child) {
            MutexLock lock(mutex_);
            if (stopping_) {
                result = {CallStatus::Stopped, {}, "the pool is draining"};
                return nullptr;
            }
            continue;
        }
        if (!await_ready(*child, result.detail)) {
            spdlog::warn("process pool: worker {}: {}", child->process->pid(), result.detail);
            discard(std::move(child));
            continue;
        }
        return child;
    }
    return nullptr;
}

void ProcessPool::close_then_reap(std::vector<std::unique_ptr<Child>>& children) {
    for (auto& child : children) child->process->close_input();
    children.clear();
}

void ProcessPool::warm(std::size_t count) {
    MutexLock lock(mutex_);
    warm_target_ = std::max(warm_target_, std::min(count, options_.max_size));
    changed_.notify_all();
}

void ProcessPool::maintain() {
    MutexLock lock(mutex_);
    while (!stopping_) {
        // Retire idle children beyond the minimum that have rested too long, and drop idle
        // children that died or wrote unasked.
        const auto now = Clock::now();
        std::vector<std::unique_ptr<Child>> leaving;
        for (auto it = idle_.begin(); it != idle_.end();) {
            const bool broken = (*it)->process->hung_up_or_chatty();
            const bool surplus =
                size_ - leaving.size() > std::max(options_.min_size, warm_target_) &&
                now - (*it)->last_used > options_.idle_timeout;
            if (broken || surplus) {
                if (broken)
                    ++counters_.lost;
                else
                    ++counters_.retired;
                leaving.push_back(std::move(*it));
                it = idle_.erase(it);
            } else {
                ++it;
            }
        }
        size_ -= leaving.size();
        const std::size_t target = std::max(options_.min_size, warm_target_);
        const std::size_t missing = size_ < target ? target - size_ : 0;
        size_ += missing;
        warm_target_ = 0;
        lock.unlock();
        close_then_reap(leaving);  // outside the lock
        // Start them all, then wait for each: the starts overlap instead of queuing.
        std::vector<std::unique_ptr<Child>> starting;
        for (std::size_t i = 0; i < missing; ++i) {
            try {
                starting.push_back(start_child());
            } catch (const std::system_error& e) {
                spdlog::error("process pool: cannot start a worker: {}", e.what());
                starting.push_back(nullptr);
            }
        }
        for (auto& child : starting) {
            std::string detail;
            if (child && await_ready(*child, detail)) {
                release(std::move(child));
                continue;
            }
            if (child) spdlog::warn("process pool: worker {}: {}", child->process->pid(), detail);
            child.reset();
            MutexLock relock(mutex_);
            --size_;
            ++counters_.lost;
            changed_.notify_all();  // a caller may be waiting for the place this start held
        }
        lock.lock();
        if (stopping_) break;
        changed_.wait_for(lock, std::chrono::milliseconds(500));
    }
}

void ProcessPool::drain() {
    {
        MutexLock lock(mutex_);
        if (stopping_ && !maintainer_.joinable()) return;
        stopping_ = true;
        changed_.notify_all();
    }
    if (maintainer_.joinable()) maintainer_.join();
    std::vector<std::unique_ptr<Child>> children;
    {
        MutexLock lock(mutex_);
        // Running calls finish first: their children come back to idle_.
        while (idle_.size() != size_) changed_.wait(lock);
        children = std::move(idle_);
        idle_.clear();
        size_ = 0;
    }
    close_then_reap(children);
}

PoolStats ProcessPool::stats() const {
    MutexLock lock(mutex_);
    PoolStats s = counters_;
    s.size = size_;
    s.idle = idle_.size();
    s.average_start_ms =
        start_samples_ == 0 ? 0 : start_ms_total_ / static_cast<double>(start_samples_);
    return s;
}

}  // namespace jobs::dispatcher

#include "jobs/dispatcher/process_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

#include "jobs/dispatcher/line_protocol.h"

namespace jobs::dispatcher {

using Clock = WorkerProcess::Clock;

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
    std::lock_guard lock(mutex_);
    ++counters_.started;
    return child;
}

bool ProcessPool::await_ready(Child& child, std::string& detail) {
    if (child.ready) return true;
    std::string line;
    const auto status = child.process->read_line(line, Clock::now() + options_.start_timeout);
    if (status == IoStatus::Ok && line.starts_with("READY")) {
        child.ready = true;
        const double ms =
            std::chrono::duration<double, std::milli>(Clock::now() - child.process->started_at())
                .count();
        std::lock_guard lock(mutex_);
        start_ms_total_ += ms;
        ++start_samples_;
        return true;
    }
    detail = status == IoStatus::Timeout ? "worker did not become ready in time"
             : status == IoStatus::Closed
                 ? "worker exited at start"
                 : "worker's first line was not READY: " + line.substr(0, 200);
    return false;
}

std::unique_ptr<ProcessPool::Child> ProcessPool::acquire() {
    std::unique_lock lock(mutex_);
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
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(child));
    changed_.notify_all();
}

void ProcessPool::discard(std::unique_ptr<Child> child) {
    child->process->kill_now();
    child.reset();  // reaps
    std::lock_guard lock(mutex_);
    --size_;
    ++counters_.lost;
    changed_.notify_all();  // the maintainer restores min_size; a waiting caller may start one
}

CallResult ProcessPool::call(std::string_view request) {
    CallResult failure;
    // A child that fails before the request is delivered costs nothing: try another.
    for (int attempt = 0; attempt < 3; ++attempt) {
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

std::unique_ptr<ProcessPool::Child> ProcessPool::acquire_ready(CallResult& result) {
    result = {CallStatus::StartFailed, {}, "no worker could be started"};
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto child = acquire();
        if (!child) {
            std::lock_guard lock(mutex_);
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

std::vector<CallResult> ProcessPool::call_batch(const std::vector<std::string_view>& requests,
                                                std::size_t depth) {
    std::vector<CallResult> results(requests.size());
    if (requests.empty()) return results;
    CallResult failure;
    auto child = acquire_ready(failure);
    if (!child) {
        std::fill(results.begin(), results.end(), failure);
        return results;
    }
    depth = std::max<std::size_t>(depth, 1);
    std::size_t sent = 0;
    std::size_t answered = 0;
    const auto fail_rest = [&](CallStatus held, const std::string& why) {
        for (std::size_t i = answered; i < requests.size(); ++i) {
            results[i] = i < sent
                             ? CallResult{held, {}, why}
                             : CallResult{CallStatus::StartFailed, {}, "not delivered: " + why};
        }
        discard(std::move(child));
    };
    // A send that fails means the child is gone, but replies it wrote before dying may still
    // be waiting in the socket: stop sending and read them before giving up on the rest.
    bool can_send = true;
    while (answered < requests.size()) {
        while (can_send && sent < requests.size() && sent - answered < depth) {
            if (child->process->send(requests[sent]) != IoStatus::Ok) {
                can_send = false;
                break;
            }
            ++sent;
        }
        if (answered == sent) {
            fail_rest(CallStatus::ChildDied, "worker died during a batch");
            return results;
        }
        std::optional<Clock::time_point> deadline;
        if (options_.task_timeout.count() > 0) deadline = Clock::now() + options_.task_timeout;
        std::string reply;
        const IoStatus status = child->process->read_line(reply, deadline);
        if (status == IoStatus::Timeout) {
            fail_rest(CallStatus::TimedOut, "task timed out; worker killed");
            return results;
        }
        if (status == IoStatus::Closed) {
            fail_rest(CallStatus::ChildDied, "worker died during a batch");
            return results;
        }
        results[answered++] = {CallStatus::Replied, std::move(reply), {}};
    }
    release(std::move(child));
    return results;
}

void ProcessPool::close_then_reap(std::vector<std::unique_ptr<Child>>& children) {
    for (auto& child : children) child->process->close_input();
    children.clear();
}

void ProcessPool::warm(std::size_t count) {
    std::lock_guard lock(mutex_);
    warm_target_ = std::max(warm_target_, std::min(count, options_.max_size));
    changed_.notify_all();
}

void ProcessPool::maintain() {
    std::unique_lock lock(mutex_);
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
            std::lock_guard relock(mutex_);
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
        std::unique_lock lock(mutex_);
        if (stopping_ && !maintainer_.joinable()) return;
        stopping_ = true;
        changed_.notify_all();
    }
    if (maintainer_.joinable()) maintainer_.join();
    std::vector<std::unique_ptr<Child>> children;
    {
        std::unique_lock lock(mutex_);
        // Running calls finish first: their children come back to idle_.
        changed_.wait(lock, [&] { return idle_.size() == size_; });
        children = std::move(idle_);
        idle_.clear();
        size_ = 0;
    }
    close_then_reap(children);
}

PoolStats ProcessPool::stats() const {
    std::lock_guard lock(mutex_);
    PoolStats s = counters_;
    s.size = size_;
    s.idle = idle_.size();
    s.average_start_ms =
        start_samples_ == 0 ? 0 : start_ms_total_ / static_cast<double>(start_samples_);
    return s;
}

}  // namespace jobs::dispatcher

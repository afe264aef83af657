#include "jobs/dispatcher/process_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <utility>

#include "jobs/common/mutex_lock.h"

namespace jobs::dispatcher {

using Clock = WorkerProcess::Clock;

namespace {

// Children tried for one call, or by await_capabilities(), before giving up.
constexpr int kStartAttempts = 3;

// The job a request line is for (0 if it names none): its reply carries the same id.
std::int64_t request_job_id(std::string_view request) {
    if (request.ends_with('\n')) request.remove_suffix(1);
    const auto parsed = parse_request(request);
    return parsed ? parsed->job_id : 0;
}

std::size_t children_for(std::size_t tasks, std::size_t permits) {
    return (tasks + permits - 1) / permits;
}

}  // namespace

ProcessPool::Lease::Lease(ProcessPool& pool, Child* child, CallResult failure)
    : pool_(&pool), child_(child), failure_(std::move(failure)) {}

ProcessPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      child_(std::exchange(other.child_, nullptr)),
      failure_(std::move(other.failure_)) {}

ProcessPool::Lease::~Lease() {
    if (child_) pool_->finish(*std::exchange(child_, nullptr));
}

WorkerProcess& ProcessPool::Lease::process() const { return *child_->process; }

void ProcessPool::Lease::discard() {
    if (!child_) return;
    {
        MutexLock lock(pool_->mutex_);
        pool_->mark_broken(*child_);
    }
    pool_->finish(*std::exchange(child_, nullptr));
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
    std::string line;
    const auto status = child.process->read_line(line, Clock::now() + options_.start_timeout);
    if (status != IoStatus::Ok) {
        detail = status == IoStatus::Timeout ? "worker did not become ready in time"
                                             : "worker exited at start";
        return false;
    }
    const auto ready = parse_ready(line, detail);
    if (!ready || !accept(*ready, detail)) return false;
    child.permits = ready->permits;
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - child.process->started_at())
            .count();
    MutexLock lock(mutex_);
    start_ms_total_ += ms;
    ++start_samples_;
    return true;
}

bool ProcessPool::accept(const Ready& ready, std::string& detail) {
    MutexLock lock(mutex_);
    if (!capabilities_) {
        capabilities_ = ready.capabilities;
        permits_ = ready.permits;
        changed_.notify_all();  // await_capabilities() may be waiting for this
        return true;
    }
    if (*capabilities_ == ready.capabilities) return true;
    detail = "worker declares capabilities '" + describe(ready.capabilities) +
             "', unlike the pool's other workers ('" + describe(*capabilities_) + "')";
    return false;
}

std::optional<Capabilities> ProcessPool::capabilities() const {
    MutexLock lock(mutex_);
    return capabilities_;
}

std::size_t ProcessPool::permits() const {
    MutexLock lock(mutex_);
    return permits_;
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

void ProcessPool::lose_start() {
    MutexLock lock(mutex_);
    --size_;
    ++counters_.lost;
    changed_.notify_all();  // a caller may be waiting for the place this start held
}

std::unique_ptr<ProcessPool::Child> ProcessPool::start_ready(std::string& detail) {
    std::unique_ptr<Child> child;
    try {
        child = start_child();
    } catch (const std::system_error& e) {
        detail = std::string("cannot start a worker: ") + e.what();
        spdlog::error("process pool: {}", detail);
        lose_start();
        return nullptr;
    }
    if (await_ready(*child, detail)) return child;
    spdlog::warn("process pool: worker {}: {}", child->process->pid(), detail);
    child->process->kill_now();
    child.reset();  // reaps
    lose_start();
    return nullptr;
}

ProcessPool::Child* ProcessPool::pick(bool lend) {
    // The busiest child with a permit free, the most recently used among equals: the calls
    // gather on few children and the others rest, then retire.
    Child* best = nullptr;
    for (const auto& c : children_) {
        if (c->broken || c->lent) continue;
        if (lend ? c->calls != 0 : c->calls >= c->permits) continue;
        if (best == nullptr || c->calls > best->calls ||
            (c->calls == best->calls && c->last_used >= best->last_used)) {
            best = c.get();
        }
    }
    return best;
}

bool ProcessPool::should_start() const {
    if (size_ >= options_.max_size) return false;
    const std::size_t starting = size_ - children_.size();
    return starting * permits_ < callers_starting_ + callers_waiting_ + 1;
}

void ProcessPool::take(Child& child, bool lend) {
    if (lend)
        child.lent = true;
    else
        ++child.calls;
}

ProcessPool::Child* ProcessPool::acquire(CallResult& result, bool lend) {
    result = {CallStatus::StartFailed, {}, "no worker could be started"};
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        {
            MutexLock lock(mutex_);
            for (;;) {
                if (stopping_) {
                    result = {CallStatus::Stopped, {}, "the pool is draining"};
                    return nullptr;
                }
                if (Child* child = pick(lend)) {
                    take(*child, lend);
                    return child;
                }
                if (should_start()) {
                    ++size_;  // the place is taken before the slow start: no race overshoots
                    ++callers_starting_;
                    break;
                }
                ++callers_waiting_;
                changed_.wait(lock);
                --callers_waiting_;
            }
        }
        auto child = start_ready(result.detail);
        MutexLock lock(mutex_);
        --callers_starting_;
        if (!child) continue;
        Child* started = child.get();
        started->last_used = Clock::now();
        take(*started, lend);
        children_.push_back(std::move(child));
        return started;
    }
    return nullptr;
}

void ProcessPool::mark_broken(Child& child) {
    if (child.broken) return;
    child.broken = true;
    ++counters_.lost;
    child.process->kill_now();
    // Whoever waits on it hears the end through the reader, or reads it themselves.
    child.replied.notify_all();
}

void ProcessPool::route(Child& child, std::string line) {
    if (child.broken) return;  // a killed child's last words answer nobody
    const auto reply = parse_reply(line);
    const std::int64_t id = reply ? reply->job_id : 0;
    auto it = std::find_if(child.waiting.begin(), child.waiting.end(),
                           [&](const Waiter* w) { return reply && w->job_id == id; });
    // A line for no outstanding job goes to the only caller, who judges it (a malformed or
    // misaddressed reply fails its job); with several outstanding nobody can claim it.
    if (it == child.waiting.end() && child.waiting.size() == 1) it = child.waiting.begin();
    if (it == child.waiting.end()) {
        spdlog::warn("process pool: worker {} wrote a line no request awaits; killing it",
                     child.process->pid());
        mark_broken(child);
        return;
    }
    (*it)->line = std::move(line);
    (*it)->done = true;
    child.waiting.erase(it);
}

CallResult ProcessPool::await_reply(Child& child, Waiter& waiter,
                                    std::optional<Clock::time_point> deadline) {
    bool timed_out = false;
    {
        MutexLock lock(mutex_);
        while (!waiter.done) {
            if (child.broken && !child.reading) {
                // Killed: nothing more will be read from it. The reader, if any, ends first.
                waiter.done = true;
                waiter.status = IoStatus::Closed;
                break;
            }
            if (!child.reading) {
                child.reading = true;
                lock.unlock();
                std::string line;
                const IoStatus status = child.process->read_line(line, deadline);
                lock.lock();
                child.reading = false;
                if (status == IoStatus::Ok) {
                    route(child, std::move(line));
                } else if (status == IoStatus::Closed) {
                    mark_broken(child);
                } else if (!waiter.done) {
                    timed_out = true;
                }
                child.replied.notify_all();  // a reply for another, or the reading turn is free
                if (timed_out) break;
                continue;
            }
            if (!deadline) {
                child.replied.wait(lock);
            } else if (child.replied.wait_until(lock, *deadline) == std::cv_status::timeout &&
                       !waiter.done) {
                timed_out = true;
                break;
            }
        }
        std::erase(child.waiting, &waiter);
        if (timed_out) mark_broken(child);
    }
    const auto pid = child.process->pid();
    finish(child);
    if (timed_out) {
        return {CallStatus::TimedOut,
                {},
                "task timed out after " + std::to_string(options_.task_timeout.count()) +
                    " ms; worker " + std::to_string(pid) + " killed"};
    }
    if (waiter.status != IoStatus::Ok) {
        return {CallStatus::ChildDied,
                {},
                "worker " + std::to_string(pid) + " died while running the task"};
    }
    return {CallStatus::Replied, std::move(waiter.line), {}};
}

void ProcessPool::finish(Child& child) {
    std::unique_ptr<Child> leaving;
    {
        MutexLock lock(mutex_);
        if (child.lent)
            child.lent = false;
        else
            --child.calls;
        child.last_used = Clock::now();
        if (child.broken && child.calls == 0 && !child.reading) {
            const auto it = std::find_if(children_.begin(), children_.end(),
                                         [&](const auto& c) { return c.get() == &child; });
            leaving = std::move(*it);
            children_.erase(it);
            --size_;
        }
        changed_.notify_all();  // a permit is free, or a place; drain() may be waiting
    }
    // Outside the lock: reaps (it was killed, or exited).
}

CallResult ProcessPool::call(std::string_view request) {
    CallResult failure;
    Waiter waiter;
    waiter.job_id = request_job_id(request);
    // A child that fails before the request is delivered costs nothing: try another.
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        Child* child = acquire(failure, false);
        if (!child) return failure;
        {
            MutexLock lock(mutex_);
            child->waiting.push_back(&waiter);
        }
        IoStatus sent;
        {
            MutexLock send_lock(child->send_mutex);
            sent = child->process->send(request);
        }
        if (sent != IoStatus::Ok) {
            {
                MutexLock lock(mutex_);
                std::erase(child->waiting, &waiter);
                mark_broken(*child);
            }
            finish(*child);
            failure = {CallStatus::StartFailed, {}, "worker had exited"};
            continue;
        }
        std::optional<Clock::time_point> deadline;
        if (options_.task_timeout.count() > 0) deadline = Clock::now() + options_.task_timeout;
        return await_reply(*child, waiter, deadline);
    }
    return failure;
}

ProcessPool::Lease ProcessPool::borrow() {
    CallResult failure;
    Child* child = acquire(failure, true);
    return Lease(*this, child, std::move(failure));
}

void ProcessPool::close_then_reap(std::vector<std::unique_ptr<Child>>& children) {
    for (auto& child : children) child->process->close_input();
    children.clear();
}

void ProcessPool::warm(std::size_t tasks) {
    MutexLock lock(mutex_);
    const std::size_t wanted = std::min(children_for(tasks, permits_), options_.max_size);
    warm_target_ = std::max(warm_target_, wanted);
    // Called for every job locked: wake the maintainer only when it has children to start.
    if (wanted > size_) changed_.notify_all();
}

void ProcessPool::maintain() {
    MutexLock lock(mutex_);
    while (!stopping_) {
        // Retire unused children beyond the target that have rested too long, and drop unused
        // children that died or wrote unasked.
        const auto now = Clock::now();
        const std::size_t target = std::max(options_.min_size, warm_target_);
        std::vector<std::unique_ptr<Child>> leaving;
        for (auto it = children_.begin(); it != children_.end();) {
            Child& c = **it;
            if (c.calls != 0 || c.lent || c.reading) {
                ++it;
                continue;
            }
            const bool broken = c.broken || c.process->hung_up_or_chatty();
            const bool surplus =
                size_ - leaving.size() > target && now - c.last_used > options_.idle_timeout;
            if (broken || surplus) {
                if (!c.broken) ++(broken ? counters_.lost : counters_.retired);
                leaving.push_back(std::move(*it));
                it = children_.erase(it);
            } else {
                ++it;
            }
        }
        size_ -= leaving.size();
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
                MutexLock relock(mutex_);
                child->last_used = Clock::now();
                children_.push_back(std::move(child));
                changed_.notify_all();
                continue;
            }
            if (child) {
                spdlog::warn("process pool: worker {}: {}", child->process->pid(), detail);
                child->process->kill_now();
            }
            child.reset();
            lose_start();
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
        // Running calls and starts finish first.
        const auto in_use = [this]() REQUIRES(mutex_) {
            if (children_.size() != size_) return true;
            return std::any_of(children_.begin(), children_.end(), [](const auto& c) {
                return c->calls != 0 || c->lent || c->reading;
            });
        };
        while (in_use()) changed_.wait(lock);
        children = std::move(children_);
        children_.clear();
        size_ = 0;
    }
    close_then_reap(children);
}

PoolStats ProcessPool::stats() const {
    MutexLock lock(mutex_);
    PoolStats s = counters_;
    s.size = size_;
    s.idle = static_cast<std::size_t>(
        std::count_if(children_.begin(), children_.end(),
                      [](const auto& c) { return c->calls == 0 && !c->lent && !c->broken; }));
    for (const auto& c : children_) s.calls += c->calls;
    s.average_start_ms =
        start_samples_ == 0 ? 0 : start_ms_total_ / static_cast<double>(start_samples_);
    return s;
}

}  // namespace jobs::dispatcher

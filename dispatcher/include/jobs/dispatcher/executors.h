#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "jobs/dispatcher/blocking_queue.h"

namespace jobs::dispatcher {

// Executor threads: each takes items from the queue and hands them to `run` until the queue is
// closed and empty. Joined on destruction, so declare an Executors after what `run` uses.
template <typename T>
class Executors {
  public:
    Executors(BlockingQueue<T>& queue, std::size_t count, std::function<void(T&)> run)
        : run_(std::move(run)) {
        for (std::size_t i = 0; i < count; ++i) {
            threads_.emplace_back([this, &queue] {
                while (auto item = queue.pop()) run_(*item);
            });
        }
    }
    ~Executors() { join(); }
    Executors(const Executors&) = delete;
    Executors& operator=(const Executors&) = delete;

    void join() {
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }

  private:
    std::function<void(T&)> run_;
    std::vector<std::thread> threads_;
};

}  // namespace jobs::dispatcher

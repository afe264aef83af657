#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "jobs/common/cond_var.h"
#include "jobs/common/mutex.h"
#include "jobs/common/mutex_lock.h"
#include "jobs/common/thread_annotations.h"

namespace jobs::dispatcher {

// A bounded multi-producer, multi-consumer queue. Producers hold a Producer handle; when the
// last one is gone the queue closes itself, and consumers drain what is left and then get
// nothing, so they stop without a separate stop flag (userver's pattern).
template <typename T>
class BlockingQueue {
  public:
    explicit BlockingQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
    BlockingQueue(const BlockingQueue&) = delete;
    BlockingQueue& operator=(const BlockingQueue&) = delete;

    class Producer {
      public:
        explicit Producer(BlockingQueue& queue) : queue_(&queue) {
            MutexLock lock(queue_->mutex_);
            ++queue_->producers_;
        }
        Producer(Producer&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
        Producer& operator=(Producer&&) = delete;
        Producer(const Producer&) = delete;
        ~Producer() { reset(); }

        // Blocks while the queue is full (back-pressure). False once closed.
        bool push(T item) { return queue_ != nullptr && queue_->push(std::move(item)); }
        // Gives the handle up early; the queue closes when the last producer does.
        void reset() {
            if (queue_ == nullptr) return;
            MutexLock lock(queue_->mutex_);
            if (--queue_->producers_ == 0) {
                queue_->closed_ = true;
                queue_->not_empty_.notify_all();
                queue_->not_full_.notify_all();
            }
            queue_ = nullptr;
        }

      private:
        BlockingQueue* queue_;
    };

    Producer producer() { return Producer(*this); }

    // Blocks until an item arrives; nothing once the queue is closed and empty.
    std::optional<T> pop() EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        while (items_.empty() && !closed_) not_empty_.wait(lock);
        if (items_.empty()) return std::nullopt;
        T item = std::move(items_.front());
        items_.pop_front();
        not_full_.notify_one();
        return item;
    }

    // Closes at once, whoever still produces: used when consumers must stop early.
    void close() EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }

    std::size_t size() const EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        return items_.size();
    }
    bool closed() const EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        return closed_;
    }

  private:
    bool push(T item) EXCLUDES(mutex_) {
        MutexLock lock(mutex_);
        while (items_.size() >= capacity_ && !closed_) not_full_.wait(lock);
        if (closed_) return false;
        items_.push_back(std::move(item));
        not_empty_.notify_one();
        return true;
    }

    const std::size_t capacity_;
    mutable Mutex mutex_;
    CondVar not_empty_;
    CondVar not_full_;
    std::deque<T> items_ GUARDED_BY(mutex_);
    int producers_ GUARDED_BY(mutex_) = 0;
    bool closed_ GUARDED_BY(mutex_) = false;
};

}  // namespace jobs::dispatcher

#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <vector>

namespace jobs::scheduler {

// Items for one kind of statement, sent in batches with at most one on its way: whatever
// arrives while a batch is out goes in the next. Alone, an item goes at once; under load the
// batches grow with the rate, and so the statements per job fall. Loop thread only.
template <typename T>
class LoopBatch {
  public:
    explicit LoopBatch(std::size_t max_batch) : max_batch_(max_batch) {}

    // True when the caller should send a batch now (none is on its way).
    bool add(T item) {
        pending_.push_back(std::move(item));
        return !in_flight_;
    }
    // The next batch, now on its way; empty if nothing waits.
    std::vector<T> take() {
        const auto n = static_cast<long>(std::min(pending_.size(), max_batch_));
        std::vector<T> batch(std::make_move_iterator(pending_.begin()),
                             std::make_move_iterator(pending_.begin() + n));
        pending_.erase(pending_.begin(), pending_.begin() + n);
        in_flight_ = !batch.empty();
        return batch;
    }
    // The batch on its way was answered: true when another waits to be sent.
    bool answered() {
        in_flight_ = false;
        return !pending_.empty();
    }
    std::size_t waiting() const { return pending_.size(); }

  private:
    const std::size_t max_batch_;
    std::vector<T> pending_;
    bool in_flight_ = false;
};

}  // namespace jobs::scheduler

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // blocking_queue.h uses std::exchange without including <utility>
#include <vector>

#include "jobs/dispatcher/blocking_queue.h"
#include "jobs/dispatcher/executors.h"
#include "watchdog.h"

using namespace jobs::dispatcher;
using namespace std::chrono_literals;

namespace {

using jobs::test::Watchdog;

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

}  // namespace

TEST_CASE("a queue hands items out in the order they were pushed") {
    BlockingQueue<int> queue(8);
    auto producer = queue.producer();
    for (int i = 1; i <= 5; ++i) REQUIRE(producer.push(i));
    CHECK(queue.size() == 5);
    for (int i = 1; i <= 5; ++i) CHECK(queue.pop() == std::optional<int>(i));
    CHECK(queue.size() == 0);
}

TEST_CASE("pop waits for a push instead of returning empty-handed" * doctest::timeout(10)) {
    Watchdog watchdog(10s, "pop waits for a push");
    BlockingQueue<std::string> queue(4);
    auto producer = queue.producer();
    std::atomic<bool> returned{false};
    std::optional<std::string> got;
    std::thread consumer([&] {
        got = queue.pop();
        returned = true;
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(returned.load());  // nothing was pushed: it must still be waiting
    REQUIRE(producer.push("job"));
    CHECK(eventually([&] { return returned.load(); }));
    consumer.join();
    CHECK(got == std::optional<std::string>("job"));
}

TEST_CASE("push blocks while the queue is full and resumes when a consumer makes room" *
          doctest::timeout(10)) {
    Watchdog watchdog(10s, "push back-pressure");
    BlockingQueue<int> queue(2);
    auto producer = queue.producer();
    REQUIRE(producer.push(1));
    REQUIRE(producer.push(2));
    std::atomic<bool> pushed{false};
    bool accepted = false;
    std::thread blocked([&] {
        accepted = producer.push(3);
        pushed = true;
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(pushed.load());  // full: the third push must wait
    CHECK(queue.size() == 2);
    CHECK(queue.pop() == std::optional<int>(1));
    CHECK(eventually([&] { return pushed.load(); }));
    blocked.join();
    CHECK(accepted);
    CHECK(queue.size() == 2);  // never above capacity
    CHECK(queue.pop() == std::optional<int>(2));
    CHECK(queue.pop() == std::optional<int>(3));
}

TEST_CASE("when the last producer goes, consumers drain what is left and then get nothing" *
          doctest::timeout(10)) {
    Watchdog watchdog(10s, "last producer closes");
    BlockingQueue<int> queue(8);
    auto first = queue.producer();
    auto second = queue.producer();
    REQUIRE(first.push(1));
    REQUIRE(second.push(2));
    REQUIRE(second.push(3));
    first.reset();
    CHECK_FALSE(queue.closed());  // one producer is still there
    CHECK_FALSE(first.push(4));   // a handle given up pushes nothing
    {
        auto moved = std::move(second);  // a moved-from handle does not count twice
        CHECK_FALSE(queue.closed());
    }
    CHECK(queue.closed());
    CHECK(queue.pop() == std::optional<int>(1));
    CHECK(queue.pop() == std::optional<int>(2));
    CHECK(queue.pop() == std::optional<int>(3));
    CHECK(queue.pop() == std::nullopt);
    CHECK(queue.pop() == std::nullopt);  // and keeps returning nothing, without blocking
}

TEST_CASE("close wakes a producer blocked on a full queue and a consumer blocked on an empty one" *
          doctest::timeout(10)) {
    Watchdog watchdog(10s, "close wakes waiters");
    BlockingQueue<int> full(1);
    BlockingQueue<int> empty(1);
    auto full_producer = full.producer();
    auto empty_producer = empty.producer();  // keeps `empty` open: only close() can end the wait
    REQUIRE(full_producer.push(1));

    std::atomic<int> woken{0};
    bool push_result = true;
    std::optional<int> pop_result = 0;
    std::thread producer([&] {
        push_result = full_producer.push(2);
        ++woken;
    });
    std::thread consumer([&] {
        pop_result = empty.pop();
        ++woken;
    });
    std::this_thread::sleep_for(50ms);
    CHECK(woken.load() == 0);
    full.close();
    empty.close();
    CHECK(eventually([&] { return woken.load() == 2; }));
    producer.join();
    consumer.join();
    CHECK_FALSE(push_result);
    CHECK(pop_result == std::nullopt);
    CHECK_FALSE(empty_producer.push(3));  // closed for every producer, alive or not
    CHECK(full.closed());
}

TEST_CASE("many producers and consumers deliver every item exactly once" * doctest::timeout(30)) {
    Watchdog watchdog(30s, "many producers and consumers");
    constexpr int kProducers = 4;
    constexpr int kConsumers = 4;
    constexpr int kPerProducer = 5000;
    BlockingQueue<int> queue(16);  // small, so producers really wait on consumers
    std::vector<std::vector<int>> received(kConsumers);
    std::vector<std::thread> consumers;
    for (int c = 0; c < kConsumers; ++c) {
        consumers.emplace_back([&queue, &mine = received[static_cast<std::size_t>(c)]] {
            while (auto item = queue.pop()) mine.push_back(*item);
        });
    }
    {
        std::vector<std::thread> producers;
        for (int p = 0; p < kProducers; ++p) {
            // Each thread owns its handle; the queue closes when the last thread is done.
            producers.emplace_back([p, handle = queue.producer()]() mutable {
                for (int i = 0; i < kPerProducer; ++i) handle.push(p * kPerProducer + i);
            });
        }
        for (auto& t : producers) t.join();
    }
    for (auto& t : consumers) t.join();

    std::vector<int> seen(kProducers * kPerProducer, 0);
    std::size_t total = 0;
    for (const auto& mine : received) {
        total += mine.size();
        for (const int item : mine) {
            REQUIRE(item >= 0);
            REQUIRE(item < kProducers * kPerProducer);
            ++seen[static_cast<std::size_t>(item)];
        }
    }
    CHECK(total == static_cast<std::size_t>(kProducers * kPerProducer));
    int wrong = 0;
    for (const int count : seen) wrong += count != 1 ? 1 : 0;
    CHECK(wrong == 0);
    // Each producer's items reach any one consumer in the order they were pushed.
    int out_of_order = 0;
    for (const auto& mine : received) {
        std::vector<int> last(kProducers, -1);
        for (const int item : mine) {
            auto& previous = last[static_cast<std::size_t>(item / kPerProducer)];
            if (item < previous) ++out_of_order;
            previous = item;
        }
    }
    CHECK(out_of_order == 0);
}

TEST_CASE("executors run every item and stop once the queue is closed and empty" *
          doctest::timeout(10)) {
    Watchdog watchdog(10s, "executors");
    BlockingQueue<int> queue(4);
    std::atomic<int> sum{0};
    std::atomic<int> runs{0};
    {
        Executors<int> executors(queue, 3, [&](int& item) {
            sum += item;
            ++runs;
        });
        auto producer = queue.producer();
        for (int i = 1; i <= 100; ++i) REQUIRE(producer.push(i));
    }  // the producer goes first (declared last), then the executors drain and join
    CHECK(runs.load() == 100);
    CHECK(sum.load() == 5050);
}

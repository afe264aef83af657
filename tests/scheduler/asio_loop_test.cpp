// The real loop's timers (asio_loop.h): one ordered map under one asio timer.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "jobs/scheduler/asio_loop.h"

using namespace jobs::scheduler;
using namespace std::chrono_literals;

TEST_CASE(
    "timers run in time order, equal deadlines in the order armed, and run() returns "
    "once none is left" *
    doctest::timeout(10)) {
    boost::asio::io_context io;
    AsioLoop loop(io);
    std::vector<int> order;
    const auto t0 = loop.now();
    loop.at(t0 + 30ms, [&] { order.push_back(4); });
    loop.at(t0 + 10ms, [&] { order.push_back(1); });
    loop.at(t0 + 10ms, [&] { order.push_back(2); });
    loop.at(t0 + 20ms, [&] { order.push_back(3); });
    io.run();
    CHECK(order == std::vector<int>{1, 2, 3, 4});
    CHECK(loop.now() - t0 >= 30ms);
}

TEST_CASE("a cancelled timer never runs, and cancelling the armed one arms the next" *
          doctest::timeout(10)) {
    boost::asio::io_context io;
    AsioLoop loop(io);
    std::vector<int> order;
    const auto t0 = loop.now();
    const auto first = loop.at(t0 + 10ms, [&] { order.push_back(1); });
    loop.at(t0 + 20ms, [&] { order.push_back(2); });
    const auto last = loop.at(t0 + 30ms, [&] { order.push_back(3); });
    loop.cancel(first);
    loop.cancel(last);
    loop.cancel(last);  // harmless
    io.run();
    CHECK(order == std::vector<int>{2});
}

TEST_CASE("a handler may arm an earlier timer and cancel a later one" * doctest::timeout(10)) {
    boost::asio::io_context io;
    AsioLoop loop(io);
    std::vector<int> order;
    const auto t0 = loop.now();
    EventLoop::TimerId later = 0;
    loop.at(t0 + 5ms, [&] {
        order.push_back(1);
        loop.at(loop.now() + 5ms, [&] { order.push_back(2); });
        loop.cancel(later);
    });
    later = loop.at(t0 + 500ms, [&] { order.push_back(9); });
    io.run();
    CHECK(order == std::vector<int>{1, 2});
    CHECK(loop.now() - t0 < 400ms);  // the cancelled timer kept nothing waiting
}

TEST_CASE("work posted from another thread runs on the loop's thread" * doctest::timeout(10)) {
    boost::asio::io_context io;
    AsioLoop loop(io);
    std::thread::id ran_on;
    loop.at(loop.now() + 20ms, [] {});  // keeps run() busy until the post lands
    std::thread other([&] { loop.post([&] { ran_on = std::this_thread::get_id(); }); });
    io.run();
    other.join();
    CHECK(ran_on == std::this_thread::get_id());
}

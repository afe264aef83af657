#include "jobs/harness/pool_bench.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "jobs/dispatcher/line_protocol.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/harness/sha512.h"

namespace jobs::harness {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kBuffers = 8;

double rate(std::size_t tasks, Clock::duration elapsed) {
    return static_cast<double>(tasks) / std::chrono::duration<double>(elapsed).count();
}

// Runs `tasks` requests through a pool of `size` children from `size` threads, `depth` in flight
// per child (1: plain calls); checks every answer against the digest computed in-process.
double through_pool(const PoolBenchOptions& options, std::size_t size, std::size_t depth,
                    const std::vector<std::string>& requests,
                    const std::vector<std::string>& digests, double& spawn_ms) {
    dispatcher::PoolOptions pool_options;
    pool_options.child.argv = {options.worker};
    pool_options.min_size = size;
    pool_options.max_size = size;
    dispatcher::ProcessPool pool(pool_options);
    // Wait for the children, so process start is measured apart from throughput.
    while (pool.stats().idle < size) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    spawn_ms = pool.stats().average_start_ms;
    std::vector<std::thread> threads;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> wrong{false};
    const auto begin = Clock::now();
    const auto check = [&](const dispatcher::CallResult& result, std::size_t i) {
        const auto reply = dispatcher::parse_reply(result.reply);
        if (!reply || reply->text != digests[i % kBuffers]) wrong = true;
    };
    // Pipelined threads take runs of tasks, several times the depth, so a child's queue rarely
    // empties between runs.
    const std::size_t run = depth <= 1 ? 1 : 8 * depth;
    for (std::size_t t = 0; t < size; ++t) {
        threads.emplace_back([&] {
            std::vector<std::string_view> batch;
            for (std::size_t first = next.fetch_add(run); first < options.tasks;
                 first = next.fetch_add(run)) {
                const std::size_t last = std::min(options.tasks, first + run);
                if (depth <= 1) {
                    for (std::size_t i = first; i < last; ++i)
                        check(pool.call(requests[i % kBuffers]), i);
                    continue;
                }
                batch.clear();
                for (std::size_t i = first; i < last; ++i) batch.push_back(requests[i % kBuffers]);
                const auto results = pool.call_batch(batch, depth);
                for (std::size_t i = first; i < last; ++i) check(results[i - first], i);
            }
        });
    }
    for (auto& t : threads) t.join();
    const auto elapsed = Clock::now() - begin;
    if (wrong) throw std::runtime_error("pool-bench: a worker returned a wrong digest");
    return rate(options.tasks, elapsed);
}

}  // namespace

PoolBenchResult run_pool_bench(const PoolBenchOptions& options) {
    PoolBenchResult result;
    result.size = options.size;
    result.tasks = options.tasks;
    result.cores = std::max(1U, std::thread::hardware_concurrency());
    result.pool_size = options.pool_size == 0 ? result.cores : options.pool_size;

    std::mt19937_64 rng(42);
    std::vector<std::string> buffers(kBuffers, std::string(options.size, '\0'));
    for (auto& b : buffers) {
        for (auto& c : b) c = static_cast<char>(rng());
    }
    std::vector<std::string> requests, digests;
    for (std::size_t i = 0; i < kBuffers; ++i) {
        requests.push_back(
            dispatcher::format_request({static_cast<std::int64_t>(i), 0, buffers[i]}));
        digests.push_back(sha512_hex(buffers[i]));
    }

    const auto begin = Clock::now();
    std::size_t sink = 0;
    for (std::size_t i = 0; i < options.tasks; ++i)
        sink += sha512_hex(buffers[i % kBuffers]).size();
    result.inprocess_tasks_per_s = rate(options.tasks, Clock::now() - begin);
    if (sink == 0) throw std::logic_error("unreachable");

    result.depth = options.depth != 0
                       ? options.depth
                       : std::clamp<std::size_t>(64 * 1024 / requests[0].size(), 2, 64);
    double spawn[4] = {};
    result.single_child_one_at_a_time_tasks_per_s =
        through_pool(options, 1, 1, requests, digests, spawn[0]);
    result.pool_one_at_a_time_tasks_per_s =
        through_pool(options, result.pool_size, 1, requests, digests, spawn[1]);
    result.single_child_tasks_per_s =
        through_pool(options, 1, result.depth, requests, digests, spawn[2]);
    result.pool_tasks_per_s =
        through_pool(options, result.pool_size, result.depth, requests, digests, spawn[3]);
    // Every child started, weighted: 1 + pool_size + 1 + pool_size of them.
    const auto n = static_cast<double>(result.pool_size);
    result.spawn_ms = (spawn[0] + spawn[1] * n + spawn[2] + spawn[3] * n) / (2 + 2 * n);
    return result;
}

nlohmann::json to_json(const PoolBenchResult& r) {
    return {{"size", r.size},
            {"tasks", r.tasks},
            {"cores", r.cores},
            {"pool_size", r.pool_size},
            {"depth", r.depth},
            {"single_child_one_at_a_time_tasks_per_s", r.single_child_one_at_a_time_tasks_per_s},
            {"pool_one_at_a_time_tasks_per_s", r.pool_one_at_a_time_tasks_per_s},
            {"inprocess_tasks_per_s", r.inprocess_tasks_per_s},
            {"single_child_tasks_per_s", r.single_child_tasks_per_s},
            {"pool_tasks_per_s", r.pool_tasks_per_s},
            {"spawn_ms", r.spawn_ms}};
}

}  // namespace jobs::harness

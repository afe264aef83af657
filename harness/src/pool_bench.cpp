#include "jobs/harness/pool_bench.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "jobs/dispatcher/bench/call_batch.h"
#include "jobs/dispatcher/bench/shared_payloads.h"
#include "jobs/dispatcher/process_pool.h"
#include "jobs/dispatcher/worker_protocol.h"
#include "jobs/harness/sha512.h"

namespace jobs::harness {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kBuffers = 8;

double rate(std::size_t tasks, Clock::duration elapsed) {
    return static_cast<double>(tasks) / std::chrono::duration<double>(elapsed).count();
}

enum class Payloads {
    Inline,        // escaped in the request line: crosses the socket
    Shared,        // built once in shared memory, as a producer writing there would
    SharedCopied,  // copied into shared memory for each task, just before it is sent
};

struct Inputs {
    std::vector<std::string> buffers, digests;
    std::vector<std::string> inline_requests;  // one per buffer
    std::vector<std::string> shared_requests;  // one per buffer, pointing into `blocks`
    std::vector<dispatcher::bench::SharedPayloads::Block> blocks;
};

struct PoolRun {
    double tasks_per_s = 0;
    double start_ms_total = 0;  // summed over the children started
    std::size_t children = 0;
};

// Runs `tasks` requests through a pool of `size` children from `size` threads, `depth` in flight
// per child (1: plain calls); checks every answer against the digest computed in-process.
PoolRun through_pool(const PoolBenchOptions& options, std::size_t size, std::size_t depth,
                     Payloads payloads, const Inputs& inputs,
                     dispatcher::bench::SharedPayloads& shared) {
    dispatcher::PoolOptions pool_options;
    pool_options.child.argv = {options.worker};
    pool_options.child.inherit_fds = {shared.fd()};
    pool_options.child.extra_env = {shared.child_env()};
    pool_options.min_size = size;
    pool_options.max_size = size;
    dispatcher::ProcessPool pool(pool_options);
    // Wait for the children, so process start is measured apart from throughput.
    while (pool.stats().idle < size) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    PoolRun run_result;
    run_result.children = size;
    run_result.start_ms_total = pool.stats().average_start_ms * static_cast<double>(size);
    const auto& requests =
        payloads == Payloads::Inline ? inputs.inline_requests : inputs.shared_requests;
    std::vector<std::thread> threads;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> wrong{false};
    const auto begin = Clock::now();
    const auto check = [&](const dispatcher::CallResult& result, std::size_t i) {
        const auto reply = dispatcher::parse_reply(result.reply);
        if (!reply || reply->text != inputs.digests[i % kBuffers]) wrong = true;
    };
    // Pipelined threads take runs of tasks, several times the depth, so a child's queue rarely
    // empties between runs.
    const std::size_t run = depth <= 1 ? 1 : 8 * depth;
    for (std::size_t t = 0; t < size; ++t) {
        threads.emplace_back([&] {
            std::vector<std::string_view> batch;
            std::vector<std::string> lines;
            std::vector<dispatcher::bench::SharedPayloads::Block> blocks;
            for (std::size_t first = next.fetch_add(run); first < options.tasks;
                 first = next.fetch_add(run)) {
                const std::size_t last = std::min(options.tasks, first + run);
                if (depth <= 1) {
                    for (std::size_t i = first; i < last; ++i)
                        check(pool.call(requests[i % kBuffers]), i);
                    continue;
                }
                batch.clear();
                lines.clear();
                blocks.clear();
                for (std::size_t i = first; i < last; ++i) {
                    if (payloads != Payloads::SharedCopied) {
                        batch.push_back(requests[i % kBuffers]);
                        continue;
                    }
                    auto block = shared.store(inputs.buffers[i % kBuffers]);
                    if (!block) throw std::runtime_error("pool-bench: shared memory is full");
                    dispatcher::TaskRequest request{static_cast<std::int64_t>(i), 0, {}, {}, {}};
                    request.shared_payload = block->ref();
                    lines.push_back(dispatcher::format_request(request));
                    blocks.push_back(std::move(*block));
                }
                for (const auto& line : lines) batch.push_back(line);
                const auto results = dispatcher::bench::call_batch(pool, batch, depth);
                for (std::size_t i = first; i < last; ++i) check(results[i - first], i);
            }
        });
    }
    for (auto& t : threads) t.join();
    const auto elapsed = Clock::now() - begin;
    if (wrong) throw std::runtime_error("pool-bench: a worker returned a wrong digest");
    run_result.tasks_per_s = rate(options.tasks, elapsed);
    return run_result;
}

}  // namespace

PoolBenchResult run_pool_bench(const PoolBenchOptions& options) {
    PoolBenchResult result;
    result.size = options.size;
    result.tasks = options.tasks;
    result.cores = std::max(1U, std::thread::hardware_concurrency());
    result.pool_size = options.pool_size == 0 ? result.cores : options.pool_size;

    result.depth = options.depth != 0
                       ? options.depth
                       : std::clamp<std::size_t>(64 * 1024 / (options.size + 32), 2, 64);
    // Room for the buffers built in place, and for each thread's run of copies.
    dispatcher::bench::SharedPayloads shared((kBuffers + result.pool_size * 8 * result.depth + 1) *
                                             (options.size + 64));
    Inputs inputs;
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i < kBuffers; ++i) {
        std::string buffer(options.size, '\0');
        for (auto& c : buffer) c = static_cast<char>(rng());
        auto block = shared.store(buffer);
        if (!block) throw std::logic_error("pool-bench: shared memory too small");
        const auto id = static_cast<std::int64_t>(i);
        inputs.inline_requests.push_back(dispatcher::format_request({id, 0, buffer, {}, {}}));
        inputs.shared_requests.push_back(dispatcher::format_request({id, 0, {}, {}, block->ref()}));
        inputs.digests.push_back(sha512_hex(buffer));
        inputs.buffers.push_back(std::move(buffer));
        inputs.blocks.push_back(std::move(*block));
    }

    const auto begin = Clock::now();
    std::size_t sink = 0;
    for (std::size_t i = 0; i < options.tasks; ++i)
        sink += sha512_hex(inputs.buffers[i % kBuffers]).size();
    result.inprocess_tasks_per_s = rate(options.tasks, Clock::now() - begin);
    if (sink == 0) throw std::logic_error("unreachable");

    const std::size_t n = result.pool_size;
    double start_ms = 0;
    std::size_t children = 0;
    const auto measure = [&](std::size_t size, std::size_t depth, Payloads payloads) {
        const auto run = through_pool(options, size, depth, payloads, inputs, shared);
        start_ms += run.start_ms_total;
        children += run.children;
        return run.tasks_per_s;
    };
    result.single_child_one_at_a_time_tasks_per_s = measure(1, 1, Payloads::Inline);
    result.pool_one_at_a_time_tasks_per_s = measure(n, 1, Payloads::Inline);
    result.single_child_tasks_per_s = measure(1, result.depth, Payloads::Inline);
    result.pool_tasks_per_s = measure(n, result.depth, Payloads::Inline);
    result.pool_shared_tasks_per_s = measure(n, result.depth, Payloads::Shared);
    result.pool_shared_copied_tasks_per_s = measure(n, result.depth, Payloads::SharedCopied);
    result.spawn_ms = start_ms / static_cast<double>(children);
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
            {"pool_shared_tasks_per_s", r.pool_shared_tasks_per_s},
            {"pool_shared_copied_tasks_per_s", r.pool_shared_copied_tasks_per_s},
            {"spawn_ms", r.spawn_ms}};
}

}  // namespace jobs::harness

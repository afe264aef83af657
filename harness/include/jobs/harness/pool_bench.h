#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace jobs::harness {

// The process-pool article's benchmark: SHA-512 over random buffers, in-process on one thread,
// through one pooled child, and through the pool; the payload crosses the pipe.
struct PoolBenchOptions {
    std::size_t size = 1024;
    std::size_t tasks = 20'000;
    std::size_t pool_size = 0;  // 0: the number of cores
    std::string worker;         // jobs-sha-worker's path
};

struct PoolBenchResult {
    std::size_t size = 0, tasks = 0, cores = 0, pool_size = 0;
    double inprocess_tasks_per_s = 0, single_child_tasks_per_s = 0, pool_tasks_per_s = 0;
    double spawn_ms = 0;  // average, start of a child to its first answer
};

PoolBenchResult run_pool_bench(const PoolBenchOptions& options);
nlohmann::json to_json(const PoolBenchResult& result);

}  // namespace jobs::harness

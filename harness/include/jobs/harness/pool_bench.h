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
    // Requests in flight per child (pipelining); 0: as many as fit in 64 KB (1 for 1 MB tasks,
    // 2 at least, so the next request is there when a child finishes one).
    std::size_t depth = 0;
    std::string worker;  // jobs-sha-worker's path
};

struct PoolBenchResult {
    std::size_t size = 0, tasks = 0, cores = 0, pool_size = 0, depth = 0;
    double inprocess_tasks_per_s = 0;
    // Pipelined, `depth` requests in flight per child: the headline figures.
    double single_child_tasks_per_s = 0, pool_tasks_per_s = 0;
    // One request at a time per child, as the article's pool does: what pipelining bought.
    double single_child_one_at_a_time_tasks_per_s = 0, pool_one_at_a_time_tasks_per_s = 0;
    // Pipelined, the payload in shared memory instead of the line: built there once, or copied
    // there for each task.
    double pool_shared_tasks_per_s = 0, pool_shared_copied_tasks_per_s = 0;
    double spawn_ms = 0;  // average, start of a child to its first answer
};

PoolBenchResult run_pool_bench(const PoolBenchOptions& options);
nlohmann::json to_json(const PoolBenchResult& result);

}  // namespace jobs::harness

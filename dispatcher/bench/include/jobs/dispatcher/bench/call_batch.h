#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "jobs/dispatcher/process_pool.h"

namespace jobs::dispatcher::bench {

// Pipelining: runs the requests in order through one child of `pool`, keeping up to `depth` of
// them in flight, so the child never waits for the next request and replies leave in batches.
// Keep depth x request size well under the socket's buffer (about 200 KB). If the child dies,
// the requests it held are ChildDied and the ones never sent StartFailed.
std::vector<CallResult> call_batch(ProcessPool& pool, const std::vector<std::string_view>& requests,
                                   std::size_t depth);

}  // namespace jobs::dispatcher::bench

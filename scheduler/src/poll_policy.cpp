#include "jobs/scheduler/poll_policy.h"

#include "jobs/scheduler/coordinated_polls.h"
#include "jobs/scheduler/fixed_polls.h"

namespace jobs::scheduler {

std::unique_ptr<PollPolicy> make_poll_policy(const SchedulerOptions& options,
                                             const std::string& client_id, std::uint64_t seed) {
    if (!options.coordinate) return std::make_unique<FixedPolls>(options, seed);
    return std::make_unique<CoordinatedPolls>(options, client_id, seed);
}

}  // namespace jobs::scheduler

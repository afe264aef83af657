#include "jobs/scheduler/coordinator.h"

#include <algorithm>

namespace jobs::scheduler {

using repo::DbTime;

Coordinator::Coordinator(std::string me, CoordinatorOptions options, std::uint64_t seed)
    : me_(std::move(me)), options_(options), rng_(seed) {}

void Coordinator::on_list(DbTime listed_at, const std::vector<repo::ListRecord>& recent) {
    // The lists of the last `history` (what the query returned), ours included.
    std::map<std::string, DbTime> last;
    for (const auto& r : recent) {
        if (r.client_id != me_) last[r.client_id] = std::max(last[r.client_id], r.at);
    }
    std::vector<std::pair<DbTime, bool>> merged;
    for (const auto& r : recent) merged.emplace_back(r.at, r.client_id == me_);
    merged.emplace_back(listed_at, true);
    std::sort(merged.begin(), merged.end());
    lists_ = std::move(merged);

    // Instances that listed within their expected cycle (plus one interval of slack) are alive;
    // one that missed its turn drops out at once, and the cycle shrinks.
    const auto cycle_for = [&](int n) {
        return std::min<milliseconds>(options_.cluster_interval * n, options_.max_own_interval);
    };
    int n = 1 + static_cast<int>(last.size());
    for (int round = 0; round < 4; ++round) {
        const auto horizon = listed_at - cycle_for(n) - options_.cluster_interval;
        int alive = 1;
        for (const auto& [client, at] : last) alive += at >= horizon ? 1 : 0;
        if (alive == n) break;
        n = alive;
    }
    instances_ = n;
    const milliseconds cycle = cycle_for(n);
    const auto horizon = listed_at - cycle - options_.cluster_interval;

    // Time is cut into slots of cycle / n on the database's clock, counted from the epoch, and
    // slot k belongs to the instance ranked k mod n by ClientId: every instance derives the same
    // plan from the same rows, so the cluster lists once per slot with no drift between them.
    std::vector<std::string> ranked = {me_};
    for (const auto& [client, at] : last) {
        if (at >= horizon) ranked.push_back(client);
    }
    std::sort(ranked.begin(), ranked.end());
    const auto rank = static_cast<long long>(std::find(ranked.begin(), ranked.end(), me_) - ranked.begin());
    const long long slot_ms = std::max<long long>(1, cycle.count() / n);
    // Our next slot after this list: at most one cycle away, so never beyond max_own_interval.
    long long k = listed_at.time_since_epoch().count() / slot_ms + 1;
    while (k % n != rank) ++k;
    // Instances that listed at the same moment cannot see each other's rows, and the slots
    // would keep them in step for ever: a random delay (up to a twentieth of a slot) parts them.
    std::uniform_int_distribution<long long> part(0, slot_ms / 20);
    next_ = DbTime{milliseconds(k * slot_ms + part(rng_))};
}

bool Coordinator::owns(DbTime run_at, DbTime listed_at) const {
    if (run_at < listed_at - options_.overdue_grace) return true;  // abandoned: whoever lists it
    // The first list that covered it (run_at < list + window) owns it.
    for (const auto& [at, mine] : lists_) {
        if (at > listed_at) break;
        if (run_at < at + options_.window) return mine;
    }
    return true;
}

}  // namespace jobs::scheduler

#include "jobs/scheduler/coordinator.h"

#include <algorithm>

namespace jobs::scheduler {

using repo::DbTime;

Coordinator::Coordinator(std::string me, CoordinatorOptions options, std::uint64_t seed)
    : me_(std::move(me)), options_(options), rng_(seed) {}

void Coordinator::on_list(DbTime listed_at, const std::vector<repo::ListRecord>& recent) {
    // The lists and departures of the last `history` (what the query returned), ours included.
    std::map<std::string, DbTime> last;
    std::map<std::string, DbTime> first;
    std::map<std::string, DbTime> left;
    lists_.clear();
    for (const auto& r : recent) {
        if (r.leave) {
            left[r.client_id] = std::max(left[r.client_id], r.at);
            continue;
        }
        lists_.push_back({r.at, r.client_id});
        if (r.client_id == me_) continue;
        last[r.client_id] = std::max(last[r.client_id], r.at);
        first.try_emplace(r.client_id, r.at);
        first[r.client_id] = std::min(first[r.client_id], r.at);
    }
    lists_.push_back({listed_at, me_});
    std::stable_sort(lists_.begin(), lists_.end(),
                     [](const auto& a, const auto& b) { return a.at < b.at; });

    // This list has seen every departure up to now: a look need only react to later ones.
    known_leave_ = std::max(known_leave_.value_or(listed_at), listed_at);
    for (const auto& [client, at] : left) known_leave_ = std::max(*known_leave_, at);
    gone_.clear();
    for (const auto& [client, at] : left) {
        const auto it = last.find(client);
        if (client != me_ && (it == last.end() || it->second <= at)) gone_[client] = at;
    }

    // Instances started together join (make their first list) at about the same moment, each
    // seeing only those that joined before it: slots by rank would differ from one to the next
    // until each had listed again, with slots listed twice and slots missed. Instead the first
    // round of such a founding group goes in join order, which needs no knowledge of later
    // joiners: the i-th to join lists i slots after the joining slot. By its end each has seen
    // them all and slots by rank take over, so a founder's second list may come up to two
    // cycles after its first: founders stay counted that long.
    if (!joined_at_) joined_at_ = listed_at;
    const long long founding_slot = founding_slot_of(listed_at, first);
    const auto interval_slot = [&](DbTime at) {
        return at.time_since_epoch().count() / options_.cluster_interval.count();
    };
    if (listed_at == *joined_at_) forming_ = interval_slot(listed_at) == founding_slot;

    // Instances that listed within their expected cycle (plus half an interval of slack), or
    // founders still in their first rounds, and that have not gone are alive; one that missed
    // its turn drops out, and the cycle shrinks.
    int n = 1;
    for (const auto& [client, at] : last) n += gone_.contains(client) ? 0 : 1;
    std::vector<std::string> ranked;
    std::size_t founders = 1;
    for (int round = 0; round < 4; ++round) {
        const auto horizon = listed_at - cycle_for(n) - options_.cluster_interval / 2;
        const auto young = listed_at - 2 * cycle_for(n);
        ranked = {me_};
        founders = 1;
        for (const auto& [client, at] : last) {
            if (gone_.contains(client)) continue;
            const DbTime joined = first.at(client);
            const bool founder = interval_slot(joined) == founding_slot;
            founders += founder ? 1 : 0;
            if (at >= horizon || (founder && joined >= young)) ranked.push_back(client);
        }
        if (static_cast<int>(ranked.size()) == n) break;
        n = static_cast<int>(ranked.size());
    }
    std::sort(ranked.begin(), ranked.end());

    std::optional<long long> not_before;
    const long long slot = slot_ms(n);
    const long long here = listed_at.time_since_epoch().count() / slot;
    const long long joined = joined_at_->time_since_epoch().count() / slot;
    if (forming_) {
        const auto group = static_cast<long long>(founders);
        if (listed_at == *joined_at_) {
            not_before = joined + group;  // we joined last of those we see
        } else if (here < joined + group) {
            not_before = joined + group + 1;  // the first round's slots are taken
        } else {
            forming_ = false;
        }
    }
    plan(listed_at, std::move(ranked), not_before, forming_ && listed_at == *joined_at_);
}

void Coordinator::plan(DbTime listed_at, std::vector<std::string> ranked,
                       std::optional<long long> not_before, bool exactly) {
    // Time is cut into slots of cycle / n on the database's clock, counted from the epoch, and
    // slot k belongs to the instance ranked k mod n by ClientId: every instance derives the same
    // plan from the same rows, so the cluster lists once per slot with no drift between them.
    n_ = static_cast<int>(ranked.size());
    const auto rank =
        static_cast<long long>(std::find(ranked.begin(), ranked.end(), me_) - ranked.begin());
    const long long slot = slot_ms(n_);
    long long k = std::max(listed_at.time_since_epoch().count() / slot + 1, not_before.value_or(0));
    while (!exactly && k % n_ != rank) ++k;
    // Instances that listed at the same moment cannot see each other's rows, and the slots
    // would keep them in step for ever: a small random delay parts them.
    std::uniform_int_distribution<long long> part(
        0, std::min<long long>(options_.part.count(), slot / 20));
    next_ = DbTime{milliseconds(k * slot + part(rng_))};

    // Looks between our lists, each just after another instance's slot: after the slot before
    // ours, to take over at once from an instance that stopped, and often enough that no gap
    // exceeds max_look_gap.
    looks_.clear();
    std::uniform_int_distribution<long long> spread(0, 300);
    std::vector<Look> candidates;
    for (long long m = listed_at.time_since_epoch().count() / slot + 1; m < k; ++m) {
        const DbTime slot_start{milliseconds(m * slot)};
        const DbTime at = slot_start + options_.settle + milliseconds(spread(rng_));
        if (at > listed_at + milliseconds(100)) candidates.push_back({at, slot_start, false});
    }
    DbTime last = listed_at;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const DbTime after = i + 1 < candidates.size() ? candidates[i + 1].at : next_;
        if (after - last > options_.max_look_gap || i + 1 == candidates.size()) {
            looks_.push_back(candidates[i]);
            last = candidates[i].at;
        }
    }
    // The look after the slot just before ours: if that slot went without a list, ours is next,
    // so we list at once rather than wait for another look.
    if (!looks_.empty() &&
        looks_.back().slot + milliseconds(slot) == DbTime{milliseconds(k * slot)}) {
        looks_.back().successor = true;
    }
}

std::optional<DbTime> Coordinator::next_look() const {
    if (looks_.empty()) return std::nullopt;
    return looks_.front().at;
}

bool Coordinator::on_look(const repo::ClusterPeek& peek) {
    if (looks_.empty()) return false;
    const Look look = looks_.front();
    looks_.pop_front();
    if (peek.last_leave && (!known_leave_ || *peek.last_leave > *known_leave_)) {
        known_leave_ = peek.last_leave;
        // Someone left: its jobs go to the first list after it went. Unless a list came well
        // after the departure (it saw the row and took them), that list is ours, now.
        if (!peek.last_list || *peek.last_list < *peek.last_leave + options_.leave_seen) {
            return true;
        }
    }
    if (!peek.last_list || *peek.last_list < look.slot) {
        // The slot's list never came. Its instance may be gone, or late, or planning from a
        // view other than ours: whatever the reason, the cluster must not go two slots without
        // a list. The instance whose slot comes next lists at once; the others look again a
        // moment later, so several lookers do not all pay for a list. Who is alive is left to
        // the lists: an instance that misses its cycle drops out of every plan.
        if (look.successor) return true;
        looks_.push_front({look.at + options_.recheck, look.slot, true});
    }
    return false;
}

long long Coordinator::founding_slot_of(DbTime listed_at,
                                        const std::map<std::string, DbTime>& first) const {
    // The interval in which the earliest list we can see was made, ours included.
    DbTime earliest = std::min(listed_at, *joined_at_);
    for (const auto& [client, at] : first) earliest = std::min(earliest, at);
    return earliest.time_since_epoch().count() / options_.cluster_interval.count();
}

long long Coordinator::slot_ms(int n) const {
    return std::max<long long>(1, cycle_for(n).count() / n);
}

milliseconds Coordinator::cycle_for(int n) const {
    return std::min<milliseconds>(options_.cluster_interval * n, options_.max_own_interval);
}

bool Coordinator::present_at(const std::string& client, DbTime at) const {
    const auto it = gone_.find(client);
    return it == gone_.end() || at < it->second;
}

bool Coordinator::owns(DbTime run_at, DbTime created_at, DbTime listed_at) const {
    if (run_at < listed_at - options_.overdue_grace) return true;  // abandoned: whoever lists it
    // The first list that covered it (run_at < list + window) once it existed owns it; if that
    // list's instance has gone, the first list made after it went does, and so on.
    auto it = std::find_if(lists_.begin(), lists_.end(), [&](const ListEntry& l) {
        return l.at <= listed_at && l.at > created_at + options_.commit_margin &&
               run_at < l.at + options_.window - options_.edge;
    });
    // Only in this list's edge band: the next list's, whoever makes it.
    if (it == lists_.end() || it->at > listed_at) return false;
    while (it != lists_.end() && it->at <= listed_at) {
        const auto gone = gone_.find(it->client);
        if (it->client == me_ || gone == gone_.end()) return it->client == me_;
        const DbTime since = std::max(gone->second, it->at);
        it = std::find_if(std::next(it), lists_.end(), [&](const ListEntry& l) {
            return l.at > since && present_at(l.client, l.at);
        });
    }
    return false;
}

}  // namespace jobs::scheduler

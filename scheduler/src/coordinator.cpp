#include "jobs/scheduler/coordinator.h"

#include <algorithm>

namespace jobs::scheduler {

using repo::DbTime;

Coordinator::Coordinator(std::string me, CoordinatorOptions options, std::uint64_t seed)
    : me_(std::move(me)), options_(options), rng_(seed) {}

void Coordinator::on_list(DbTime listed_at, const std::vector<repo::ListRecord>& recent,
                          bool truncated, std::optional<repo::ListStop> stop) {
    if (!joined_at_) joined_at_ = listed_at;
    // The lists and departures of the last `history` (what the query returned), ours included.
    // Rows under our ClientId from before we joined are an earlier run's (a restart): another
    // instance as far as jobs and slots go.
    const auto client_of = [&](const repo::ListRecord& r) {
        return r.client_id == me_ && r.at < *joined_at_ ? me_ + " (earlier run)" : r.client_id;
    };
    std::map<std::string, DbTime> last;
    std::map<std::string, DbTime> first;
    std::map<std::string, DbTime> left;
    lists_.clear();
    for (const auto& r : recent) {
        const std::string client = client_of(r);
        if (r.leave) {
            left[client] = std::max(left[client], r.at);
            continue;
        }
        lists_.push_back({r.at, client, r.truncated, r.stop});
        if (client == me_) continue;
        last[client] = std::max(last[client], r.at);
        const auto [it, added] = first.try_emplace(client, r.at);
        if (!added) it->second = std::min(it->second, r.at);
    }
    lists_.push_back({listed_at, me_, truncated, stop});
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

    // Instances started together join (make their first list) within moments of each other,
    // each seeing only those that joined before it: slots by rank would differ from one to the
    // next until each had listed again, with slots listed twice and slots missed. So the first
    // round of such founders goes in join order, which needs no knowledge of later joiners: the
    // i-th to join lists i intervals after the interval of the first join. By its end each has
    // seen all, and slots by rank take over; a founder's second list may then come up to two
    // cycles after its first, so founders stay counted that long.
    DbTime earliest = *joined_at_;
    for (const auto& [client, at] : first) earliest = std::min(earliest, at);
    const auto founder = [&](DbTime joined) {
        return joined < earliest + options_.cluster_interval;
    };
    if (listed_at == *joined_at_) forming_ = founder(listed_at);

    // Alive: listed within the cycle the cluster planned under (plus half an interval), or a
    // founder in its first rounds, and not gone. One pass: a cycle recomputed from a smaller
    // count would also drop live instances that listed a full old cycle ago.
    int basis = n_;
    if (listed_at == *joined_at_) {
        basis = 1;
        for (const auto& [client, at] : last) basis += gone_.contains(client) ? 0 : 1;
    }
    const auto horizon = listed_at - cycle_for(basis) - options_.cluster_interval / 2;
    const auto young = listed_at - 2 * cycle_for(basis) - options_.cluster_interval;
    std::vector<std::string> ranked = {me_};
    long long founders = 1;
    for (const auto& [client, at] : last) {
        if (gone_.contains(client)) continue;
        const DbTime joined = first.at(client);
        if (at < horizon && !(founder(joined) && joined >= young)) continue;
        ranked.push_back(client);
        founders += founder(joined) ? 1 : 0;
    }
    std::sort(ranked.begin(), ranked.end());

    std::optional<DbTime> not_before;
    const long long interval = options_.cluster_interval.count();
    const long long anchor = earliest.time_since_epoch().count() / interval;
    const long long here = listed_at.time_since_epoch().count() / interval;
    const bool joining = forming_ && listed_at == *joined_at_;
    if (joining) {
        not_before = DbTime{milliseconds((anchor + founders) * interval)};  // we are the last seen
    } else if (forming_ && here < anchor + founders) {
        not_before = DbTime{milliseconds((anchor + founders + 1) * interval)};  // round not over
    } else {
        forming_ = false;
    }
    plan(listed_at, std::move(ranked), not_before, joining);
}

void Coordinator::plan(DbTime listed_at, std::vector<std::string> ranked,
                       std::optional<DbTime> not_before, bool exactly) {
    // Time is cut into slots of one interval on the database's clock, counted from the epoch,
    // and slot k belongs to the instance ranked k mod n by ClientId: every instance derives the
    // same plan from the same rows, so the cluster lists once per slot with no drift between them.
    n_ = static_cast<int>(ranked.size());
    const auto rank =
        static_cast<long long>(std::find(ranked.begin(), ranked.end(), me_) - ranked.begin());
    const long long slot = options_.cluster_interval.count();
    DbTime ours;
    if (exactly) {
        ours = *not_before;
    } else {
        long long k = listed_at.time_since_epoch().count() / slot + 1;
        if (not_before) k = std::max(k, (not_before->time_since_epoch().count() + slot - 1) / slot);
        while (k % n_ != rank) ++k;
        ours = DbTime{milliseconds(k * slot)};
    }
    // Should two instances plan the same slot (their views differ for a moment) or the database
    // not serialize lists, a small random delay keeps them from listing at the same instant.
    std::uniform_int_distribution<long long> part(
        0, std::min<long long>(options_.part.count(), slot / 20));
    next_ = ours + milliseconds(part(rng_));

    // Looks between our lists, each just after another instance's slot: after the slot before
    // ours, to take over at once from an instance that stopped, and often enough that no gap
    // exceeds max_look_gap.
    looks_.clear();
    std::uniform_int_distribution<long long> spread(0, 300);
    std::vector<Look> candidates;
    for (long long m = listed_at.time_since_epoch().count() / slot + 1;
         DbTime{milliseconds(m * slot)} < ours; ++m) {
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
    if (!looks_.empty() && looks_.back().after + milliseconds(slot) >= ours) {
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
    DbTime needed = look.after;  // a list must have been made since
    if (peek.last_leave && (!known_leave_ || *peek.last_leave > *known_leave_)) {
        // Someone left: its jobs go to the first list made after it went (one made a moment
        // later surely saw its row).
        known_leave_ = peek.last_leave;
        needed = std::max(needed, *peek.last_leave + options_.leave_seen);
    }
    if (peek.last_list && *peek.last_list >= needed) return false;
    // No list since. The slot's instance may be gone, or late, or planning from a view other
    // than ours: whatever the reason, the cluster must not go two slots without a list. The
    // instance whose slot comes next lists at once; the others look again a moment later, so
    // several lookers do not all pay for a list. Who is alive is left to the lists: an instance
    // that misses its turns drops out of every plan.
    if (look.successor) return true;
    looks_.push_front({look.at + options_.recheck, needed, true});
    return false;
}

milliseconds Coordinator::cycle_for(int n) const { return options_.cluster_interval * n; }

milliseconds Coordinator::history() const {
    return std::max(options_.history, 3 * cycle_for(n_) + 2 * options_.cluster_interval);
}

bool Coordinator::present_at(const std::string& client, DbTime at) const {
    const auto it = gone_.find(client);
    return it == gone_.end() || at < it->second;
}

bool Coordinator::owns(DbTime run_at, DbTime created_at, DbTime listed_at, repo::JobId id) const {
    if (run_at < listed_at - options_.overdue_grace) return true;  // abandoned: whoever lists it
    // The first list that covered it (run_at < list + window, and up to its last row if it was
    // truncated) once it existed owns it; if that list's instance has gone, the first list made
    // after it went does, and so on.
    auto it = std::find_if(lists_.begin(), lists_.end(), [&](const ListEntry& l) {
        return l.at <= listed_at && l.at > created_at + options_.commit_margin &&
               run_at < l.at + options_.window - options_.edge &&
               (!l.truncated || (l.stop && repo::within(*l.stop, run_at, id)));
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

#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "jobs/repo/types.h"

namespace jobs::scheduler {

using std::chrono::milliseconds;

struct CoordinatorOptions {
    // The cluster as a whole lists about this often, however many instances there are. A job
    // added with 10.1 s of notice is listed by the first list after its insertion, so this plus
    // the random part must stay below 10 s less the time to lock it.
    milliseconds cluster_interval{9'700};
    milliseconds window{12'000};      // what a list covers ahead
    milliseconds overdue_grace{500};  // a job still free this long after RunAt is abandoned
    // How far back lists are read, at least: a joining instance must see the last list of each
    // instance (one cycle of n intervals back, up to 32 instances). Once in a cluster of n, three
    // cycles and two intervals: a founder's second list may come two cycles after its first,
    // and an instance that joined long ago must show a list older than that.
    milliseconds history{320'000};
    // No instance goes longer than this without a list or a look of its own, so if every other
    // instance dies at once it notices within this much plus one interval, well inside 30 s.
    milliseconds max_look_gap{22'000};
    // A slot's list is looked for this long after the slot starts (its random part included).
    milliseconds settle{500};
    milliseconds part{150};  // random delay of a list within its slot
    // A look that finds a slot without its list, and whose instance is not next in line, looks
    // again this much later before listing itself.
    milliseconds recheck{1'500};
    // A list made this long after a departure's row surely saw it committed.
    milliseconds leave_seen{200};
    // A list this soon after a job's CreateAt may not have seen the insert committed: the next
    // list owns the job.
    milliseconds commit_margin{20};
    // A job due within this much of a list's window edge belongs to the next list: the list's
    // LogDate and the moment its window was measured from may differ by a few ms.
    milliseconds edge{50};
};

// Coordination through the database alone. Every list returns the lists (and announced
// departures) of the last `history`, so each instance knows, without any other channel:
//  - how many instances are polling: those that listed within their expected cycle;
//  - when to list next: in its own slots, so the cluster lists about every cluster_interval in
//    total (one instance of N lists every N x interval);
//  - when to look: between its own lists it reads, in one row, when the cluster last listed. A
//    missed slot (an instance died) makes the next slot's instance list at once (the others
//    check again a moment later), and a departure makes the instance list at once;
//  - which jobs are its own: a job belongs to the first list that covered it after it was
//    created (the window is longer than the notice a job gets), or, if that
//    list's instance has gone, to the first list made after it went. The owner locks it
//    straight away (no GetJob, no lost races); a job still free after its RunAt is abandoned
//    and belongs to whoever lists it next.
class Coordinator {
  public:
    Coordinator(std::string me, CoordinatorOptions options, std::uint64_t seed);

    // After each of this instance's lists, made at `listed_at` (database time); `truncated`
    // and `stop` as in ReadyJobs.
    void on_list(repo::DbTime listed_at, const std::vector<repo::ListRecord>& recent,
                 bool truncated = false, std::optional<repo::ListStop> stop = std::nullopt);
    // After a look between lists: true when this instance should list now.
    bool on_look(const repo::ClusterPeek& peek);

    int instances() const { return n_; }
    // When this instance should list next (database time).
    repo::DbTime next_list() const { return next_; }
    // When it should look next, if before its next list.
    std::optional<repo::DbTime> next_look() const;
    // How far back each list must read the log.
    milliseconds history() const;
    // Whether a job with this RunAt, CreateAt and Id, seen in the list made at `listed_at`, is
    // ours.
    bool owns(repo::DbTime run_at, repo::DbTime created_at, repo::DbTime listed_at,
              repo::JobId id) const;

  private:
    struct ListEntry {
        repo::DbTime at;
        std::string client;
        bool truncated = false;  // covers only the jobs up to `stop` (none without one)
        std::optional<repo::ListStop> stop;
    };
    struct Look {
        repo::DbTime at;
        repo::DbTime after;      // a list must have been made since: the slot's start
        bool successor = false;  // lists at once if none was
    };

    bool present_at(const std::string& client, repo::DbTime at) const;
    // One list per instance: n intervals.
    milliseconds cycle_for(int n) const;
    // Our next slot: the first by rank from `not_before` on, or exactly `not_before`.
    void plan(repo::DbTime listed_at, std::vector<std::string> ranked,
              std::optional<repo::DbTime> not_before, bool exactly);

    const std::string me_;
    const CoordinatorOptions options_;
    std::mt19937_64 rng_;
    std::vector<ListEntry> lists_;              // oldest first, this instance's last list included
    std::map<std::string, repo::DbTime> gone_;  // instances that wrote LEAVE, and when
    std::optional<repo::DbTime> known_leave_;   // the latest departure already acted on
    std::optional<repo::DbTime> joined_at_;     // our first list
    bool forming_ = false;  // we joined with instances started together, in their first round
    std::deque<Look> looks_;
    int n_ = 1;
    repo::DbTime next_{};
};

}  // namespace jobs::scheduler

#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobs::repo {

using JobId = std::int64_t;
using LockToken = std::int64_t;

// An instant on the database's clock (UTC, millisecond precision). Every stamp and every
// scheduling decision is expressed on this clock, never on the host's.
using DbTime = std::chrono::sys_time<std::chrono::milliseconds>;

// The exercise's states (0-2) plus the two outcomes a real scheduler needs.
enum class JobState : int {
    Created = 0,
    Locked = 1,
    Completed = 2,
    Failed = 3,       // the task ran and reported an error
    Interrupted = 4,  // the task started but its instance died before reporting
};

// Whether `state` is one of JobState's values: rows written by hand may hold any integer, and a
// JobState keeps it as read.
constexpr bool is_known(JobState state) {
    switch (state) {
        case JobState::Created:
        case JobState::Locked:
        case JobState::Completed:
        case JobState::Failed:
        case JobState::Interrupted:
            return true;
    }
    return false;
}

// "created", "locked", "completed", "failed", "interrupted", or "unknown".
constexpr std::string_view state_name(JobState state) {
    switch (state) {
        case JobState::Created:
            return "created";
        case JobState::Locked:
            return "locked";
        case JobState::Completed:
            return "completed";
        case JobState::Failed:
            return "failed";
        case JobState::Interrupted:
            return "interrupted";
    }
    return "unknown";
}

struct Job {
    JobId id = 0;
    DbTime run_at;
    DbTime create_at;
    std::optional<DbTime> lock_at;
    std::optional<DbTime> execute_at;
    JobState state = JobState::Created;  // as read, known or not (see is_known)
    std::optional<std::string> locked_by;
    std::optional<LockToken> lock_token;
    std::optional<std::string> payload;
    std::optional<DbTime> started_at;   // set once, when a worker starts the task
    std::optional<DbTime> lease_until;  // the lock (or, once started, the run) expires then
    int attempts = 0;                   // how many times it was locked
};

// The most rows one list may be asked for.
inline constexpr std::size_t kMaxListLimit = 1'000'000;
// A list after a truncated one leaves out only the jobs created at least this long before that
// list and due at least this long before its window's end, of those up to its stop: those it
// surely covered, whatever margins the instances' coordination allows (CoordinatorOptions'
// commit_margin and edge must be smaller).
inline constexpr std::chrono::milliseconds kFrontierSlack{1'000};
// ... and only until this long after the later of its RunAt and that list: by then its owner has
// locked it, or is gone and the job, free after its RunAt, is anyone's (so no job stays hidden
// while every list is truncated).
inline constexpr std::chrono::milliseconds kFrontierHold{5'000};

// A list bounded in rows that held its limit covers the jobs up to its last row, in list order
// (RunAt, then Id), not its whole window. Its QUERYLIST row's JobId names that row.
struct ListStop {
    DbTime run_at;
    JobId id = 0;
    friend bool operator==(const ListStop&, const ListStop&) = default;
};

// Whether a job (`run_at`, `id`) is within a truncated list's rows, in list order.
inline bool within(const ListStop& stop, DbTime run_at, JobId id) {
    return run_at < stop.run_at || (run_at == stop.run_at && id <= stop.id);
}

// A list some instance made (a QUERYLIST row of WorkerLogs), or its announced departure (LEAVE).
struct ListRecord {
    std::string client_id;
    DbTime at;
    bool leave = false;
    // The list held its limit: it covers the jobs up to `stop` only, none when its last row
    // could not be read (no stop).
    bool truncated = false;
    std::optional<ListStop> stop;
};

// The cheap look at the cluster between lists (PeekLists, one row): when anyone last listed and
// when anyone last announced leaving, with the database clock.
struct ClusterPeek {
    DbTime db_now;
    std::optional<DbTime> last_list;
    std::optional<DbTime> last_leave;
    std::chrono::microseconds clock{0};  // as in ReadyJobs
};

// GetReadyJobs' answer, with the database clock read in the same round trip so the caller can
// measure its offset without another statement, and the lists instances made lately, so they
// can space their polls and share the jobs out without talking to each other.
// A row a list returned and could not read (a time that is not one, a NULL where a value must
// be): skipped, so one bad row never stops a list, and reported.
struct UnreadableRow {
    std::optional<JobId> job_id;  // a Jobs row's id when it could be read; none for a log row
    std::string reason;
};

struct ReadyJobs {
    // The list's stamp, its QUERYLIST row's LogDate: the statement's moment, in ms, or a
    // millisecond after the previous list's if that is later (lists are serialized, and no
    // two share a stamp). Not a clock sample.
    DbTime db_now;
    // The database's clock read as late as the statement allows, in microseconds since the
    // epoch: the tightest sample for an instance's clock.
    std::chrono::microseconds clock{0};
    std::vector<Job> jobs;
    std::vector<ListRecord> recent_lists;  // before this one, oldest first
    // This list held its limit: as ListRecord. The next list (anyone's) goes on after it.
    bool truncated = false;
    std::optional<ListStop> stop;
    std::vector<UnreadableRow> unreadable;  // jobs and log rows skipped
};

// A task that ended well, to be recorded under the lock its token names; an empty result is
// stored as none.
struct Completion {
    JobId id = 0;
    LockToken token = 0;
    std::optional<std::string> result;
};

// "Lost the race" is an expected outcome, not an error.
// Held: another transaction holds the job's row (PostgreSQL), so nobody could lock it; unlike
// Lost, the job may still be free, and trying again once the row is let go may win it.
enum class LockOutcome { Won, Lost, Held };

struct Lock {
    LockOutcome outcome = LockOutcome::Lost;
    LockToken token = 0;  // meaningful when Won: pass it to ProcessLockedJob
};

struct Statistics {
    std::map<std::string, long long> actions;  // WorkerLogs count by Action
    std::map<int, long long> states;           // Jobs count by State (any value, as read)
    long long early_lock = 0;                  // RunAt > LockAt
    long long early_exec = 0;                  // RunAt > ExecuteAt
    long long delay_exceed = 0;                // completed with ExecuteAt - RunAt > 30 s
    long long late_created = 0;                // CreateAt > RunAt - MinPrepareTime
    long long duplicates = 0;  // jobs whose task ran more than once (COMPLETE or ERROR > 1)
    // Statements the instances and their workers sent: WorkerLogs rows but CREATE, one per
    // (ClientId, Action, LogDate), as a batch's rows share its stamp. A lower bound: two
    // statements of one kind in one millisecond count once.
    long long statements = 0;
    std::vector<long long> delays_ms;  // ExecuteAt - RunAt of completed jobs, by RunAt
    std::vector<long long> run_at_ms;  // their RunAt (epoch ms), same order
};

}  // namespace jobs::repo

#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/repo/types.h"

namespace jobs::repo {

// The most jobs one create_jobs statement takes.
inline constexpr std::size_t kMaxCreateBatch = 10'000;

// What the harness and operators do to the database, apart from scheduling: none of it is an
// instance's call, so none of it is in JobStore. Only CreateJob is logged (CREATE).
class AdminStore {
  public:
    virtual ~AdminStore() = default;

    // Refuses run_at < now + MinPrepareTime (database clock) with RepoError(BadInput).
    virtual JobId create_job(DbTime run_at, std::optional<std::string> payload) = 0;
    // Many jobs without payloads in one statement: all, or none (RepoError(BadInput)) when one
    // is too soon. At most kMaxCreateBatch.
    virtual void create_jobs(const std::vector<DbTime>& run_ats) = 0;
    // Empties both tables.
    virtual void reset() = 0;
    // The figures the harness scores a run with.
    virtual Statistics statistics() = 0;
    virtual DbTime db_now() = 0;
    // The database's open connections by application name (PostgreSQL's pg_stat_activity, of
    // this database); none where the database has no such view (SQLite).
    virtual std::map<std::string, long long> connections() = 0;
};

}  // namespace jobs::repo

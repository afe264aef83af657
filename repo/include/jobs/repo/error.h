#pragma once

#include <stdexcept>
#include <string>

namespace jobs::repo {

enum class ErrorKind {
    BadInput,     // malformed URL, RunAt too soon, oversized payload
    NotFound,     // no job with that id
    NotLocked,    // ProcessLockedJob on a job this caller does not hold
    Schema,       // tables missing and not creatable, or incompatible
    Unavailable,  // the database cannot be reached (after retries)
    RowHeld,      // another transaction holds the job's row: nothing written, try again later
    Database,     // any other error the database reported
};

// Errors carry the call and backend they came from as they rise (SOCI's habit).
class RepoError : public std::runtime_error {
  public:
    RepoError(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }

  private:
    ErrorKind kind_;
};

}  // namespace jobs::repo

#pragma once

#include <memory>
#include <string_view>

#include <soci/soci.h>

#include "jobs/repo/connection_url.h"

namespace jobs::repo {

// The SQL dialect behind a session: ODBC sessions speak their driver's database's SQL.
enum class Dialect { Sqlite, Postgresql };

// Opens a SOCI session for a URL, configured as every program needs it (SQLite: WAL, a busy
// timeout, foreign keys). Throws RepoError(BadInput / Unavailable) with the URL's backend named.
std::unique_ptr<soci::session> open_session(const ConnectionUrl& url);
Dialect dialect_of(soci::session& sql, const ConnectionUrl& url);

}  // namespace jobs::repo

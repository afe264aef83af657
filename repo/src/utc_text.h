#pragma once

#include <string>

#include "jobs/repo/types.h"

namespace jobs::repo {

// "YYYY-MM-DD HH:MM:SS.SSS" in UTC: SQLite's canonical time text.
std::string utc_text(DbTime t);

}  // namespace jobs::repo

#pragma once

#include <string>
#include <string_view>

namespace jobs::repo {

enum class BackendKind { Sqlite3, Postgresql, Odbc };

// SOCI's URL form "backend://connection-string", e.g. "sqlite3://db=jobs.db".
struct ConnectionUrl {
    BackendKind backend = BackendKind::Sqlite3;
    std::string connection;  // the part after "://", handed to the SOCI backend

    // Throws RepoError(BadInput) naming what is wrong.
    static ConnectionUrl parse(std::string_view url);
    std::string backend_name() const;
};

// `url` with its secrets replaced by "***": the value of every password=/PWD= key (any case),
// and the password of a user:password@host part. What errors and logs may show of a URL.
std::string redacted(std::string_view url);

// The embedded default: an SQLite file in the working directory.
inline constexpr std::string_view kDefaultUrl = "sqlite3://db=jobs.db";

// Credentials need not appear in the process list: "env:NAME" reads the URL from the
// environment variable NAME, "file:PATH" from the first line of a file; anything else is the URL.
std::string resolve_url(std::string_view spec);

}  // namespace jobs::repo

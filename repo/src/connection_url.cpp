#include "jobs/repo/connection_url.h"

#include <cstdlib>
#include <fstream>

#include "jobs/repo/error.h"

namespace jobs::repo {

ConnectionUrl ConnectionUrl::parse(std::string_view url) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        throw RepoError(ErrorKind::BadInput,
                        "malformed database URL (expected backend://connection, e.g. "
                        "sqlite3://db=jobs.db): '" +
                            std::string(url) + "'");
    }
    const std::string_view scheme = url.substr(0, sep);
    ConnectionUrl result;
    result.connection = std::string(url.substr(sep + 3));
    if (scheme == "sqlite3" || scheme == "sqlite") {
        result.backend = BackendKind::Sqlite3;
    } else if (scheme == "postgresql" || scheme == "postgres") {
        result.backend = BackendKind::Postgresql;
    } else if (scheme == "odbc") {
        result.backend = BackendKind::Odbc;
    } else {
        throw RepoError(ErrorKind::BadInput, "unsupported database backend '" +
                                                 std::string(scheme) +
                                                 "' (use sqlite3, postgresql or odbc)");
    }
    if (result.connection.empty()) {
        throw RepoError(ErrorKind::BadInput,
                        "database URL '" + std::string(url) + "' has no connection string");
    }
    return result;
}

std::string ConnectionUrl::backend_name() const {
    switch (backend) {
        case BackendKind::Sqlite3:
            return "sqlite3";
        case BackendKind::Postgresql:
            return "postgresql";
        case BackendKind::Odbc:
            return "odbc";
    }
    return "unknown";
}

std::string resolve_url(std::string_view spec) {
    if (spec.starts_with("env:")) {
        const std::string name(spec.substr(4));
        const char* value = std::getenv(name.c_str());
        if (value == nullptr || *value == '\0') {
            throw RepoError(ErrorKind::BadInput, "environment variable " + name + " is not set");
        }
        return value;
    }
    if (spec.starts_with("file:")) {
        const std::string path(spec.substr(5));
        std::ifstream in(path);
        std::string line;
        if (!in || !std::getline(in, line) || line.empty()) {
            throw RepoError(ErrorKind::BadInput, "cannot read a database URL from " + path);
        }
        return line;
    }
    return std::string(spec);
}

}  // namespace jobs::repo

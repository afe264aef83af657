#include "jobs/repo/connection_url.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "jobs/repo/error.h"

namespace jobs::repo {

namespace {

// What may precede a key: libpq's spaces, ODBC's semicolons, a URI's ? and &.
bool before_key(char c) {
    return c == ' ' || c == '\t' || c == ';' || c == '?' || c == '&' || c == '/';
}

// The end of a value starting at `i`. ODBC's runs to the next ';' (spaces included), a
// {braced} one to its '}' ('}}' being an escaped brace); libpq's to a space or a URI's '&', a
// 'quoted' one to its closing quote ('\' escaping).
std::size_t value_end(std::string_view s, std::size_t i, bool odbc) {
    if (odbc && i < s.size() && s[i] == '{') {
        for (std::size_t j = i + 1; j < s.size(); ++j) {
            if (s[j] != '}') continue;
            if (j + 1 < s.size() && s[j + 1] == '}') {
                ++j;
                continue;
            }
            return j + 1;
        }
        return s.size();
    }
    if (!odbc && i < s.size() && s[i] == '\'') {
        for (std::size_t j = i + 1; j < s.size(); ++j) {
            if (s[j] == '\\') {
                ++j;
                continue;
            }
            if (s[j] == '\'') return j + 1;
        }
        return s.size();
    }
    while (i < s.size() && (odbc ? s[i] != ';' : s[i] != ' ' && s[i] != '\t' && s[i] != '&')) ++i;
    return i;
}

}  // namespace

std::string redacted(std::string_view url) {
    const bool odbc = url.starts_with("odbc://");
    std::string out;
    std::size_t i = 0;
    while (i < url.size()) {
        // A key=value whose key is a password's (libpq's "password", ODBC's "PWD").
        const std::size_t eq = url.find('=', i);
        if (eq == std::string_view::npos) break;
        std::size_t key_end = eq;
        while (key_end > i && url[key_end - 1] == ' ') --key_end;
        std::size_t key_begin = key_end;
        while (key_begin > i && !before_key(url[key_begin - 1])) --key_begin;
        std::string key(url.substr(key_begin, key_end - key_begin));
        for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t value_begin = eq + 1;
        while (value_begin < url.size() && url[value_begin] == ' ') ++value_begin;
        const std::size_t end = value_end(url, value_begin, odbc);
        out.append(url.substr(i, value_begin - i));
        if (key == "password" || key == "pwd") {
            out += "***";
        } else {
            out.append(url.substr(value_begin, end - value_begin));
        }
        i = end;
    }
    out.append(url.substr(std::min(i, url.size())));
    // A URI's user:password@host.
    const auto scheme = out.find("://");
    const auto at = out.find('@', scheme == std::string::npos ? 0 : scheme + 3);
    if (scheme != std::string::npos && at != std::string::npos) {
        const auto colon = out.find(':', scheme + 3);
        if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
    return out;
}

ConnectionUrl ConnectionUrl::parse(std::string_view url) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        throw RepoError(ErrorKind::BadInput,
                        "malformed database URL (expected backend://connection, e.g. "
                        "sqlite3://db=jobs.db): '" +
                            redacted(url) + "'");
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
                        "database URL '" + redacted(url) + "' has no connection string");
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

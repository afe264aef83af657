#include "jobs/repo/session.h"

#include <soci/odbc/soci-odbc.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <unistd.h>

#include "jobs/common/mutex.h"
#include "jobs/common/mutex_lock.h"
#include "jobs/repo/error.h"

namespace jobs::repo {
namespace {

const soci::backend_factory& factory_for(BackendKind backend) {
    switch (backend) {
        case BackendKind::Sqlite3:
            return *soci::factory_sqlite3();
        case BackendKind::Postgresql:
            return *soci::factory_postgresql();
        case BackendKind::Odbc:
            return *soci::factory_odbc();
    }
    throw RepoError(ErrorKind::BadInput, "unknown backend");
}

// SOCI's sqlite3 backend takes "db=FILE timeout=SECONDS"; a bare path is accepted too.
std::string sqlite_connection(const std::string& connection) {
    std::string result =
        connection.find('=') == std::string::npos ? "db=" + connection : connection;
    if (result.find("timeout=") == std::string::npos) result += " timeout=10";
    return result;
}

// libpq's TCP keepalives and user timeout, unless the URL sets its own: a half-open connection (a
// host or a network gone without a word) is noticed in about 10 s, not after the kernel's
// two hours, and its statement fails over to a reconnect.
std::string postgresql_connection(const std::string& connection) {
    // A libpq URI ("postgresql://user@host/db?...") takes no key=value pairs appended.
    if (connection.starts_with("postgresql://") || connection.starts_with("postgres://"))
        return connection;
    std::string result = connection;
    if (result.find("keepalives") == std::string::npos)
        result += " keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3";
    if (result.find("tcp_user_timeout") == std::string::npos) result += " tcp_user_timeout=10000";
    return result;
}

// SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries: a worker whose
// completion meets a burst's writes would lose tens of milliseconds. Writes here hold the lock
// for well under a millisecond, so try every half millisecond, for up to 10 s.
int retry_soon(void*, int attempts) {
    if (attempts >= 20'000) return 0;
    usleep(500);
    return 1;
}

// psqlODBC's connect calls setlocale(LC_CTYPE, "") to guess the client encoding
// (multibyte.c, derive_locale_encoding), and setlocale is not safe against a concurrent
// call: two threads connecting at once race in the C library (ThreadSanitizer sees it). Connects
// are rare and slow anyway, so an ODBC connect waits for any other in this process.
Mutex odbc_connect_mutex;

std::unique_ptr<soci::session> connect(const ConnectionUrl& url, const std::string& connection) {
    if (url.backend != BackendKind::Odbc)
        return std::make_unique<soci::session>(factory_for(url.backend), connection);
    MutexLock lock(odbc_connect_mutex);
    return std::make_unique<soci::session>(factory_for(url.backend), connection);
}

}  // namespace

std::unique_ptr<soci::session> open_session(const ConnectionUrl& url) {
    const std::string connection =
        url.backend == BackendKind::Sqlite3      ? sqlite_connection(url.connection)
        : url.backend == BackendKind::Postgresql ? postgresql_connection(url.connection)
                                                 : url.connection;
    std::unique_ptr<soci::session> sql;
    try {
        sql = connect(url, connection);
    } catch (const soci::soci_error& e) {
        throw RepoError(ErrorKind::Unavailable, "cannot connect to " + url.backend_name() +
                                                    " database: " + redacted(e.what()));
    }
    if (dialect_of(*sql, url) == Dialect::Sqlite) {
        // WAL lets readers and one writer proceed together across processes. FULL syncs the
        // log at every commit: a START or a completion that returned survives a power loss
        // (NORMAL could roll back a START whose task had already run).
        try {
            // Reading the mode takes no lock; switching does, so switch only once per file.
            std::string mode;
            *sql << "PRAGMA journal_mode", soci::into(mode);
            if (mode != "wal") *sql << "PRAGMA journal_mode = WAL", soci::into(mode);
            *sql << "PRAGMA synchronous = FULL";
            if (url.backend == BackendKind::Sqlite3) {
                auto* native = static_cast<soci::sqlite3_session_backend*>(sql->get_backend());
                sqlite_api::sqlite3_busy_handler(native->conn_, &retry_soon, nullptr);
            }
        } catch (const soci::soci_error& e) {
            throw RepoError(ErrorKind::Unavailable,
                            std::string("cannot configure the SQLite database: ") + e.what());
        }
    }
    return sql;
}

Dialect dialect_of(soci::session& sql, const ConnectionUrl& url) {
    switch (url.backend) {
        case BackendKind::Sqlite3:
            return Dialect::Sqlite;
        case BackendKind::Postgresql:
            return Dialect::Postgresql;
        case BackendKind::Odbc:
            break;
    }
    auto* odbc = static_cast<soci::odbc_session_backend*>(sql.get_backend());
    switch (odbc->get_database_product()) {
        case soci::odbc_session_backend::prod_sqlite:
            return Dialect::Sqlite;
        case soci::odbc_session_backend::prod_postgresql:
            return Dialect::Postgresql;
        default:
            throw RepoError(ErrorKind::BadInput,
                            "the ODBC data source is neither SQLite nor PostgreSQL, the two "
                            "databases this version speaks through ODBC");
    }
}

}  // namespace jobs::repo

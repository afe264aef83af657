# shellcheck shell=bash
# Private unixODBC configuration (no system files touched).
#
# Usage (source this file):  odbc_setup <dir> <pg-port>
# Writes <dir>/odbcinst.ini, <dir>/odbc.ini, exports ODBCSYSINI and ODBCINI and
# defines DSNs jobs_pg (PostgreSQL on 127.0.0.1:<pg-port>) and jobs_sqlite
# (<dir>/odbc.db).

# Full path of an ODBC driver library; falls back to the bare name, which
# unixODBC resolves through the dynamic loader.
_odbc_driver_path() {
    local p
    p=$(find /usr/lib /usr/local/lib -name "$1" 2>/dev/null | sort | head -n 1)
    if [[ -z "$p" ]]; then
        echo "odbc.sh: warning: $1 not found under /usr/lib (install odbc-postgresql / libsqliteodbc)" >&2
        p=$1
    fi
    echo "$p"
}

odbc_setup() {
    local dir=${1:?usage: odbc_setup <dir> <pg-port>} port=${2:?usage: odbc_setup <dir> <pg-port>}
    dir=$(cd "$dir" && pwd)
    local pg_drv sqlite_drv
    pg_drv=$(_odbc_driver_path psqlodbcw.so)
    sqlite_drv=$(_odbc_driver_path libsqlite3odbc.so)

    cat >"$dir/odbcinst.ini" <<INI
[PostgreSQL Unicode]
Description=PostgreSQL ODBC driver (Unicode)
Driver=$pg_drv

[SQLite3]
Description=SQLite3 ODBC driver
Driver=$sqlite_drv
INI

    cat >"$dir/odbc.ini" <<INI
[jobs_pg]
Driver=PostgreSQL Unicode
Servername=127.0.0.1
Port=$port
Database=jobs
Username=jobs
UseServerSidePrepare=1

[jobs_sqlite]
Driver=SQLite3
Database=$dir/odbc.db
Timeout=10000
INI

    # ODBCSYSINI: dir holding odbcinst.ini (drivers); ODBCINI: DSN file.
    export ODBCSYSINI="$dir"
    export ODBCINI="$dir/odbc.ini"
    echo "odbc.sh: DSNs jobs_pg, jobs_sqlite in $ODBCINI"
}

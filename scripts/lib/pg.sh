# shellcheck shell=bash
# Private, throw-away PostgreSQL server for tests and benchmarks.
#
# Usage (source this file, do not execute it):
#   source scripts/lib/pg.sh
#   pg_start "$(mktemp -d)"   # sets+exports PG_BIN PG_DATA PG_PORT PG_URL PG_SOCKET_DIR PG_RUNAS
#   ...
#   pg_stop                   # safe to call more than once / when nothing runs
#
# The server keeps PostgreSQL's defaults (max_connections = 100 among them) except one:
# fsync = off, since these servers are thrown away; PG_FSYNC=on keeps that default too.
#
# Layout under <dir>: data/ (PGDATA), postgres.log, and the unix socket itself.
# All server settings go into data/postgresql.conf, so a test can restart the
# server with just: $PG_RUNAS "$PG_BIN/pg_ctl" -D "$PG_DATA" -l <log> -w start

# Newest installed server version (e.g. /usr/lib/postgresql/15/bin).
pg_find_bin() {
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [[ -z "$d" || ! -x "$d/initdb" ]]; then
        echo "pg.sh: no PostgreSQL server found under /usr/lib/postgresql/*/bin (run scripts/setup.sh)" >&2
        return 1
    fi
    echo "$d"
}

# First port >= $1 that nobody listens on / can be bound on 127.0.0.1.
pg_free_port() {
    python3 - "${1:-55432}" <<'PY'
import socket, sys
start = int(sys.argv[1])
for p in range(start, start + 1000):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit("pg.sh: no free port found")
PY
}

# Run a PostgreSQL binary as the right user: the server refuses to run as
# root, so as root everything goes through the 'postgres' system user.
_pg_as() {
    if [[ -n "${PG_RUNAS:-}" ]]; then
        # shellcheck disable=SC2086
        $PG_RUNAS "$@"
    else
        "$@"
    fi
}

pg_start() {
    local dir=${1:?usage: pg_start <empty-dir>}
    dir=$(cd "$dir" && pwd)

    PG_BIN=$(pg_find_bin) || return 1
    PG_DATA="$dir/data"
    PG_SOCKET_DIR="$dir"
    PG_LOG="$dir/postgres.log"
    PG_RUNAS=""
    if [[ $(id -u) -eq 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "pg.sh: running as root but there is no 'postgres' user to run the server" >&2
            return 1
        fi
        PG_RUNAS="runuser -u postgres --"
        chown postgres: "$dir"
        # postgres must be able to reach $dir (e.g. a TMPDIR under /root would not work).
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "pg.sh: user postgres cannot write to $dir (choose a dir under /tmp)" >&2
            return 1
        fi
    fi
    export PG_BIN PG_DATA PG_SOCKET_DIR PG_LOG PG_RUNAS

    # -U postgres: same superuser name whoever runs initdb; trust: loopback only.
    echo "pg.sh: initdb $PG_DATA ($("$PG_BIN/postgres" --version))"
    if ! _pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        return 1
    fi

    # Another run may grab the same port between the check and the bind:
    # retry a few times with the next free port.
    local attempt port=55432
    for attempt in 1 2 3 4 5; do
        port=$(pg_free_port "$port") || return 1
        # Settings live in the conf file (last one wins) so restarts keep them.
        cat >>"$PG_DATA/postgresql.conf" <<CONF

# --- jobs test server (scripts/lib/pg.sh), attempt $attempt ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_SOCKET_DIR'
fsync = ${PG_FSYNC:-off}
CONF
        echo "pg.sh: starting PostgreSQL on 127.0.0.1:$port with fsync = ${PG_FSYNC:-off} (log: $PG_LOG)"
        [[ ${PG_FSYNC:-off} == on ]] || echo "pg.sh: fsync = off: commits are not flushed to disk, a crash of the host can lose them (PG_FSYNC=on for a durable server)"
        [[ -f "$PG_LOG" ]] && : >"$PG_LOG"  # only this attempt's errors count below
        if _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start >/dev/null; then
            break
        fi
        if grep -q "could not bind\|Address already in use\|could not create any TCP/IP sockets" "$PG_LOG" 2>/dev/null \
                && [[ $attempt -lt 5 ]]; then
            echo "pg.sh: port $port was taken, retrying"
            port=$((port + 1))
            continue
        fi
        echo "pg.sh: PostgreSQL failed to start; log follows" >&2
        cat "$PG_LOG" >&2 || true
        return 1
    done
    PG_PORT=$port
    export PG_PORT

    local i
    for ((i = 0; i < 30; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 1
    done
    if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
        echo "pg.sh: server not ready after 30 s; log follows" >&2
        cat "$PG_LOG" >&2 || true
        return 1
    fi

    # Owner of the database can create tables in 'public' on PG >= 15.
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
        -c "CREATE ROLE jobs LOGIN CREATEDB" \
        -c "CREATE DATABASE jobs OWNER jobs" >/dev/null || return 1

    PG_URL="postgresql://host=127.0.0.1 port=$PG_PORT dbname=jobs user=jobs"
    export PG_URL
    echo "pg.sh: PostgreSQL ready: $PG_URL"
}

pg_stop() {
    [[ -n "${PG_DATA:-}" && -f "$PG_DATA/postmaster.pid" ]] || return 0
    echo "pg.sh: stopping PostgreSQL ($PG_DATA)"
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 \
        || echo "pg.sh: warning: could not stop PostgreSQL in $PG_DATA" >&2
}

# shellcheck shell=bash
# Debian's pgbouncer in front of the private server of scripts/lib/pg.sh, transaction pooling.
#
#   source scripts/lib/pg.sh; source scripts/lib/pgbouncer.sh
#   pg_start "$dir"; pgbouncer_start "$dir"   # sets+exports PGB_PORT PGB_URL
#   pgbouncer_stop
#
# Transaction mode hands each transaction (each autocommit statement) to any server connection,
# so nothing may outlive a transaction: session settings, named prepared statements, advisory
# locks. default_pool_size = 4 keeps the server connections fewer than the clients, so a client
# whose statements assumed one server session would fail at once.

pgbouncer_start() {
    local dir=${1:?usage: pgbouncer_start <dir of pg_start>}
    PGB_DIR="$dir/pgbouncer"
    mkdir -p "$PGB_DIR"
    PGB_PORT=$(pg_free_port $((PG_PORT + 100))) || return 1
    # auth_type trust still wants the user listed.
    echo '"jobs" ""' >"$PGB_DIR/userlist.txt"
    cat >"$PGB_DIR/pgbouncer.ini" <<INI
[databases]
jobs = host=127.0.0.1 port=$PG_PORT dbname=jobs

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
default_pool_size = ${PGB_POOL_SIZE:-4}
max_client_conn = 500
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
INI
    [[ -n "${PG_RUNAS:-}" ]] && chown -R postgres: "$PGB_DIR"
    # pgbouncer refuses to run as root: as root it runs as postgres, like the server.
    _pg_as /usr/sbin/pgbouncer -d -q "$PGB_DIR/pgbouncer.ini" || return 1
    local i
    for ((i = 0; i < 30; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGB_PORT" -d jobs && break
        sleep 0.2
    done
    PGB_URL="postgresql://host=127.0.0.1 port=$PGB_PORT dbname=jobs user=jobs"
    export PGB_PORT PGB_URL PGB_DIR
    echo "pgbouncer.sh: transaction pooling on 127.0.0.1:$PGB_PORT in front of port $PG_PORT"
}

pgbouncer_stop() {
    [[ -n "${PGB_DIR:-}" && -f "$PGB_DIR/pgbouncer.pid" ]] || return 0
    kill -INT "$(cat "$PGB_DIR/pgbouncer.pid")" 2>/dev/null || true
    rm -f "$PGB_DIR/pgbouncer.pid"
}

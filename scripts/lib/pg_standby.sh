# shellcheck shell=bash
# A synchronous streaming standby of the private server of scripts/lib/pg.sh, for failover runs.
#
#   source scripts/lib/pg.sh; source scripts/lib/pg_standby.sh
#   pg_start "$dir"; pg_standby_start "$dir2"   # sets+exports STANDBY_DATA STANDBY_PORT FAILOVER_URL
#   pg_crash_primary; pg_promote_standby
#   pg_standby_stop
#
# The primary waits for the standby's flush before it acknowledges a commit
# (synchronous_standby_names), so every statement an instance saw succeed is on the standby when
# the primary dies. FAILOVER_URL names both servers; libpq takes the first that accepts writes.

pg_standby_start() {
    local dir=${1:?usage: pg_standby_start <empty-dir>}
    dir=$(cd "$dir" && pwd)
    [[ -n "${PG_RUNAS:-}" ]] && chown postgres: "$dir"
    STANDBY_DATA="$dir/data"
    STANDBY_LOG="$dir/postgres.log"
    STANDBY_PORT=$(pg_free_port $((PG_PORT + 1))) || return 1
    echo "pg_standby.sh: pg_basebackup from port $PG_PORT into $STANDBY_DATA"
    _pg_as "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$STANDBY_DATA" \
        -X stream --no-sync >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; return 1; }
    # Not -R: its primary_conninfo (in postgresql.auto.conf) would win over the one below,
    # which names the standby as the primary's synchronous_standby_names expects.
    _pg_as touch "$STANDBY_DATA/standby.signal"
    # Its own port and socket; once promoted it must not wait for a standby of its own.
    _pg_as tee -a "$STANDBY_DATA/postgresql.conf" >/dev/null <<CONF

# --- standby (scripts/lib/pg_standby.sh) ---
port = $STANDBY_PORT
unix_socket_directories = '$dir'
synchronous_standby_names = ''
primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=postgres application_name=standby1'
CONF
    _pg_as "$PG_BIN/pg_ctl" -D "$STANDBY_DATA" -l "$STANDBY_LOG" -w -t 30 start >/dev/null \
        || { cat "$STANDBY_LOG" >&2; return 1; }
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
        -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" -c "SELECT pg_reload_conf()" >/dev/null
    local i state=""
    for ((i = 0; i < 60; i++)); do
        state=$("$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
            -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")
        [[ $state == sync ]] && break
        sleep 0.5
    done
    if [[ $state != sync ]]; then
        echo "pg_standby.sh: the standby is not synchronous (state '$state')" >&2
        return 1
    fi
    FAILOVER_URL="postgresql://host=127.0.0.1,127.0.0.1 port=$PG_PORT,$STANDBY_PORT dbname=jobs user=jobs target_session_attrs=read-write"
    export STANDBY_DATA STANDBY_PORT STANDBY_LOG FAILOVER_URL
    echo "pg_standby.sh: synchronous standby on 127.0.0.1:$STANDBY_PORT"
}

# The primary dies as in a power loss: no checkpoint, no goodbye to its clients.
pg_crash_primary() {
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null
}

pg_promote_standby() {
    _pg_as "$PG_BIN/pg_ctl" -D "$STANDBY_DATA" -w -t 30 promote >/dev/null
}

pg_standby_stop() {
    [[ -n "${STANDBY_DATA:-}" && -f "$STANDBY_DATA/postmaster.pid" ]] || return 0
    _pg_as "$PG_BIN/pg_ctl" -D "$STANDBY_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || _pg_as "$PG_BIN/pg_ctl" -D "$STANDBY_DATA" -m immediate -w stop >/dev/null 2>&1 || true
}

#!/usr/bin/env bash
# Reliability scenarios beyond the exercise, each on a private PostgreSQL, each judged from the
# database by scripts/check_report.py (and, where the harness ran, against its report).
#
#   scripts/reliability.sh kill9      [seconds]  harness mode KILL9: SIGKILL one of 5 every 10-30 s
#   scripts/reliability.sh external   [seconds]  5 instances started by hand (--instances 0),
#                                                SIGKILLed from outside every 12-20 s and restarted
#   scripts/reliability.sh outage     [seconds]  PostgreSQL stopped for 10 s in the middle of a run
#   scripts/reliability.sh skew       [seconds]  the server's clock 5 s ahead (libfaketime), then
#                                                stepped back 10 s mid-run
#   scripts/reliability.sh long                  tasks of 90 s and 10 min (LONG_TASKS) on 2 instances
#   scripts/reliability.sh held       [seconds]  three due rows held FOR UPDATE in psql for 15 s
#   scripts/reliability.sh unreadable [seconds]  a job at '-infinity' and a bad list row, then repaired
#   scripts/reliability.sh pause      [seconds]  one of 3 instances SIGSTOPped for 20 s holding locks
#   scripts/reliability.sh cut        [seconds]  one of 3 instances cut off (veth down) for 20 s
#   scripts/reliability.sh failover   [seconds]  primary stopped hard, synchronous standby promoted
#   scripts/reliability.sh pgbouncer  [seconds]  5 instances through pgbouncer, transaction pooling
#
# Files go to out/reliability-<scenario>/ (-sqlite appended on SQLite). Env BUILD_DIR (default
# build); RELIABILITY_DB=sqlite runs kill9, external, long, unreadable and pause on an SQLite
# file instead (the other cases need a server). cut needs root (ip netns).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin"
SCENARIO=${1:?usage: reliability.sh kill9|external|outage|skew|long|held|unreadable|pause|cut|failover|pgbouncer [seconds]}
DURATION=${2:-120}
DB=${RELIABILITY_DB:-postgresql}
case "$DB:$SCENARIO" in
postgresql:* | sqlite:kill9 | sqlite:external | sqlite:long | sqlite:unreadable | sqlite:pause) ;;
*) echo "reliability.sh: $SCENARIO does not run on $DB" >&2; exit 2 ;;
esac
SUFFIX=""
[[ $DB == sqlite ]] && SUFFIX=-sqlite
OUT="$ROOT/out/reliability-$SCENARIO$SUFFIX"
rm -rf "$OUT"
mkdir -p "$OUT"
# shellcheck source-path=SCRIPTDIR
source "$ROOT/scripts/lib/pg.sh"
# shellcheck source-path=SCRIPTDIR
source "$ROOT/scripts/lib/pg_standby.sh"
# shellcheck source-path=SCRIPTDIR
source "$ROOT/scripts/lib/pgbouncer.sh"

PIDS=()
NETNS=""
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill -INT "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pgbouncer_stop || true
    pg_standby_stop || true
    pg_stop || true
    [[ -n "$NETNS" ]] && { ip link del "$VETH" 2>/dev/null || true; ip netns del "$NETNS" || true; }
    [[ -n "${PG_DIR:-}" ]] && rm -rf "$PG_DIR"
    [[ -n "${DB_DIR:-}" ]] && rm -rf "$DB_DIR"
    [[ -n "${STANDBY_DIR:-}" ]] && rm -rf "$STANDBY_DIR"
    exit "$rc"
}
trap cleanup EXIT

start_pg() {
    PG_DIR=$(mktemp -d /tmp/jobs-rel.XXXXXX)
    pg_start "$PG_DIR"
    URL="$PG_URL"
}

# The database of the run: a private PostgreSQL, or an SQLite file.
start_db() {
    if [[ $DB == sqlite ]]; then
        DB_DIR=$(mktemp -d /tmp/jobs-rel.XXXXXX)
        URL="sqlite3://db=$DB_DIR/jobs.db"
        return
    fi
    start_pg
}

# One statement, tuples only, columns split by "|" (psql -At, or Python's sqlite3 alike).
sql() {
    if [[ $DB == sqlite ]]; then
        python3 - "${URL#sqlite3://db=}" "$1" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1], timeout=10) as conn:
    for row in conn.execute(sys.argv[2]).fetchall():
        print("|".join("" if v is None else str(v) for v in row))
PY
        return
    fi
    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "${URL#postgresql://}" -c "$1"
}

# SQL for the database's now plus N seconds, and for the seconds from one column to another.
in_seconds() {
    if [[ $DB == sqlite ]]; then
        echo "strftime('%Y-%m-%d %H:%M:%f', 'now', '+$1 seconds')"
    else
        echo "now() + interval '$1 seconds'"
    fi
}
seconds_between() {
    if [[ $DB == sqlite ]]; then
        echo "round((julianday($2) - julianday($1)) * 86400, 3)"
    else
        echo "$2 - $1"
    fi
}

# A session of its own in the background (its pid joins PIDS).
sql_session() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "${URL#postgresql://}" -c "$1" >"$OUT/psql-session.out" 2>&1 &
    PIDS+=("$!")
}

wait_for_schema() {
    local i
    for ((i = 0; i < 100; i++)); do
        sql "SELECT 1 FROM Jobs LIMIT 0" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "no Jobs table after 10 s" >&2
    return 1
}

held_by() {
    sql "SELECT count(*) FILTER (WHERE StartedAt IS NULL) || ' locked, ' ||
                count(*) FILTER (WHERE StartedAt IS NOT NULL) || ' started'
         FROM Jobs WHERE State = 1 AND LockedBy = '$1'"
}

# Until the instance holds a lock not yet started (at most 30 s).
wait_for_locks() {
    local i
    for ((i = 0; i < 600; i++)); do
        [[ $(sql "SELECT count(*) FROM Jobs WHERE State = 1 AND StartedAt IS NULL
                  AND LockedBy = '$1'") != 0 ]] && return 0
        sleep 0.05
    done
    echo "$1 held no lock for 30 s" >&2
}

# A network namespace reaching the server over a veth pair (10.231.77.1 here, .2 there).
net_setup() {
    NETNS="jobs-cut-$$"
    VETH="jc$$"
    ip netns add "$NETNS"
    ip link add "$VETH" type veth peer name "jn$$"
    ip link set "jn$$" netns "$NETNS"
    ip addr add 10.231.77.1/30 dev "$VETH"
    ip link set "$VETH" up
    ip netns exec "$NETNS" ip addr add 10.231.77.2/30 dev "jn$$"
    ip netns exec "$NETNS" ip link set "jn$$" up
    ip netns exec "$NETNS" ip link set lo up
    _pg_as tee -a "$PG_DATA/postgresql.conf" >/dev/null <<<"listen_addresses = '127.0.0.1,10.231.77.1'"
    _pg_as tee -a "$PG_DATA/pg_hba.conf" >/dev/null <<<"host all all 10.231.77.0/30 trust"
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w restart >/dev/null
    NET_URL="postgresql://host=10.231.77.1 port=$PG_PORT dbname=jobs user=jobs"
}

# An instance started by hand; its pid lands in INSTANCE_PID. Arguments after the id wrap the
# command (env, ip netns exec) up to "--", then go to jobs-scheduler.
start_instance() {
    local id=$1 wrap=() url=$URL
    shift
    while [[ $# -gt 0 && $1 != -* ]]; do wrap+=("$1"); shift; done
    [[ ${wrap[0]:-} == ip ]] && url=$NET_URL
    "${wrap[@]}" "$BIN/jobs-scheduler" --db "$url" --client-id "$id" "$@" >>"$OUT/$id.log" 2>&1 &
    INSTANCE_PID=$!
}

harness() {
    "$BIN/jobs-harness" run --db "$URL" --duration "$DURATION" --since 20 --json "$OUT/report.json" \
        --csv "$OUT/report.csv" --plot "$OUT/delays.svg" --log-dir "$OUT" --no-progress "$@"
}

# check <harness status> [check_report.py options]
check() {
    local rc=0 harness_status=$1
    shift
    python3 "$ROOT/scripts/check_report.py" --db "$URL" --json "$OUT/report.json" "$@" || rc=$?
    echo "reliability $SCENARIO: harness status $harness_status, independent check status $rc"
    [[ $harness_status -eq 0 && $rc -eq 0 ]]
}

case "$SCENARIO" in
kill9)
    start_db
    status=0
    harness --mode kill9 || status=$?
    check "$status"
    ;;
external)
    start_db
    harness --instances 0 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep 3  # the harness resets the database and creates the load first
    declare -a INST
    for i in 1 2 3 4 5; do start_instance "ext-$i"; INST[$i]=$INSTANCE_PID; done
    round=0
    while kill -0 "$HARNESS" 2>/dev/null; do
        sleep $((12 + RANDOM % 9))
        kill -0 "$HARNESS" 2>/dev/null || break
        i=$((1 + RANDOM % 5))
        round=$((round + 1))
        echo "external: SIGKILL to ext-$i (pid ${INST[$i]}), round $round"
        kill -9 "${INST[$i]}" 2>/dev/null || true
        wait "${INST[$i]}" 2>/dev/null || true
        start_instance "ext-$i"; INST[$i]=$INSTANCE_PID
    done
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    for i in 1 2 3 4 5; do PIDS+=("${INST[$i]}"); done
    # Judged as KILL9 is: interrupted jobs are reported, duplicates and lost ones fail.
    "$BIN/jobs-harness" score --db "$URL" --allow-interrupted --json "$OUT/report.json" || status=$?
    check "$status"
    ;;
outage)
    start_pg
    harness --instances 3 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep $((20 + DURATION / 2))
    echo "outage: stopping PostgreSQL for 10 s at $(date -u +%T)"
    $PG_RUNAS "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    sleep 10
    $PG_RUNAS "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w start >/dev/null
    echo "outage: PostgreSQL back at $(date -u +%T)"
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    check "$status"
    ;;
long)
    # Tasks that outlive the 60 s run lease many times over: renewed by their instance's beat,
    # they end completed, never interrupted. LONG_TASKS lists their lengths in seconds.
    start_db
    cat >"$OUT/sleep_worker.py" <<'PY'
#!/usr/bin/env python3
# A plain worker (dispatcher/README.md): sleeps as many seconds as its payload says.
import re, sys, time
print("READY\t1\tsleep-worker", flush=True)
for line in sys.stdin:
    verb, job_id, token, payload = line.rstrip("\n").split("\t")
    time.sleep(int(re.sub(r"\D", "", payload) or 1))
    print(f"OK\t{job_id}\tslept {payload[1:]} s", flush=True)
PY
    chmod +x "$OUT/sleep_worker.py"
    for id in long-1 long-2; do
        start_instance "$id" --worker "$OUT/sleep_worker.py"
        PIDS+=("$INSTANCE_PID")
    done
    wait_for_schema
    tasks=(${LONG_TASKS:-90 600})
    longest=0
    for s in "${tasks[@]}"; do
        sql "INSERT INTO Jobs (RunAt, Payload) VALUES ($(in_seconds 12), '$s')" >/dev/null
        ((s > longest)) && longest=$s
    done
    echo "long: ${#tasks[@]} jobs of ${tasks[*]} s, due in 12 s, on 2 instances"
    deadline=$((SECONDS + longest + 90))
    while [[ $(sql "SELECT count(*) FROM Jobs WHERE State < 2") != 0 ]] && ((SECONDS < deadline)); do
        sleep 5
    done
    sql "SELECT Id, Payload, State, LockedBy, $(seconds_between RunAt ExecuteAt) AS ran, Result
         FROM Jobs ORDER BY Id"
    status=0
    python3 "$ROOT/scripts/check_report.py" --db "$URL" --expect-completed \
        --expect-action RENEW || status=$?
    echo "reliability long: independent check status $status"
    exit "$status"
    ;;
held)
    # A psql session holds the next three due rows FOR UPDATE for 15 s: nothing waits on them,
    # each skipped write is logged HELD, and the three run once the session lets go.
    start_pg
    harness --instances 3 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep $((20 + DURATION / 3))
    ids=$(sql "SELECT string_agg(Id::text, ',') FROM (SELECT Id FROM Jobs WHERE State = 0 AND RunAt
               BETWEEN now() + interval '1.5 seconds' AND now() + interval '6 seconds' ORDER BY RunAt
               LIMIT 3) j")
    echo "held: rows $ids held FOR UPDATE for 15 s from $(date -u +%T)"
    sql_session "BEGIN; SELECT Id FROM Jobs WHERE Id IN ($ids) FOR UPDATE; SELECT pg_sleep(15); COMMIT;"
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    sql "SELECT Id, State, ExecuteAt - RunAt AS late FROM Jobs WHERE Id IN ($ids) ORDER BY Id"
    check "$status" --expect-action HELD
    ;;
unreadable)
    # A job the list cannot read (on PostgreSQL a RunAt of '-infinity', on SQLite a CreateAt that
    # is not a time) and a list row without a ClientId: lists skip them and say so; once the job
    # is repaired by hand, the next list runs it.
    start_db
    harness --instances 3 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep 3
    if [[ $DB == sqlite ]]; then
        what="created at 'not a time'"
        bad=$(sql "INSERT INTO Jobs (RunAt, CreateAt) VALUES ($(in_seconds 5), 'not a time')
                   RETURNING Id")
        repair="CreateAt = $(in_seconds 0),"
    else
        what="due at -infinity"
        bad=$(sql "INSERT INTO Jobs (RunAt) VALUES ('-infinity') RETURNING Id")
        repair=""
    fi
    sql "INSERT INTO WorkerLogs (Action, ClientId, Results) VALUES ('QUERYLIST', NULL, 0)" >/dev/null
    echo "unreadable: job $bad $what, a QUERYLIST row without a ClientId"
    sleep $((17 + DURATION / 3))
    seen=$(cat "$OUT"/*.log | grep -c "job $bad: its row cannot be read" || true)
    echo "unreadable: $seen instance log lines name job $bad; repairing it, due in 15 s"
    sql "UPDATE Jobs SET $repair RunAt = $(in_seconds 15) WHERE Id = $bad" >/dev/null
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    grep -h "unreadable rows" "$OUT"/*.log | tail -n 3 || true
    ((seen > 0)) || { echo "unreadable: no instance reported job $bad"; status=1; }
    check "$status"
    ;;
skew)
    # The PostgreSQL server runs under libfaketime: its clock 5 s ahead of the hosts', then
    # stepped back 10 s in the middle of the run, to 5 s behind. Instances schedule by the
    # database's clock, so nothing may run early by it, and nothing may be lost.
    start_pg
    echo "+5" >"$PG_DIR/faketime"
    chmod 644 "$PG_DIR/faketime"
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    _pg_as env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
        FAKETIME_TIMESTAMP_FILE="$PG_DIR/faketime" FAKETIME_CACHE_DURATION=1 \
        FAKETIME_DONT_FAKE_MONOTONIC=1 "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w start >/dev/null
    echo "skew: database clock $(sql "SELECT now()") against the host's $(date -u '+%F %T')"
    harness --instances 3 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep $((20 + DURATION / 2))
    echo "-5" >"$PG_DIR/faketime"
    sleep 2
    echo "skew: database clock stepped back 10 s at $(date -u +%T): now $(sql "SELECT now()")"
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    grep -h "stepped back\|step back" "$OUT"/*.log | head -n 3 || true
    check "$status"
    ;;
pause)
    # One of three instances SIGSTOPped, with its workers, for 20 s while it holds locks:
    # the others take its lapsed locks, and its stale starts are refused.
    start_db
    harness --instances 0 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep 3
    for i in 1 2 3; do start_instance "pause-$i"; PIDS+=("$INSTANCE_PID"); done
    sleep $((17 + DURATION / 3))
    wait_for_locks pause-1
    victims=("${PIDS[0]}" $(pgrep -P "${PIDS[0]}" || true))
    echo "pause: SIGSTOP to pause-1 and its ${#victims[@]} processes at $(date -u +%T.%N | cut -c1-12): $(held_by pause-1)"
    kill -STOP "${victims[@]}"
    sleep 20
    kill -CONT "${victims[@]}"
    echo "pause: SIGCONT at $(date -u +%T)"
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    check "$status" --expect-action START_FAILURE
    ;;
cut)
    # One of three instances runs in a network namespace of its own, reaching PostgreSQL over a
    # veth pair; the link goes down for 20 s while it holds locks: packets are dropped, no
    # connection is closed, keepalives and tcp_user_timeout notice, the others take its jobs.
    start_pg
    net_setup
    harness --instances 0 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep 3
    start_instance cut-1 ip netns exec "$NETNS"
    PIDS+=("$INSTANCE_PID")
    for i in 2 3; do start_instance "cut-$i"; PIDS+=("$INSTANCE_PID"); done
    sleep $((17 + DURATION / 3))
    wait_for_locks cut-1
    echo "cut: link down at $(date -u +%T.%N | cut -c1-12): $(held_by cut-1)"
    ip link set "$VETH" down
    sleep 20
    ip link set "$VETH" up
    echo "cut: link up at $(date -u +%T)"
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    check "$status"
    ;;
failover)
    # A synchronous standby; the primary is stopped hard in the middle of the run and the
    # standby promoted. Instances and the harness reach whichever accepts writes.
    start_pg
    STANDBY_DIR=$(mktemp -d /tmp/jobs-rel-standby.XXXXXX)
    pg_standby_start "$STANDBY_DIR"
    URL=$FAILOVER_URL
    harness --instances 3 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep $((20 + DURATION / 2))
    echo "failover: primary stopped (immediate) at $(date -u +%T.%N | cut -c1-12)"
    pg_crash_primary
    sleep 2
    pg_promote_standby
    echo "failover: standby promoted at $(date -u +%T.%N | cut -c1-12)"
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    check "$status"
    ;;
pgbouncer)
    # Five instances through pgbouncer in transaction pooling mode, four server connections.
    start_pg
    pgbouncer_start "$PG_DIR"
    URL=$PGB_URL
    status=0
    harness --instances 5 || status=$?
    grep -h "ERROR\|WARN" "$OUT"/*.log | head -n 5 || true
    check "$status"
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac

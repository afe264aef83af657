#!/usr/bin/env bash
# Reliability scenarios beyond the exercise, each on a private PostgreSQL (or SQLite for skew),
# each ending with the harness's report and an independent check from the database.
#
#   scripts/reliability.sh kill9     [seconds]  harness mode KILL9: SIGKILL one of 5 every 10-30 s
#   scripts/reliability.sh external  [seconds]  5 instances started by hand (--instances 0),
#                                               SIGKILLed from outside every 12-20 s and restarted
#   scripts/reliability.sh outage    [seconds]  PostgreSQL stopped for 10 s in the middle of a run
#   scripts/reliability.sh skew      [seconds]  two instances whose clocks are 5 s ahead and behind
#
# Files go to out/reliability-<scenario>/. Env BUILD_DIR (default build).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin"
SCENARIO=${1:?usage: reliability.sh kill9|external|outage|skew [seconds]}
DURATION=${2:-120}
OUT="$ROOT/out/reliability-$SCENARIO"
rm -rf "$OUT"
mkdir -p "$OUT"
# shellcheck source-path=SCRIPTDIR
source "$ROOT/scripts/lib/pg.sh"

PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pg_stop || true
    [[ -n "${PG_DIR:-}" ]] && rm -rf "$PG_DIR"
    exit "$rc"
}
trap cleanup EXIT

start_pg() {
    PG_DIR=$(mktemp -d /tmp/jobs-rel.XXXXXX)
    pg_start "$PG_DIR"
    URL="$PG_URL"
}

# An instance started by hand; its pid lands in INSTANCE_PID.
start_instance() {
    local id=$1
    shift
    "$@" "$BIN/jobs-scheduler" --db "$URL" --client-id "$id" >>"$OUT/$id.log" 2>&1 &
    INSTANCE_PID=$!
}

harness() {
    "$BIN/jobs-harness" run --db "$URL" --duration "$DURATION" --since 20 --json "$OUT/report.json" \
        --csv "$OUT/report.csv" --plot "$OUT/delays.svg" --log-dir "$OUT" --no-progress "$@"
}

check() {
    local rc=0
    python3 "$ROOT/scripts/check_report.py" --db "$URL" --json "$OUT/report.json" || rc=$?
    echo "reliability $SCENARIO: harness status $1, independent check status $rc"
    [[ $1 -eq 0 && $rc -eq 0 ]]
}

case "$SCENARIO" in
kill9)
    start_pg
    status=0
    harness --mode kill9 || status=$?
    check "$status"
    ;;
external)
    start_pg
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
skew)
    start_pg
    harness --instances 0 >"$OUT/harness.out" 2>&1 &
    HARNESS=$!
    sleep 3
    # libfaketime shifts these processes' wall clock (and their workers'); they schedule by
    # the database's clock, so nothing may run early.
    start_instance ahead env FAKETIME="+5" LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
    PIDS+=("$INSTANCE_PID")
    start_instance behind env FAKETIME="-5" LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
    PIDS+=("$INSTANCE_PID")
    status=0
    wait "$HARNESS" || status=$?
    cat "$OUT/harness.out"
    check "$status"
    ;;
*)
    echo "unknown scenario $SCENARIO" >&2
    exit 2
    ;;
esac

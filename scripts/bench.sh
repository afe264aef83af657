#!/usr/bin/env bash
# Reproduces the performance figures of docs/benchmarks.md. Long: not part of CI.
#
#   scripts/bench.sh postgresql [instances] [seconds] [mode]
#                                   standard run on a private PostgreSQL (5, 600, workers);
#                                   mode kill / hatest / kill9 kills instances as it goes
#   scripts/bench.sh sqlite     [instances] [seconds] [mode]   the same on one SQLite file
#   scripts/bench.sh sweep      [from] [to] [seconds]   WORKERS<from>..<to> on PostgreSQL (1, 10, 600)
#   scripts/bench.sh points     COUNTS [seconds]        the same for some counts only, e.g. 1,3,7,10
#   scripts/bench.sh pool                                pool-bench at 1 KB and 1 MB
#   scripts/bench.sh scale [backend] [rates] [seconds] [instances]
#                                   the rate profile at each rate (postgresql|sqlite,
#                                   100,500,1000,2000,5000, 60, 3): scale.csv, scale.svg
#   scripts/bench.sh burst [backend] [jobs] [instances]  jobs at one RunAt (postgresql, 20000, 3)
#                                   (scale and burst: env SCHEDULER_ARGS, flags for every instance)
#
# The private PostgreSQL runs with fsync = off unless PG_FSYNC=on (scripts/lib/pg.sh).
# Each writes report.json / report.csv / delays.svg (sweep: sweep.csv, sweep.svg) under
# out/bench-<what>/ and checks the report against the database with scripts/check_report.py.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
BIN="$BUILD_DIR/bin"
[[ -x "$BIN/jobs-harness" ]] || "$ROOT/scripts/setup.sh" "$BUILD_DIR"
WHAT=${1:?usage: bench.sh postgresql|sqlite|sweep|points|pool|scale|burst ...}
OUT="$ROOT/out/bench-$WHAT"
# A mode other than the standard one keeps its own folder (out/bench-postgresql-kill).
[[ $WHAT == postgresql || $WHAT == sqlite ]] && [[ ${4:-workers} != workers ]] && OUT+="-$4"
# And each backend's rate runs theirs (out/bench-scale-sqlite).
[[ $WHAT == scale || $WHAT == burst ]] && OUT+="-${2:-postgresql}"
# A server that syncs its writes (PG_FSYNC=on, see scripts/lib/pg.sh) too (out/bench-postgresql-fsync).
[[ ${PG_FSYNC:-off} == on && $WHAT != sqlite && $WHAT != pool ]] && OUT+="-fsync"
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
# shellcheck source-path=SCRIPTDIR
source "$ROOT/scripts/lib/pg.sh"
PG_DIR=""
trap 'pg_stop || true; [[ -n "$PG_DIR" ]] && rm -rf "$PG_DIR"' EXIT

with_pg() {
    PG_DIR=$(mktemp -d /tmp/jobs-bench.XXXXXX)
    pg_start "$PG_DIR"
}

case "$WHAT" in
postgresql | sqlite)
    instances=${2:-5}
    seconds=${3:-600}
    mode=${4:-workers}
    if [[ $WHAT == postgresql ]]; then with_pg; url=$PG_URL; else url="sqlite3://db=$OUT/jobs.db"; fi
    status=0
    "$BIN/jobs-harness" run --db "$url" --instances "$instances" --duration "$seconds" --mode "$mode" \
        --json report.json --csv report.csv --plot delays.svg --log-dir logs --no-progress || status=$?
    python3 "$ROOT/scripts/check_report.py" --db "$url" --json report.json || status=$?
    exit "$status"
    ;;
sweep)
    with_pg
    "$BIN/jobs-harness" sweep --db "$PG_URL" --from "${2:-1}" --to "${3:-10}" --duration "${4:-600}" \
        --csv sweep.csv --plot sweep.svg --json sweep.json --log-dir logs --no-progress
    ;;
points)
    with_pg
    "$BIN/jobs-harness" sweep --db "$PG_URL" --counts "${2:?usage: bench.sh points 1,3,7,10 [seconds]}" \
        --duration "${3:-600}" --csv sweep.csv --plot sweep.svg --json sweep.json --log-dir logs --no-progress
    ;;
pool)
    "$BIN/jobs-harness" pool-bench --size 1024 --tasks 200000 --json pool-1k.json
    "$BIN/jobs-harness" pool-bench --size 1048576 --tasks 2000 --json pool-1m.json
    ;;
scale | burst)
    backend=${2:-postgresql}
    if [[ $backend == postgresql ]]; then with_pg; fi
    status=0
    if [[ $WHAT == scale ]]; then
        IFS=, read -r -a runs <<<"${3:-100,500,1000,2000,5000}"
        seconds=${4:-60}
        instances=${5:-3}
    else
        runs=("${3:-20000}")
        seconds=1
        instances=${4:-3}
    fi
    # SCHEDULER_ARGS="--list-limit=5000 ..." passes flags to every instance.
    scheduler_args=()
    for a in ${SCHEDULER_ARGS:-}; do scheduler_args+=("--scheduler-arg=$a"); done
    for n in "${runs[@]}"; do
        # Each run on a database of its own: the earlier runs' rows do not slow the next.
        if [[ $backend == postgresql ]]; then
            url=$PG_URL
        else
            url="sqlite3://db=$OUT/jobs-$n.db"
        fi
        load=(--rate "$n")
        [[ $WHAT == burst ]] && load=(--burst "$n")
        "$BIN/jobs-harness" run --db "$url" --profile rate "${load[@]}" --instances "$instances" \
            --duration "$seconds" --json "$WHAT-$n.json" --plot "delays-$n.svg" --log-dir "logs-$n" \
            --no-progress "${scheduler_args[@]}" || status=$?
        python3 "$ROOT/scripts/check_report.py" --db "$url" --json "$WHAT-$n.json" || status=$?
    done
    [[ $WHAT == scale ]] && python3 "$ROOT/scripts/scale_chart.py" --out scale "$WHAT"-*.json
    exit "$status"
    ;;
*)
    echo "unknown benchmark $WHAT" >&2
    exit 2
    ;;
esac

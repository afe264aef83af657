#!/usr/bin/env bash
# The main job: a short harness run on the embedded SQLite default. It replays the exercise's
# load for 2 minutes against 5 instances and prints the exercise's report.
#
#   scripts/demo.sh [extra jobs-harness run flags]     e.g. scripts/demo.sh --duration 600
#
# Its files land in demo/: the database (jobs.db), the instances' logs, report.json, report.csv
# and delays.svg. Env BUILD_DIR (default build).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
[[ -x "$BUILD_DIR/bin/jobs-harness" ]] || "$ROOT/scripts/setup.sh" "$BUILD_DIR"
mkdir -p "$ROOT/demo"
cd "$ROOT/demo"
exec "$BUILD_DIR/bin/jobs-harness" run --db sqlite3://db=jobs.db --instances 5 --duration 120 \
    --json report.json --csv report.csv --plot delays.svg --log-dir logs "$@"

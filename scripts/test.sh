#!/usr/bin/env bash
# Run the test suite against a private PostgreSQL server and ODBC DSNs.
#
#   scripts/test.sh [ctest args...]        e.g. scripts/test.sh -L unit -j4
#
# Env: BUILD_DIR (default "build", relative to the repo root).
# Exports for tests: JOBS_TEST_POSTGRESQL, JOBS_TEST_ODBC_POSTGRESQL,
# JOBS_TEST_ODBC_SQLITE, JOBS_TEST_PG_BIN, JOBS_TEST_PG_DATA, JOBS_TEST_PG_PORT,
# JOBS_TEST_PG_RUNAS (prefix for pg_ctl, non-empty when running as root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source-path=SCRIPTDIR
source "$ROOT/scripts/lib/pg.sh"
source "$ROOT/scripts/lib/odbc.sh"

BUILD_DIR=${BUILD_DIR:-build}

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    echo "test: $BUILD_DIR is not configured, running scripts/setup.sh"
    "$ROOT/scripts/setup.sh" "$BUILD_DIR"
else
    # Incremental, a no-op when up to date: never test stale binaries.
    echo "test: building $BUILD_DIR"
    cmake --build "$BUILD_DIR" -j"$(nproc)"
fi

# Under /tmp rather than $TMPDIR: the postgres user must reach it and the
# unix socket path must stay short (< 108 bytes).
PG_DIR=""
ODBC_DIR=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    pg_stop || true
    [[ -n "$PG_DIR" ]] && rm -rf "$PG_DIR"
    [[ -n "$ODBC_DIR" ]] && rm -rf "$ODBC_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "test: interrupted" >&2; exit 130' INT
trap 'echo "test: terminated" >&2; exit 143' TERM

PG_DIR=$(mktemp -d /tmp/jobs-pg.XXXXXX)
ODBC_DIR=$(mktemp -d /tmp/jobs-odbc.XXXXXX)

pg_start "$PG_DIR"
odbc_setup "$ODBC_DIR" "$PG_PORT"

export JOBS_TEST_POSTGRESQL="$PG_URL"
export JOBS_TEST_ODBC_POSTGRESQL="odbc://DSN=jobs_pg"
export JOBS_TEST_ODBC_SQLITE="odbc://DSN=jobs_sqlite"
export JOBS_TEST_PG_BIN="$PG_BIN"
export JOBS_TEST_PG_DATA="$PG_DATA"
export JOBS_TEST_PG_PORT="$PG_PORT"
export JOBS_TEST_PG_RUNAS="$PG_RUNAS"

echo "test: running ctest in $BUILD_DIR ${*:-}"
rc=0
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 "$@" || rc=$?
if [[ $rc -eq 0 ]]; then
    echo "test: all tests passed"
else
    echo "test: ctest failed with status $rc" >&2
fi
exit "$rc"

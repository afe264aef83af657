#!/usr/bin/env bash
# Install the Debian packages the project needs, then configure and build.
#
#   scripts/setup.sh [build-dir] [extra cmake args...]
#
# build-dir defaults to "build"; relative paths are relative to the repo root.
# Env JOBS_SKIP_APT=1 skips the package step entirely (e.g. second CI build).
# Safe to re-run: apt is skipped when everything is installed, cmake is incremental.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD_DIR=${1:-build}
[[ $# -gt 0 ]] && shift

PACKAGES=(
    build-essential cmake git pkg-config
    libsoci-dev libboost-dev libboost-system-dev libfmt-dev doctest-dev
    libspdlog-dev nlohmann-json3-dev libcli11-dev libssl-dev
    unixodbc unixodbc-dev odbc-postgresql libsqliteodbc
    sqlite3 libsqlite3-dev libpq-dev postgresql postgresql-client
    faketime procps pgbouncer
)

install_packages() {
    local missing=() p
    # dpkg-query is fast and offline: only touch apt when something is missing.
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "setup: all ${#PACKAGES[@]} packages already installed, skipping apt"
        return
    fi

    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "setup: installing ${#missing[@]} missing packages: ${missing[*]}"
    "${sudo[@]}" apt-get update
    # Install the full list: apt leaves installed ones alone and fixes partial states.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${PACKAGES[@]}"
}

if [[ "${JOBS_SKIP_APT:-0}" == 1 ]]; then
    echo "setup: JOBS_SKIP_APT=1, skipping packages"
else
    install_packages
fi

echo "setup: configuring $BUILD_DIR ${*:-}"
# Extra args come last so they override the default build type.
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"

echo "setup: building $BUILD_DIR with $(nproc) jobs"
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: done ($BUILD_DIR)"

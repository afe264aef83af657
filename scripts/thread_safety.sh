#!/usr/bin/env bash
# Clang's thread-safety analysis (-Wthread-safety -Werror) over every source file of the build
# that includes jobs/common/thread_annotations.h, directly or through another header, with the
# include paths and definitions the build uses. GCC ignores the annotations; this is their check.
#   BUILD_DIR=build CLANGXX=clang++-14 scripts/thread_safety.sh [source files...]
# With no files: every one listed in $BUILD_DIR/compile_commands.json. Exits 1 on a finding.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
CLANGXX="${CLANGXX:-clang++-14}"
DB="$BUILD_DIR/compile_commands.json"
[[ -f "$DB" ]] || { echo "thread_safety: no $DB (configure the build first)" >&2; exit 2; }
command -v "$CLANGXX" > /dev/null || { echo "thread_safety: $CLANGXX not found" >&2; exit 2; }

exec python3 - "$ROOT" "$DB" "$CLANGXX" "$@" <<'PY'
import json, os, shlex, subprocess, sys

root, db, clang, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
header = "jobs/common/thread_annotations.h"
wanted = {os.path.realpath(w) for w in wanted}

def flags(entry):
    """The include paths, definitions and standard of a compile command; GCC's other flags
    (warnings, sanitizers) mean nothing to this check or are unknown to clang."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    kept, i = [], 1
    while i < len(args):
        a = args[i]
        if a in ("-I", "-isystem", "-D", "-iquote"):
            kept += [a, args[i + 1]]
            i += 2
            continue
        if a.startswith(("-I", "-D", "-isystem", "-iquote", "-std=")):
            kept.append(a)
        i += 1
    return kept

checked, failed = 0, 0
seen = set()
for entry in json.load(open(db)):
    source = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    if source in seen or not source.startswith(root + "/") or "/_deps/" in source:
        continue
    seen.add(source)
    if wanted and source not in wanted:
        continue
    f = flags(entry)
    deps = subprocess.run([clang, "-std=c++20", *f, "-M", source], cwd=entry["directory"],
                          capture_output=True, text=True)
    if deps.returncode != 0 or header not in deps.stdout:
        continue
    checked += 1
    result = subprocess.run([clang, "-std=c++20", *f, "-fsyntax-only", "-Wthread-safety",
                             "-Wthread-safety-beta", "-Werror", source], cwd=entry["directory"],
                            capture_output=True, text=True)
    rel = os.path.relpath(source, root)
    if result.returncode != 0:
        failed += 1
        print(f"thread_safety: FAIL {rel}\n{result.stderr}", file=sys.stderr)
    else:
        print(f"thread_safety: ok   {rel}")
print(f"thread_safety: {checked} files checked, {failed} with findings")
sys.exit(1 if failed else 0)
PY

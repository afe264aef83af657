#!/usr/bin/env bash
# clang-format over every tracked C++ file (.clang-format at the root).
#   scripts/format.sh          rewrite the files in place
#   scripts/format.sh --check  list the files that differ and exit 1 (CI)
# Env CLANG_FORMAT (default clang-format-14, else clang-format).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CLANG_FORMAT=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
[[ -n "$CLANG_FORMAT" ]] || { echo "format: clang-format not found" >&2; exit 2; }

mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [[ "${1:-}" != "--check" ]]; then
    "$CLANG_FORMAT" -i "${files[@]}"
    exit 0
fi
bad=()
for f in "${files[@]}"; do
    if ! "$CLANG_FORMAT" "$f" | cmp -s - "$f"; then bad+=("$f"); fi
done
if ((${#bad[@]} > 0)); then
    echo "format: ${#bad[@]} of ${#files[@]} files are not clang-formatted (run scripts/format.sh):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "format: ${#files[@]} files clang-formatted"

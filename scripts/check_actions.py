#!/usr/bin/env python3
"""Fails when the actions are stated anywhere but repo/include/jobs/repo/action.h.

    scripts/check_actions.py [--root DIR]

(a) The README's table of actions (name, weight, meaning) must equal the header's kActions.
(b) No .cpp, .h or .py file outside action.h may hold an action's name as a string literal
    ("NAME" or 'NAME', SQL included): code takes names from the table.
"""
import argparse
import pathlib
import re
import sys

import repo_header

SOURCES = (".cpp", ".h", ".py")
# Build trees (build, build-asan, ...) hold generated files, not sources.
SKIPPED_DIRS = {".git", "demo"}
_README_ROW = re.compile(r"^\| `([A-Z_]+)` \| (\d+) \| (.*) \|$")


def readme_rows(readme):
    lines = readme.read_text().splitlines()
    try:
        start = lines.index("| action | weight | meaning |")
    except ValueError:
        return None
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        match = _README_ROW.match(line)
        if not match:
            rows.append(("unreadable row", line))
            continue
        rows.append((match.group(1), int(match.group(2)), match.group(3)))
    return rows


def literal_uses(root, header, names):
    pattern = re.compile(r"""(["'])(""" + "|".join(map(re.escape, names)) + r""")\1""")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.suffix not in SOURCES or not path.is_file():
            continue
        if SKIPPED_DIRS.intersection(rel.parts) or rel.parts[0].startswith("build"):
            continue
        if path.resolve() == header.resolve():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in pattern.finditer(line):
                yield f"{rel}:{number}: {match.group(0)}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(repo_header.REPO))
    args = parser.parse_args()
    root = pathlib.Path(args.root).resolve()
    header = root / repo_header.ACTION_H.relative_to(repo_header.REPO)
    table = [(a.name, a.weight, a.meaning) for a in repo_header.actions(header)]
    failures = []

    readme = readme_rows(root / "README.md")
    if readme is None:
        failures.append("README.md: no '| action | weight | meaning |' table")
    elif readme != table:
        failures.append("README.md's table of actions differs from action.h's kActions:")
        for row in readme:
            if row not in table:
                failures.append(f"  README only: {row}")
        for row in table:
            if row not in readme:
                failures.append(f"  action.h only: {row}")
        if sorted(readme) == sorted(table):
            failures.append("  (same rows, another order: keep the header's)")

    uses = list(literal_uses(root, header, [name for name, _, _ in table]))
    if uses:
        failures.append("action names written as literals (use action_name(Action::X)):")
        failures.extend("  " + use for use in uses)

    if failures:
        print("\n".join(failures))
        return 1
    print(f"check_actions: {len(table)} actions, README and sources agree with action.h")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reads the project's tables from repo/include/jobs/repo/, so that scripts restate nothing.

Strict on purpose: a row of the action table that does not read as one, or a table with no rows,
is an error, never a silently shorter table.
"""
import pathlib
import re
from typing import NamedTuple

REPO = pathlib.Path(__file__).resolve().parent.parent
ACTION_H = REPO / "repo/include/jobs/repo/action.h"
EXERCISE_H = REPO / "repo/include/jobs/repo/exercise.h"

_ROW = re.compile(r'^\s*ActionInfo\{Action::(\w+), "([A-Z_]+)", (\d+), "([^"\\]*)"\},\s*$')


class Action(NamedTuple):
    enum: str     # the C++ enumerator, e.g. StartFailure
    name: str     # as stored in WorkerLogs.Action, e.g. START_FAILURE
    weight: int
    meaning: str


def actions(path=ACTION_H):
    """The rows of kActions, in order. Raises ValueError on anything it cannot read."""
    text = pathlib.Path(path).read_text()
    begin = text.find("inline constexpr std::array kActions = {")
    end = text.find("};", begin)
    if begin < 0 or end < 0:
        raise ValueError(f"{path}: no kActions table")
    rows = []
    for line in text[begin:end].splitlines()[1:]:
        if not line.strip():
            continue
        match = _ROW.match(line)
        if not match:
            raise ValueError(f"{path}: unreadable kActions row: {line.strip()}")
        enum, name, weight, meaning = match.groups()
        rows.append(Action(enum, name, int(weight), meaning))
    if not rows:
        raise ValueError(f"{path}: the kActions table has no rows")
    return rows


def by_enum(path=ACTION_H):
    """The actions keyed by their enumerator: scripts name an action as C++ does, Action::X."""
    return {a.enum: a for a in actions(path)}


def duration_ms(name, path=EXERCISE_H):
    """A `chrono::milliseconds kName{N}` constant of exercise.h, in milliseconds."""
    text = pathlib.Path(path).read_text()
    match = re.search(r"std::chrono::milliseconds " + re.escape(name) + r"\{([\d']+)\};", text)
    if not match:
        raise ValueError(f"{path}: no milliseconds constant {name}")
    return int(match.group(1).replace("'", ""))

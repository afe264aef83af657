#!/usr/bin/env python3
"""Recompute a harness report straight from the database with plain SQL, and compare.

    scripts/check_report.py --db sqlite3://db=demo/jobs.db --json demo/report.json
    scripts/check_report.py --db "postgresql://host=127.0.0.1 port=55432 dbname=jobs user=jobs" --json r.json

    scripts/check_report.py --db ... --expect-completed --expect-action RENEW   (no harness run)

With --json the report is compared with the database; without it (jobs added by hand, as in
scripts/reliability.sh long) the database alone is judged. Either way it fails on a job run
twice, never run, or run early; with --expect-completed on any job not completed; and for each
--expect-action NAME when no WorkerLogs row has that action (the case the run was for).

Uses Python's sqlite3 module or the psql client, nothing of the project's but its tables of
actions and numbers (read from repo/include/jobs/repo/action.h and exercise.h by
scripts/repo_header.py). Exits 1 on any difference: action and state counts, early lock/exec, delay exceeded and the cost score must
agree exactly; the delay average and stdev within 1 ms.
"""
import argparse
import json
import math
import sqlite3
import subprocess
import sys

import repo_header

ACTIONS = repo_header.by_enum()
# A name the table lacks (a row written by hand) weighs 0, as in the harness.
WEIGHTS = {a.name: a.weight for a in ACTIONS.values()}
MAX_DELAY_MS = repo_header.duration_ms("kMaxDelayTime")


def query_sqlite(path, sql):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def query_psql(conninfo, sql):
    out = subprocess.run(["psql", "-At", "-F", "\t", conninfo, "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines() if line]


def completed_delays(run, delay):
    """(jobs sharing its RunAt, delay in ms, marked started after RunAt) of each completed job."""
    rows = run(f"SELECT g.n, j.d, j.s FROM (SELECT RunAt AS r, {delay} AS d, CASE WHEN StartedAt > "
               "RunAt THEN 1 ELSE 0 END AS s FROM Jobs WHERE State = 2) j JOIN (SELECT RunAt AS r, "
               "count(*) AS n FROM Jobs GROUP BY RunAt) g ON g.r = j.r")
    return [(int(n), round(float(d)), int(s)) for n, d, s in rows]


def print_breakdown(rows):
    """Where the delay comes from: single jobs against jobs sharing their RunAt (the bursts), and
    how many were marked started (the fencing write) only after their RunAt. Informative only."""
    for label, keep in (("alone", lambda n: n == 1), ("sharing RunAt", lambda n: n > 1)):
        ds = sorted(d for n, d, _ in rows if keep(n))
        late = sum(s for n, _, s in rows if keep(n))
        if not ds:
            continue
        pct = lambda q: ds[min(len(ds) - 1, int(q * len(ds)))]
        print(f"jobs {label}: {len(ds)}, delay mean {sum(ds) / len(ds):.2f} ms, p50 {pct(0.5)}, "
              f"p95 {pct(0.95)}, max {ds[-1]}; marked started after RunAt: {late}")


def compare(report, mine, average, stdev):
    """The differences between the harness's report and what the database shows."""
    failures = []
    for key in ("actions", "early_lock", "early_exec", "delay_exceed", "cost_score", "duplicates", "lost"):
        if report[key] != mine[key]:
            failures.append(f"{key}: report {report[key]} vs SQL {mine[key]}")
    states = {k: v for k, v in report["states"].items() if v}
    if states != mine["states"]:
        failures.append(f"states: report {states} vs SQL {mine['states']}")
    if abs(report["delay_ms"]["average"] - average) > 1:
        failures.append(f"average: report {report['delay_ms']['average']} vs SQL {average}")
    if abs(report["delay_ms"]["stdev"] - stdev) > 1:
        failures.append(f"stdev: report {report['delay_ms']['stdev']} vs SQL {stdev:.2f}")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--json", help="the harness's report; without it the database alone is judged")
    parser.add_argument("--expect-completed", action="store_true", help="fail unless every job completed")
    parser.add_argument("--expect-action", action="append", default=[], metavar="NAME",
                        help="fail unless some WorkerLogs row has this action")
    args = parser.parse_args()
    backend, _, conn = args.db.partition("://")
    if backend == "sqlite3":
        path = dict(p.split("=", 1) for p in conn.split() if "=" in p).get("db", conn)
        run = lambda sql: query_sqlite(path, sql)
        delay = ("(julianday(ExecuteAt) - julianday(RunAt)) * 86400000.0")
    elif backend == "postgresql":
        run = lambda sql: query_psql(conn, sql)
        delay = "extract(epoch FROM (ExecuteAt - RunAt)) * 1000"
    else:
        sys.exit("only sqlite3:// and postgresql:// URLs")

    mine = {
        "actions": {a: int(n) for a, n in run("SELECT Action, count(*) FROM WorkerLogs GROUP BY Action")},
        "states": {str(s): int(n) for s, n in run("SELECT State, count(*) FROM Jobs GROUP BY State")},
        "early_lock": int(run("SELECT count(*) FROM Jobs WHERE RunAt > LockAt")[0][0]),
        "early_exec": int(run("SELECT count(*) FROM Jobs WHERE RunAt > ExecuteAt")[0][0]),
        "delay_exceed": int(run(f"SELECT count(*) FROM Jobs WHERE State = 2 AND {delay} > {MAX_DELAY_MS}")[0][0]),
    }
    completed = completed_delays(run, delay)
    delays = [d for _, d, _ in completed]
    mean = sum(delays) / len(delays) if delays else 0.0
    average = int(mean)
    stdev = math.sqrt(sum((d - mean) ** 2 for d in delays) / (len(delays) - 1)) if len(delays) > 1 else 0.0
    mine["cost_score"] = sum(WEIGHTS.get(a, 0) * n for a, n in mine["actions"].items())
    # Rule 1, judged here and not only by the harness: a job whose task left two outcomes ran twice.
    outcomes = f"'{ACTIONS['Complete'].name}', '{ACTIONS['Error'].name}'"
    mine["duplicates"] = int(run(f"SELECT count(*) FROM (SELECT JobId FROM WorkerLogs WHERE Action IN "
                                 f"({outcomes}) AND JobId IS NOT NULL GROUP BY JobId "
                                 "HAVING count(*) > 1) d")[0][0])
    mine["lost"] = int(run("SELECT count(*) FROM Jobs WHERE State IN (0, 1)")[0][0])

    failures = compare(json.load(open(args.json)), mine, average, stdev) if args.json else []
    for action in args.expect_action:
        if not mine["actions"].get(action):
            failures.append(f"no {action} row: the case this run was for did not happen")
    if args.expect_completed and set(mine["states"]) != {"2"}:
        failures.append(f"not every job completed: states {mine['states']}")
    print(f"SQL: actions {mine['actions']}, states {mine['states']}, early lock {mine['early_lock']}, "
          f"early exec {mine['early_exec']}, delay exceed {mine['delay_exceed']}, average {average}, "
          f"stdev {stdev:.2f}, cost {mine['cost_score']}, duplicates {mine['duplicates']}, lost {mine['lost']}")
    print_breakdown(completed)
    if mine["duplicates"] or mine["lost"] or mine["early_exec"]:
        failures.append("the database shows a job run twice, never run, or run early")
    if failures:
        print("DIFFERENT:\n  " + "\n  ".join(failures))
        return 1
    print("the report agrees with the database" if args.json else "the database shows every job judged sound")
    return 0


if __name__ == "__main__":
    sys.exit(main())

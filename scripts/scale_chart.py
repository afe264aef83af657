#!/usr/bin/env python3
"""Tabulate and chart the rate profile's reports (scripts/bench.sh scale).

    scripts/scale_chart.py --out scale scale-100.json scale-500.json ...

Writes <out>.csv (one row per rate) and <out>.svg: p99 delay and statements per job against
the rate, one panel each. Python's standard library, and the actions' names from
repo/include/jobs/repo/action.h (scripts/repo_header.py).
"""
import argparse
import json
import math

import repo_header

ACQUIRE_FAILURE = repo_header.by_enum()["AcquireFailure"].name

COLUMNS = ["rate", "instances", "backend", "created", "completed", "on_time_share", "p50", "p99",
           "max", "statements_per_job", "connections_per_instance", "cpu_s_per_instance",
           "acquire_failure", "duplicates", "early_exec", "pass"]


def row(report):
    return {
        "rate": report["load"]["rate"],
        "instances": report["instances"],
        "backend": report["backend"],
        "created": sum(report["states"].values()),
        "completed": report["states"].get("2", 0),
        "on_time_share": round(report["on_time_share"], 4),
        "p50": report["delay_ms"]["p50"],
        "p99": report["delay_ms"]["p99"],
        "max": report["delay_ms"]["max"],
        "statements_per_job": round(report["statements_per_job"], 3),
        "connections_per_instance": report["connections"]["per_instance"],
        "cpu_s_per_instance": round(report["cpu_s_per_instance"], 2),
        "acquire_failure": report["actions"].get(ACQUIRE_FAILURE, 0),
        "duplicates": report["duplicates"],
        "early_exec": report["early_exec"],
        "pass": report["pass"],
    }


def panel(x0, title, points, y_label, log_y):
    """One chart, 380 x 260 at x0: the points (rate, value), log x, log or linear y."""
    w, h, left, bottom = 380, 260, 60, 40
    xs = [p[0] for p in points]
    ys = [max(p[1], 1e-3) for p in points]
    fx = lambda v: left + (math.log10(v) - math.log10(min(xs))) / max(
        1e-9, math.log10(max(xs)) - math.log10(min(xs))) * (w - left - 20)
    if log_y:
        lo, hi = math.log10(min(ys)), math.log10(max(ys))
        fy = lambda v: h - bottom - (math.log10(max(v, 1e-3)) - lo) / max(1e-9, hi - lo) * (h - bottom - 30)
    else:
        hi = max(ys) * 1.1
        fy = lambda v: h - bottom - v / hi * (h - bottom - 30)
    out = [f'<g transform="translate({x0},0)">',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#333"/>',
           f'<line x1="{left}" y1="30" x2="{left}" y2="{h - bottom}" stroke="#333"/>',
           f'<text x="{w / 2}" y="{h - 5}" text-anchor="middle" font-size="11">jobs/s (log)</text>',
           f'<text x="12" y="{h / 2}" font-size="11" transform="rotate(-90 12 {h / 2})" '
           f'text-anchor="middle">{y_label}</text>']
    path = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in zip(xs, ys))
    out.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for x, y in zip(xs, ys):
        out.append(f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="3" fill="#1f77b4"/>')
        out.append(f'<text x="{fx(x):.1f}" y="{h - bottom + 14}" text-anchor="middle" '
                   f'font-size="10">{x:g}</text>')
        out.append(f'<text x="{fx(x) + 4:.1f}" y="{fy(y) - 5:.1f}" font-size="10">{y:g}</text>')
    out.append("</g>")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("reports", nargs="+")
    args = parser.parse_args()
    rows = sorted((row(json.load(open(p))) for p in args.reports), key=lambda r: r["rate"])
    with open(args.out + ".csv", "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        for r in rows:
            f.write(",".join(str(r[c]) for c in COLUMNS) + "\n")
    rows = [r for r in rows if r["rate"] > 0]
    if not rows:
        return
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="780" height="270" font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>']
    svg += panel(0, f"p99 delay, ms ({rows[0]['backend']}, {rows[0]['instances']} instances)",
                 [(r["rate"], r["p99"]) for r in rows], "ms (log)", True)
    svg += panel(400, "statements per job", [(r["rate"], r["statements_per_job"]) for r in rows],
                 "statements", False)
    svg.append("</svg>")
    with open(args.out + ".svg", "w") as f:
        f.write("\n".join(svg) + "\n")
    print(f"Wrote {args.out}.csv and {args.out}.svg")


if __name__ == "__main__":
    main()

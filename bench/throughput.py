"""1. throughput: the connector's `read` against the floor loop (bench/floor.py), same fake day, same run.

For gzip on and/or off and flat and/or XDM records, one fake Mixpanel serving one UTC day of N
events, warmed once and then answering from memory (--cache-bodies); the two programs take turns
--repeat times (who goes first alternates) and the median by wall is reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List

from fixtures import FakeServer, floor_command, read_command, write_config
from processes import MB, Run, expect_records, run_counting, run_timeout
from targets import TARGET_RATIO, TARGET_RSS_MB

# output_format "xdm" as a user would set it up: identities on by default, a few properties promoted.
XDM_SETTINGS = {"output_format": "xdm", "xdm_tenant_id": "_bench",
                "xdm_fields": {"$browser": "string", "$os": "string", "$screen_width": "integer", "is_logged_in": "boolean"}}


def throughput(args: argparse.Namespace, day: dt.date, catalog: Path, problems: List[str]) -> List[Dict[str, Any]]:
    modes = {"both": [True, False], "on": [True], "off": [False]}[args.gzip]
    formats = {"both": ["flat", "xdm"], "flat": ["flat"], "xdm": ["xdm"]}[args.output_format]
    rows = []
    for gzip, output_format in [(gzip, output_format) for output_format in formats for gzip in modes]:
        case = ("xdm, " if output_format == "xdm" else "") + f"gzip {'on' if gzip else 'off'}"
        print(f"  {case}: fake Mixpanel with {args.events:,} events on {day}; {args.repeat} x (connector, floor) ...", flush=True)
        with FakeServer(args.events, day, gzip=gzip, name=f"server-{case.replace(' ', '-')}", cache_bodies=True) as server:
            body_mb = server.warm(day) / MB
            print(f"    the fake has the day in memory: {body_mb:,.0f} MB as sent{' (gzip)' if gzip else ''}", flush=True)
            config = write_config(f"throughput-{output_format}-{'gzip' if gzip else 'plain'}", server.url, day, day,
                                  **(XDM_SETTINGS if output_format == "xdm" else {}))
            connector_runs, floor_runs = [], []
            for rep in range(args.repeat):  # alternate who goes first, so a drift in machine load hits both alike
                pair = [("connector", read_command(args.entry, config, catalog), connector_runs), ("floor", floor_command(config), floor_runs)]
                for what, argv, runs in (pair if rep % 2 == 0 else pair[::-1]):
                    runs.append(run_counting(what, argv, timeout=run_timeout(args.events)))
        for run in connector_runs + floor_runs:
            expect_records(run, args.events, f"{case} {run.what}", problems)
        connector, floor = _median(connector_runs), _median(floor_runs)
        ratio = connector.records_per_s / floor.records_per_s if floor.records_per_s else 0.0
        cpu_ratio = floor.cpu_s / connector.cpu_s if connector.cpu_s else 0.0
        peak = max(run.peak_rss_mb for run in connector_runs)
        rows.append({
            "case": case, "events": args.events, "ratio": ratio, "cpu_ratio": cpu_ratio, "connector_peak_rss_mb_max": peak,
            "connector": _summary(connector), "floor": _summary(floor),
            "connector_walls_s": [run.wall_s for run in connector_runs], "floor_walls_s": [run.wall_s for run in floor_runs],
            "ratio_met": ratio >= TARGET_RATIO, "rss_met": peak <= TARGET_RSS_MB,
        })
    return rows


def _median(runs: List[Run]) -> Run:
    return sorted(runs, key=lambda run: run.wall_s)[(len(runs) - 1) // 2]


def _summary(run: Run) -> Dict[str, Any]:
    summary = {key: value for key, value in asdict(run).items() if key not in ("tail", "other_lines")}
    summary["records_per_s"] = run.records_per_s
    return summary


def print_throughput(rows: List[Dict[str, Any]]) -> None:
    print()
    print(f"Throughput: one window of {rows[0]['events']:,} events, process start included (median of the repeats by wall; RSS = max)")
    print("x floor = connector records/s / floor records/s (the target); CPU x = floor CPU s / connector CPU s (less sensitive to load)")
    header = (f"{'case':<14} {'program':<10} {'records':>9} {'MB out':>7} {'wall s':>7} {'CPU s':>6} {'records/s':>10} {'peak RSS MB':>12} "
              f"{'x floor':>8} {'CPU x':>6}  target")
    print(header)
    print("-" * len(header))
    for row in rows:
        c, f = row["connector"], row["floor"]
        verdict = (f"{'MET' if row['ratio_met'] else 'MISSED'} (>= {TARGET_RATIO}x), "
                   f"{'MET' if row['rss_met'] else 'MISSED'} (<= {TARGET_RSS_MB:.0f} MB)")
        print(f"{row['case']:<14} {'connector':<10} {c['records']:>9,} {c['out_bytes'] / MB:>7.0f} {c['wall_s']:>7.2f} {c['cpu_s']:>6.2f} "
              f"{c['records_per_s']:>10,.0f} {row['connector_peak_rss_mb_max']:>12.1f} {row['ratio']:>7.2f}x {row['cpu_ratio']:>5.2f}x  {verdict}")
        print(f"{'':<14} {'floor':<10} {f['records']:>9,} {f['out_bytes'] / MB:>7.0f} {f['wall_s']:>7.2f} {f['cpu_s']:>6.2f} "
              f"{f['records_per_s']:>10,.0f} {f['peak_rss_mb']:>12.1f} {1.0:>7.2f}x {1.0:>5.2f}x")
        walls = ", ".join(f"{w:.2f}" for w in row["connector_walls_s"])
        floor_walls = ", ".join(f"{w:.2f}" for w in row["floor_walls_s"])
        print(f"{'':<14} walls s: connector [{walls}], floor [{floor_walls}]")

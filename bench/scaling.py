"""2. memory scaling: the connector alone at each --scaling size (gzip on), peak RSS of the largest over the smallest.

The size table and the RSS-growth verdict are shared with the profiles pass (bench/profiles_bench.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any, Dict, List

from fixtures import FakeServer, read_command, write_config
from processes import Run, expect_records, run_counting, run_timeout
from targets import TARGET_RSS_MB, TARGET_SCALING


def scaling(args: argparse.Namespace, day: dt.date, catalog: Path, problems: List[str]) -> Dict[str, Any]:
    rows = []
    for size in args.scaling:
        print(f"  scaling: {size:,} events (gzip on) ...", flush=True)
        with FakeServer(size, day, gzip=True, name="server-scaling") as server:
            config = write_config("scaling", server.url, day, day)
            run = run_counting("connector", read_command(args.entry, config, catalog), timeout=run_timeout(size))
        expect_records(run, size, f"scaling {size:,}", problems)
        rows.append(size_row("events", size, run))
    return {"rows": rows, **rss_growth(rows, "events"), "rss_met": all(row["peak_rss_mb"] <= TARGET_RSS_MB for row in rows)}


def size_row(size_key: str, size: int, run: Run) -> Dict[str, Any]:
    return {size_key: size, "records": run.records, "wall_s": run.wall_s, "cpu_s": run.cpu_s,
            "records_per_s": run.records_per_s, "peak_rss_mb": run.peak_rss_mb}


def rss_growth(rows: List[Dict[str, Any]], size_key: str) -> Dict[str, Any]:
    """Peak RSS at the largest size over the smallest (sizes under `size_key`), against TARGET_SCALING; events and profiles alike."""
    smallest = min(rows, key=lambda row: row[size_key])
    largest = max(rows, key=lambda row: row[size_key])
    ratio = largest["peak_rss_mb"] / smallest["peak_rss_mb"] if smallest["peak_rss_mb"] else 0.0
    return {"ratio": ratio, "ratio_of": [largest[size_key], smallest[size_key]], "ratio_met": ratio <= TARGET_SCALING, "target": TARGET_SCALING}


def print_size_table(title: str, rows: List[Dict[str, Any]], size_key: str) -> None:
    """The per-size table, the size column headed by `size_key` (events, profiles)."""
    print()
    print(title)
    header = f"{size_key:>10} {'wall s':>7} {'CPU s':>6} {'records/s':>10} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row[size_key]:>10,} {row['wall_s']:>7.2f} {row['cpu_s']:>6.2f} {row['records_per_s']:>10,.0f} {row['peak_rss_mb']:>12.1f}")


def print_scaling(result: Dict[str, Any]) -> None:
    print_size_table("Memory scaling: the connector alone, one window, gzip on", result["rows"], "events")
    big, small = result["ratio_of"]
    print(f"peak RSS {big:,} / {small:,} events = {result['ratio']:.3f}  target <= {TARGET_SCALING}: "
          f"{'MET' if result['ratio_met'] else 'MISSED'}; every size <= {TARGET_RSS_MB:.0f} MB: {'MET' if result['rss_met'] else 'MISSED'}")

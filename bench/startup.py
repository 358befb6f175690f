"""4. context: what starting a process costs (interpreter, the CDK import, the connector import, a `spec` round trip).

Each case runs under the launcher, best of `tries` by wall, with that one process's peak RSS.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List

from fixtures import connector_command
from processes import run_counting


def start_costs(args: argparse.Namespace, tries: int = 2) -> List[Dict[str, Any]]:
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import requests (the floor's imports)", [sys.executable, "-c", "import json, requests"]),
        ("import the CDK alone (entrypoint + http)", [sys.executable, "-c", "import airbyte_cdk.entrypoint, airbyte_cdk.sources.streams.http"]),
        # the same CDK import, with the collector off and serpyco-rs's docstring lookup skipped (package __init__, cdk/private.py)
        ("import the connector (CDK included)", [sys.executable, "-c", "import source_mixpanel_aep"]),
        ("connector `spec` (start to exit)", connector_command(args.entry) + ["spec"]),
    ]
    rows = []
    for label, argv in cases:
        runs = [run_counting("start-cost", argv, timeout=120) for _ in range(tries)]
        if any(run.returncode != 0 for run in runs):
            raise RuntimeError(f"{label} failed: {runs[-1].tail[-2000:]}")
        rows.append({"what": label, "best_s": min(run.wall_s for run in runs), "walls_s": [run.wall_s for run in runs],
                     "peak_rss_mb": max(run.peak_rss_mb for run in runs)})
    return rows


def print_start_costs(rows: List[Dict[str, Any]]) -> None:
    print()
    print(f"Context: process start costs (best of {len(rows[0]['walls_s'])}, wall; peak RSS of that process)")
    for row in rows:
        print(f"  {row['what']:<44} {row['best_s']:>6.2f} s {row['peak_rss_mb']:>7.1f} MB")

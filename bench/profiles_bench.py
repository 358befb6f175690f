"""The `profiles` case of bench/bench.py: records/s and peak RSS of a profiles-only `read` at several sizes.

The fake serves N generated profiles from /api/query/engage in pages of 1000 (Mixpanel's page
size), as its own process; the connector reads them (full refresh) as its own process through
bench.py's launcher, so start-up and imports are in every time and the RSS is that process's
alone. Memory must not grow with N: pages are streamed into records, never collected, so the
peak RSS at the largest size is compared with the smallest (bench.py's TARGET_SCALING).

Helpers (the catalog, the launcher, the server, the connector command, the RSS growth against its
target) are passed in by bench.py, which owns them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Dict, List

PAGE_SIZE = 1000


def profiles_scaling(sizes: List[int], day: dt.date, *, catalog: Path, server: Callable[..., Any], write_config: Callable[..., Path],
                     command: Callable[[Path, Path], List[str]], run_counting: Callable[..., Any],
                     rss_growth: Callable[[List[Dict[str, Any]], str], Dict[str, Any]], problems: List[str]) -> Dict[str, Any]:
    rows = []
    for size in sizes:
        print(f"  profiles: {size:,} profiles in pages of {PAGE_SIZE} ...", flush=True)
        with server(0, day, name="server-profiles", extra=["--profiles", str(size), "--page-size", str(PAGE_SIZE)]) as fake:
            config = write_config("profiles", fake.url, day, day)
            run = run_counting("connector-profiles", command(config, catalog), timeout=120 + size / 500)
        if run.returncode != 0 or run.records != size:
            problems.append(f"profiles {size:,}: exit {run.returncode}, {run.records:,} records (expected {size:,})\n{run.tail[-3000:]}")
        rows.append({"profiles": size, "records": run.records, "wall_s": run.wall_s, "cpu_s": run.cpu_s,
                     "records_per_s": run.records_per_s, "peak_rss_mb": run.peak_rss_mb})
    return {"rows": rows, **rss_growth(rows, "profiles")}


def print_profiles(result: Dict[str, Any]) -> None:
    print()
    print(f"Profiles: the connector alone, Engage pages of {PAGE_SIZE}, process start included")
    header = f"{'profiles':>10} {'wall s':>7} {'CPU s':>6} {'records/s':>10} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        print(f"{row['profiles']:>10,} {row['wall_s']:>7.2f} {row['cpu_s']:>6.2f} {row['records_per_s']:>10,.0f} {row['peak_rss_mb']:>12.1f}")
    big, small = result["ratio_of"]
    print(f"peak RSS {big:,} / {small:,} profiles = {result['ratio']:.3f}  target <= {result['target']}: {'MET' if result['ratio_met'] else 'MISSED'}")

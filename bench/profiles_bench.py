"""The `profiles` case of bench/bench.py: records/s and peak RSS of a profiles-only `read` at several sizes.

The fake serves N generated profiles from /api/query/engage in pages of 1000 (Mixpanel's page
size), as its own process; the connector reads them (full refresh) as its own process through
the benchmark's launcher (bench/processes.py), so start-up and imports are in every time and the RSS
is that process's alone. Memory must not grow with N: pages are streamed into records, never
collected, so the peak RSS at the largest size is compared with the smallest (targets.TARGET_SCALING,
the same verdict and table as the events' memory scaling in bench/scaling.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, List

from fixtures import FakeServer, read_command, write_config
from processes import expect_records, run_counting
from scaling import print_size_table, rss_growth, size_row

PAGE_SIZE = 1000


def profiles_scaling(sizes: List[int], day: dt.date, entry: str, catalog: Path, problems: List[str]) -> Dict[str, Any]:
    rows = []
    for size in sizes:
        print(f"  profiles: {size:,} profiles in pages of {PAGE_SIZE} ...", flush=True)
        with FakeServer(0, day, name="server-profiles", extra=["--profiles", str(size), "--page-size", str(PAGE_SIZE)]) as fake:
            config = write_config("profiles", fake.url, day, day)
            run = run_counting("connector-profiles", read_command(entry, config, catalog), timeout=120 + size / 500)
        expect_records(run, size, f"profiles {size:,}", problems)
        rows.append(size_row("profiles", size, run))
    return {"rows": rows, **rss_growth(rows, "profiles")}


def print_profiles(result: Dict[str, Any]) -> None:
    print_size_table(f"Profiles: the connector alone, Engage pages of {PAGE_SIZE}, process start included", result["rows"], "profiles")
    big, small = result["ratio_of"]
    print(f"peak RSS {big:,} / {small:,} profiles = {result['ratio']:.3f}  target <= {result['target']}: {'MET' if result['ratio_met'] else 'MISSED'}")

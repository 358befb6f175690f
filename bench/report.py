"""What a run reports beyond its tables: the code measured, the machine's other load, the targets missed."""

from __future__ import annotations

import os
import resource
import subprocess
from typing import Any, Dict, List, Optional

from processes import ROOT


def git_version() -> str:
    """The commit measured, `-dirty` when the package differs from it (it is installed editable)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        changed = subprocess.run(["git", "status", "--porcelain", "--", "source_mixpanel_aep", "setup.py", "main.py"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (head.stdout.strip() or "unknown") + ("-dirty" if changed.stdout.strip() else "")


class OtherCpu:
    """CPU time the whole machine spent on processes other than this one and its children (Linux /proc/stat)."""

    def __init__(self) -> None:
        self.start = self._busy_and_ours()

    @staticmethod
    def _busy_and_ours() -> Optional[tuple]:
        try:
            with open("/proc/stat") as f:
                fields = [int(value) for value in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait; no guest double count
        ours = sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for field in ("ru_utime", "ru_stime"))
        return busy, ours

    def seconds(self) -> Optional[float]:
        end = self._busy_and_ours()
        if self.start is None or end is None:
            return None
        return max(0.0, (end[0] - self.start[0]) - (end[1] - self.start[1]))


def print_load(results: Dict[str, Any], other_cpu: OtherCpu) -> None:
    """How long the run took and how busy the machine was meanwhile (then walls are said to be noisy); records other_cpu_s."""
    print(f"\nbenchmark took {results['bench_seconds']:.0f} s; load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{value:.2f}" for value in results["load_after"]))
    other = other_cpu.seconds()
    if other is not None:
        share = other / results["bench_seconds"]
        results["other_cpu_s"] = other
        print(f"CPU used by processes other than this benchmark meanwhile: {other:.0f} CPU s ({share:.0%} of one CPU)")
        if share > 0.1:
            print(f"NOTE: other work was competing for the {results['cpus']} CPUs; walls are noisy, compare the CPU columns too")


def targets_missed(results: Dict[str, Any]) -> List[str]:
    """The names of the targets this run missed, in the order the tables print them."""
    missed = [row["case"] + " speed" for row in results["throughput"] if not row["ratio_met"]]
    missed += [row["case"] + " RSS" for row in results["throughput"] if not row["rss_met"]]
    if "scaling" in results:
        missed += [] if results["scaling"]["ratio_met"] else ["scaling ratio"]
        missed += [] if results["scaling"]["rss_met"] else ["scaling RSS"]
    if "profiles" in results:
        missed += [] if results["profiles"]["ratio_met"] else ["profiles scaling ratio"]
    missed += [] if results["backfill"]["requests_met"] else ["backfill requests"]
    missed += [] if results["backfill"]["sleep_met"] else ["backfill sleep"]
    return missed

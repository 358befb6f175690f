"""Read-throughput, memory and pacing benchmark for source-mixpanel-aep, against the local fake Mixpanel.

    python bench/bench.py                                    # the full run (a few minutes on 2 cores)
    python bench/bench.py --events 20000 --scaling 2000,10000,50000 --profiles 2000,10000   # `make bench-small`
    python bench/bench.py --profile bench/PROFILE-baseline.txt        # cProfile of one read, in-process

Run it from the repository root with the virtualenv's python (the connector's console script is
looked up next to sys.executable). Standard library + requests only in this process; everything
measured runs as its own process, so interpreter start and imports are part of every time.

What one run does:
1. throughput: for gzip on and/or off, and for flat and/or XDM records (--output-format), starts the fake Mixpanel (`python -m
   integration_tests.fake_mixpanel`, its own process, free port) serving one UTC day (yesterday)
   of N events, asked for once before the timed runs and then answered from memory
   (--cache-bodies: a real Mixpanel's CPU is not on this machine); runs the connector's `read` (full_refresh, that day, default window size) with
   stdout to a pipe this process drains, counting `{"type":"RECORD"` lines and bytes; wall time
   from fork to exit, CPU and peak RSS of that one process from os.wait4 (in a tiny launcher, see
   LAUNCHER). Then the floor loop (bench/floor.py) the same way, on the same server. Repeated
   --repeat times (who goes first alternates), the median by wall reported.
2. memory scaling: the connector alone at each --scaling size (gzip on): peak RSS, ratio of the
   largest size to the smallest. Then the same for the `profiles` stream at each --profiles size
   (bench/profiles_bench.py): records/s and peak RSS, Engage pages of 1000.
3. backfill: a 365-day backfill with default settings, planned by the real stream in-process
   (its stream_slices -> one request per slice), the requests run through the stream's own
   PacingBudget on a fake clock for several assumed request durations; then the same backfill
   for real against a fake with a few events a day, counting windows and pacing LOG lines.
4. context: interpreter start, the CDK import, the connector import, and a `spec` round trip.

Targets are printed next to the numbers; nothing here fails on a missed target unless --strict.
A wrong record count (connector or floor) always makes the exit status non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

# The thin entry (flags, order of the passes, exit status); one job a file beside it, imported as this
# script's folder: processes.py (launcher, measured runs), fixtures.py (fake Mixpanel, config, catalog,
# commands), targets.py, one file a pass (throughput, scaling + profiles_bench, backfill, startup),
# report.py (code version, machine load, targets missed), profiling.py (--profile).
from backfill import live_backfill, print_backfill, print_simulation, simulate_backfill_in_child
from fixtures import connector_command, write_catalog
from processes import CHILD_ENV, WORK, compile_package
from profiles_bench import print_profiles, profiles_scaling
from profiling import profile
from report import OtherCpu, git_version, print_load, targets_missed
from scaling import print_scaling, scaling
from startup import print_start_costs, start_costs
from throughput import print_throughput, throughput


def _sizes(value: str) -> List[int]:
    sizes = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive event counts, e.g. 10000,100000,1000000")
    return sizes


def _seconds(value: str) -> List[float]:
    return [float(part) for part in value.split(",") if part.strip()]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events in the one-day window of the throughput runs (default 200000)")
    parser.add_argument("--scaling", type=_sizes, default=_sizes("10000,100000,1000000"), help="event counts of the memory-scaling pass")
    parser.add_argument("--gzip", choices=("both", "on", "off"), default="both", help="throughput cases (default both)")
    parser.add_argument("--output-format", choices=("both", "flat", "xdm"), default="both",
                        help="throughput cases: the connector's flat records, XDM records (output_format xdm), or both (default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each program per throughput case; the median is reported (default 3)")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--profiles", type=_sizes, default=_sizes("10000,100000,1000000"),
                        help="profile counts of the profiles pass (bench/profiles_bench.py); default 10000,100000,1000000")
    parser.add_argument("--skip-profiles", action="store_true")
    parser.add_argument("--skip-live-backfill", action="store_true", help="only the fake-clock backfill simulation")
    parser.add_argument("--request-seconds", type=float, default=60.0,
                        help="assumed duration of one export request in the backfill simulation's target case (default 60)")
    parser.add_argument("--entry", choices=("auto", "script", "main"), default="auto",
                        help="connector command: the console script next to sys.executable, or `python main.py` (auto: script if present)")
    parser.add_argument("--buffered", action="store_true",
                        help="run both programs without PYTHONUNBUFFERED (default: PYTHONUNBUFFERED=1, as the Docker image sets it)")
    parser.add_argument("--json", type=Path, help="also write every result to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (a wrong record count always exits 1)")
    parser.add_argument("--simulate-backfill", type=_seconds, metavar="SECONDS,...", help=argparse.SUPPRESS)  # internal: the child's side
    parser.add_argument("--profile", type=Path, metavar="PATH", help="instead of the benchmark: cProfile one read of --events (gzip off), write the text here")
    parser.add_argument("--profile-top", type=int, default=25, help="functions listed per ordering in --profile (default 25)")
    parser.add_argument("--py-spy", action="store_true", help="with --profile: also sample one real `read` process with py-spy (pip install py-spy)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be positive")

    if args.simulate_backfill is not None:
        print_simulation(args.simulate_backfill, args.request_seconds)
        return 0

    WORK.mkdir(exist_ok=True)
    CHILD_ENV.pop("PYTHONUNBUFFERED", None)
    if not args.buffered:
        CHILD_ENV["PYTHONUNBUFFERED"] = "1"  # the image's ENV: every stdout write is a write(2)
    compile_package()
    day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    catalog = write_catalog()
    if args.profile:
        profile(args, day, catalog, args.profile.resolve())
        return 0

    began = time.perf_counter()
    other_cpu = OtherCpu()
    problems: List[str] = []
    cpus = os.cpu_count()
    load_before = os.getloadavg()
    version = git_version()
    print(f"source-mixpanel-aep benchmark: {cpus} CPUs, Python {sys.version.split()[0]}, code {version}, "
          f"connector: {' '.join(connector_command(args.entry))}")
    print(f"stdout of both programs: {'buffered (Python default)' if args.buffered else 'PYTHONUNBUFFERED=1, as in the Docker image'}; "
          f"load average before: {load_before[0]:.2f} (1 min)")
    results: Dict[str, Any] = {"started": dt.datetime.now(dt.timezone.utc).isoformat(), "cpus": cpus, "python": sys.version.split()[0],
                               "events": args.events, "day": day.isoformat(), "repeat": args.repeat, "unbuffered": not args.buffered, "code": version,
                               "load_before": load_before}
    results["throughput"] = throughput(args, day, catalog, problems)
    if not args.skip_scaling:
        results["scaling"] = scaling(args, day, catalog, problems)
    if not args.skip_profiles:
        results["profiles"] = profiles_scaling(args.profiles, day, args.entry, write_catalog("profiles", "last_seen", "distinct_id"), problems)
    results["backfill"] = simulate_backfill_in_child(sorted({0.0, 1.0, 10.0, args.request_seconds, 300.0}), args.request_seconds)
    results["backfill_live"] = None if args.skip_live_backfill else live_backfill(args, catalog, problems)
    print("  context: process start costs ...", flush=True)
    results["start_costs"] = start_costs(args)

    print_throughput(results["throughput"])
    if "scaling" in results:
        print_scaling(results["scaling"])
    if "profiles" in results:
        print_profiles(results["profiles"])
    print_backfill(results["backfill"], results["backfill_live"])
    print_start_costs(results["start_costs"])
    results["bench_seconds"] = time.perf_counter() - began
    results["load_after"] = os.getloadavg()
    print_load(results, other_cpu)

    missed = targets_missed(results)
    results["targets_missed"], results["problems"] = missed, problems
    print(f"targets missed: {', '.join(missed) if missed else 'none'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"results written to {args.json}")
    if problems:
        print("\nPROBLEMS (wrong record counts or failed runs):", file=sys.stderr)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())

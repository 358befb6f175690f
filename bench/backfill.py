"""3. backfill: a 365-day backfill with default settings, planned by the real stream and paced on a fake clock.

The plan is the stream's own stream_slices (one request per slice); the requests run through the
stream's own PacingBudget on a fake clock for several assumed request durations. That part imports
the CDK, so it runs in a child (`bench.py --simulate-backfill`) and this process stays small. Then
the same backfill for real against a fake with a few events a day, counting windows and pacing LOG lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from fixtures import FakeServer, connector_config, read_command, write_config
from processes import CHILD_ENV, ROOT, expect_records, run_counting
from targets import TARGET_BACKFILL_REQUESTS, TARGET_BACKFILL_SLEEP

BACKFILL_DAYS = 365
BACKFILL_LIVE_EVENTS_PER_DAY = 20
BACKFILL_MARK = "BACKFILL-SIMULATION "
ENTRY = Path(__file__).resolve().parent / "bench.py"  # the child's side is bench.py's hidden --simulate-backfill


def simulate_backfill(request_seconds: Sequence[float], target_seconds: float) -> Dict[str, Any]:
    """Plan a 365-day backfill with the real stream, then pace its requests on a fake clock."""
    from airbyte_cdk.models import SyncMode

    from source_mixpanel_aep.config import parse_config
    from source_mixpanel_aep.streams.export import ExportStream
    from source_mixpanel_aep.streams.pacing import PacingBudget

    today = dt.datetime.now(dt.timezone.utc).date()
    config = parse_config(connector_config(None, start_date=(today - dt.timedelta(days=BACKFILL_DAYS)).isoformat()))
    logging.disable(logging.INFO)  # the stream's own INFO lines ("Reading ...", "Pacing: waiting ...") would go to stdout
    try:
        slices = list(ExportStream(config).stream_slices(sync_mode=SyncMode.full_refresh))
        rows = [_pace(ExportStream(config), PacingBudget, len(slices), seconds) for seconds in request_seconds]
    finally:
        logging.disable(logging.NOTSET)
    first, last = slices[0], slices[-1]
    target_row = next(row for row in rows if row["request_seconds"] == target_seconds)
    return {
        "days": (dt.date.fromisoformat(last["to_date"]) - dt.date.fromisoformat(first["from_date"])).days + 1,
        "from": first["from_date"], "to": last["to_date"], "window_days": config.date_window_days,
        "requests": len(slices), "rows": rows, "target_request_seconds": target_seconds,
        "requests_met": len(slices) <= TARGET_BACKFILL_REQUESTS, "sleep_met": target_row["sleep_s"] <= TARGET_BACKFILL_SLEEP,
    }


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _pace(stream: Any, budget_type: type, requests: int, request_seconds: float) -> Dict[str, Any]:
    """Send `requests` requests of `request_seconds` each through the stream's own budget, on a fake clock."""
    budget = getattr(stream, "pacing", None)
    source = "the stream's own PacingBudget, clock and sleep replaced"
    if not (isinstance(budget, budget_type) and hasattr(budget, "_clock") and hasattr(budget, "_sleep")):
        budget, source = budget_type(), "a default PacingBudget (the stream's own could not be found)"
    fake = _FakeClock()
    budget._clock, budget._sleep = fake.clock, fake.sleep
    for _ in range(requests):
        budget.acquire_call(None)
        fake.now += request_seconds
    return {"request_seconds": request_seconds, "requests": requests, "sleeps": len(fake.sleeps), "sleep_s": sum(fake.sleeps),
            "elapsed_s": fake.now, "budget": source}


def print_simulation(request_seconds: Sequence[float], target_seconds: float) -> None:
    """The child's side: the simulation as one marked JSON line on stdout."""
    print(BACKFILL_MARK + json.dumps(simulate_backfill(sorted(set(request_seconds) | {target_seconds}), target_seconds)))


def simulate_backfill_in_child(request_seconds: Sequence[float], target_seconds: float) -> Dict[str, Any]:
    """simulate_backfill in a child process, so this process stays small and never imports the CDK."""
    argv = [sys.executable, str(ENTRY), "--simulate-backfill", ",".join(f"{s:g}" for s in request_seconds),
            "--request-seconds", f"{target_seconds:g}"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, env=CHILD_ENV)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(BACKFILL_MARK):
            return json.loads(line[len(BACKFILL_MARK):])
    raise RuntimeError(f"the backfill simulation failed (exit {done.returncode}): {(done.stdout + done.stderr)[-3000:]}")


def live_backfill(args: argparse.Namespace, catalog: Path, problems: List[str]) -> Dict[str, Any]:
    """The same backfill for real: a fake with a few events each day, the connector's own LOG lines."""
    today = dt.datetime.now(dt.timezone.utc).date()
    start = today - dt.timedelta(days=BACKFILL_DAYS)
    days = BACKFILL_DAYS + 1
    print(f"  backfill: live read {start}..{today} with {BACKFILL_LIVE_EVENTS_PER_DAY} events/day ...", flush=True)
    with FakeServer(BACKFILL_LIVE_EVENTS_PER_DAY, start, days=days, gzip=True, name="server-backfill") as server:
        config = write_config("backfill", server.url, start, None)
        run = run_counting("connector-backfill", read_command(args.entry, config, catalog), timeout=600, keep_other_lines=True)
    expect_records(run, BACKFILL_LIVE_EVENTS_PER_DAY * days, "live backfill", problems)
    windows, pacing_s, pacing_n = 0, 0.0, 0
    for line in run.other_lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        text = (message.get("log") or {}).get("message", "") if message.get("type") == "LOG" else ""
        if text.startswith("Window ") and " records in " in text:
            windows += 1
        if text.startswith("Pacing: waiting "):
            pacing_n += 1
            pacing_s += float(text.split()[2])
    return {"records": run.records, "windows": windows, "pacing_waits": pacing_n, "pacing_s": pacing_s, "wall_s": run.wall_s}


def print_backfill(sim: Dict[str, Any], live: Optional[Dict[str, Any]]) -> None:
    print()
    print(f"Backfill: {sim['days']} days {sim['from']}..{sim['to']}, default settings (date_window_days={sim['window_days']}), "
          f"requests paced by PacingBudget on a fake clock")
    header = f"{'assumed s/request':>17} {'requests':>9} {'sleeps':>7} {'sleep s':>8} {'elapsed s':>10}"
    print(header)
    print("-" * len(header))
    for row in sim["rows"]:
        mark = "  <- target case" if row["request_seconds"] == sim["target_request_seconds"] else ""
        print(f"{row['request_seconds']:>17g} {row['requests']:>9} {row['sleeps']:>7} {row['sleep_s']:>8.1f} {row['elapsed_s']:>10.1f}{mark}")
    print(f"(budget: {sim['rows'][0]['budget']}; at 0 s/request only the 3 requests/second limit can bind)")
    target_row = next(row for row in sim["rows"] if row["request_seconds"] == sim["target_request_seconds"])
    print(f"target <= {TARGET_BACKFILL_REQUESTS} requests: {sim['requests']} {'MET' if sim['requests_met'] else 'MISSED'}; "
          f"no pacing sleep under 60/hour ({sim['target_request_seconds']:g} s/request): {target_row['sleep_s']:.1f} s "
          f"{'MET' if sim['sleep_met'] else 'MISSED'}")
    if live:
        print(f"live check (real read, real clock, {BACKFILL_LIVE_EVENTS_PER_DAY} events/day): {live['windows']} windows read, "
              f"{live['records']:,} records, {live['pacing_waits']} pacing waits totalling {live['pacing_s']:.1f} s, wall {live['wall_s']:.1f} s")

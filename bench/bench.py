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
import atexit
import base64
import datetime as dt
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"  # ignored by git, removed by `make clean`
sys.path.insert(0, str(ROOT))

from profiles_bench import print_profiles, profiles_scaling  # noqa: E402  (bench/, on sys.path as the script's folder)

from integration_tests.fake_mixpanel import FAKE_PROJECT_ID, FAKE_SA_SECRET, FAKE_SA_USERNAME, connector_config  # noqa: E402  (stdlib-only package)

# --- targets (from the performance issue) -------------------------------------------------------
TARGET_RATIO = 1.5  # connector records/s >= 1.5 x the floor's, same run, process start included
TARGET_RSS_MB = 120.0  # peak RSS of the connector process
TARGET_SCALING = 1.15  # peak RSS at the largest scaling size <= 1.15 x the smallest
TARGET_BACKFILL_REQUESTS = 13  # 365-day backfill with default settings
TARGET_BACKFILL_SLEEP = 0.0  # seconds of pacing sleep while under 60 requests/hour

# output_format "xdm" as a user would set it up: identities on by default, a few properties promoted.
XDM_SETTINGS = {"output_format": "xdm", "xdm_tenant_id": "_bench",
                "xdm_fields": {"$browser": "string", "$os": "string", "$screen_width": "integer", "is_logged_in": "boolean"}}
BACKFILL_DAYS = 365
BACKFILL_LIVE_EVENTS_PER_DAY = 20
RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')  # the CDK's compact form; floor.py's json.dumps form
MB = 1024 * 1024

_LIVE: Dict[int, subprocess.Popen] = {}  # every process this script started and has not reaped yet


def _cleanup() -> None:
    for pid, proc in list(_LIVE.items()):
        if proc.poll() is None:
            proc.terminate()  # a launcher passes SIGTERM on to the program it measures
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        _LIVE.pop(pid, None)


def _on_signal(signum: int, _frame: Any) -> None:
    _cleanup()
    sys.exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


# --- processes ------------------------------------------------------------------------------------
class FakeServer:
    """The fake Mixpanel CLI as a child process, serving `days` days of `events_per_day` events from `start`."""

    def __init__(self, events_per_day: int, start: dt.date, *, days: int = 1, gzip: bool = True, name: str = "server", cache_bodies: bool = False,
                 extra: Sequence[str] = ()):
        self.args = [
            sys.executable, "-m", "integration_tests.fake_mixpanel", "--port", "0",
            "--events-per-day", str(events_per_day), "--days", str(days), "--start-day", start.isoformat(),
        ] + ([] if gzip else ["--no-gzip"]) + (["--cache-bodies"] if cache_bodies else []) + list(extra)
        self.port_file = WORK / f"{name}.url"
        self.log = WORK / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""

    def __enter__(self) -> "FakeServer":
        self.port_file.unlink(missing_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.args + ["--port-file", str(self.port_file)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        _LIVE[self.proc.pid] = self.proc
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake Mixpanel did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)
        self.url = self.port_file.read_text().strip()
        return self

    def warm(self, day: dt.date) -> int:
        """Ask once for the day both programs will ask for, so that (with cache_bodies) the timed runs get it from memory.

        A real Mixpanel generates and compresses on its own machines; the fake doing it here would
        take CPU from the program being measured on this 2-core machine. Returns the bytes sent."""
        query = urllib.parse.urlencode({"from_date": day.isoformat(), "to_date": day.isoformat(), "time_in_ms": "true", "project_id": FAKE_PROJECT_ID})
        token = base64.b64encode(f"{FAKE_SA_USERNAME}:{FAKE_SA_SECRET}".encode()).decode()
        request = urllib.request.Request(f"{self.url}/api/2.0/export?{query}", headers={"Authorization": f"Basic {token}", "Accept-Encoding": "gzip"})
        size = 0
        with urllib.request.urlopen(request, timeout=600) as response:
            while True:
                block = response.read(1 << 20)
                if not block:
                    return size
                size += len(block)

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            _LIVE.pop(self.proc.pid, None)


@dataclass
class Run:
    """One measured child process: what it wrote and what it cost."""

    what: str
    records: int = 0
    out_bytes: int = 0
    lines: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    returncode: int = 0
    tail: str = ""  # the end of stdout, for a failure report
    other_lines: List[str] = field(default_factory=list)  # non-RECORD lines, only when asked for

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


class _PrefixCounter:
    """Counts lines starting with `prefix` in a byte stream fed in arbitrary chunks (C-speed bytes.count)."""

    def __init__(self, prefix: bytes):
        self.needle = b"\n" + prefix
        self.tail = b"\n"  # the stream's first line starts after a virtual newline
        self.count = 0

    def feed(self, chunk: bytes) -> None:
        data = self.tail + chunk
        self.count += data.count(self.needle)
        self.tail = data[-(len(self.needle) - 1):]  # too short to hold a whole needle: none counted twice


CHILD_ENV = dict(os.environ)  # set in main(): PYTHONUNBUFFERED as the Docker image has it, unless --buffered


# The measured program is started by this tiny launcher (python -S, ~8 MB), not by the benchmark process itself:
# a child's ru_maxrss starts at its parent's peak RSS (the kernel carries the high-water mark over fork + exec), so
# spawning from here would make every child look at least as big as this process. The launcher forks, execs the
# program (stdout/stderr inherited), reaps it with os.wait4 and writes wall time, exit code and that one process's
# rusage to a file. It runs in its own process group; the benchmark ends the group on timeout or interruption.
LAUNCHER = r"""
import os, signal, sys, time
out, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(pid, signal.SIGTERM))
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
wall = time.perf_counter() - started
with open(out, "w") as f:
    f.write("%r %d %d %r %r" % (wall, os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime, usage.ru_stime))
"""


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the launcher's own group (start_new_session): the launcher and the measured program
    except (ProcessLookupError, PermissionError):
        pass


def run_counting(what: str, argv: Sequence[str], *, timeout: float, keep_other_lines: bool = False) -> Run:
    """Run argv through LAUNCHER with stdout to a pipe; drain and count it; that process's wall time, CPU and peak RSS."""
    run = Run(what)
    counters = [_PrefixCounter(prefix) for prefix in RECORD_PREFIXES]
    stderr_path = WORK / f"{what}.stderr"
    result_path = WORK / f"{what}.rusage"
    result_path.unlink(missing_ok=True)
    pending = b""
    tail = b""
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, str(result_path)] + list(argv), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=stderr, bufsize=0, env=CHILD_ENV, start_new_session=True)
    _LIVE[proc.pid] = proc
    timer = threading.Timer(timeout, _kill_group, (proc, signal.SIGKILL))
    timer.daemon = True
    timer.start()
    try:
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            run.out_bytes += len(chunk)
            run.lines += chunk.count(b"\n")
            for counter in counters:
                counter.feed(chunk)
            tail = (tail + chunk)[-4096:]
            if keep_other_lines:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                run.other_lines.extend(line.decode("utf-8", "replace") for line in complete if line and not line.startswith(RECORD_PREFIXES))
        launcher_status = proc.wait()
    finally:
        timer.cancel()
        proc.stdout.close()
    _LIVE.pop(proc.pid, None)
    run.records = sum(counter.count for counter in counters)
    run.tail = tail.decode("utf-8", "replace")
    try:
        wall, code, maxrss_kb, utime, stime = result_path.read_text().split()
        run.wall_s, run.returncode, run.cpu_s = float(wall), int(code), float(utime) + float(stime)
        run.peak_rss_mb = int(maxrss_kb) * 1024 / MB  # Linux: kilobytes
    except (OSError, ValueError):
        run.returncode = launcher_status or -1  # killed on timeout, or the launcher failed
    if run.returncode != 0:
        run.tail += "\n--- stderr ---\n" + stderr_path.read_text(errors="replace")[-4000:]
    return run


def connector_command(entry: str) -> List[str]:
    script = Path(sys.executable).parent / "source-mixpanel-aep"
    if entry == "script" or (entry == "auto" and script.exists()):
        return [str(script)]
    return [sys.executable, str(ROOT / "main.py")]


def write_config(name: str, base_url: str, start: dt.date, end: Optional[dt.date], **extra: Any) -> Path:
    config = connector_config(base_url, start_date=start.isoformat())
    if end is not None:
        config["end_date"] = end.isoformat()
    config.update(extra)
    path = WORK / f"{name}.config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_catalog(stream: str = "events", cursor: str = "timestamp", key: str = "_id") -> Path:
    """A full-refresh catalog of one incremental-capable stream (events; profiles for bench/profiles_bench.py)."""
    schema = json.loads((ROOT / "source_mixpanel_aep" / "schemas" / f"{stream}.json").read_text())
    catalog = {"streams": [{
        "stream": {"name": stream, "json_schema": schema, "supported_sync_modes": ["full_refresh", "incremental"],
                   "source_defined_cursor": True, "default_cursor_field": [cursor], "source_defined_primary_key": [[key]]},
        "sync_mode": "full_refresh", "destination_sync_mode": "overwrite", "primary_key": [[key]],
    }]}
    path = WORK / ("catalog.json" if stream == "events" else f"catalog-{stream}.json")
    path.write_text(json.dumps(catalog, indent=2))
    return path


def read_command(entry: str, config: Path, catalog: Path) -> List[str]:
    return connector_command(entry) + ["read", "--config", str(config), "--catalog", str(catalog)]


def floor_command(config: Path) -> List[str]:
    return [sys.executable, str(ROOT / "bench" / "floor.py"), "--config", str(config)]


def run_timeout(events: int) -> float:
    return 120 + events / 1000  # generous: ~1,000 records/s would be 20x slower than today


# --- 1. throughput ---------------------------------------------------------------------------------
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
            if run.returncode != 0 or run.records != args.events:
                problems.append(f"{case} {run.what}: exit {run.returncode}, {run.records:,} records (expected {args.events:,})\n{run.tail[-3000:]}")
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


# --- 2. memory scaling -------------------------------------------------------------------------------
def scaling(args: argparse.Namespace, day: dt.date, catalog: Path, problems: List[str]) -> Dict[str, Any]:
    rows = []
    for size in args.scaling:
        print(f"  scaling: {size:,} events (gzip on) ...", flush=True)
        with FakeServer(size, day, gzip=True, name="server-scaling") as server:
            config = write_config("scaling", server.url, day, day)
            run = run_counting("connector", read_command(args.entry, config, catalog), timeout=run_timeout(size))
        if run.returncode != 0 or run.records != size:
            problems.append(f"scaling {size:,}: exit {run.returncode}, {run.records:,} records (expected {size:,})\n{run.tail[-3000:]}")
        rows.append({"events": size, "records": run.records, "wall_s": run.wall_s, "cpu_s": run.cpu_s,
                     "records_per_s": run.records_per_s, "peak_rss_mb": run.peak_rss_mb})
    return {"rows": rows, **rss_growth(rows, "events"), "rss_met": all(row["peak_rss_mb"] <= TARGET_RSS_MB for row in rows)}


def rss_growth(rows: List[Dict[str, Any]], size_key: str) -> Dict[str, Any]:
    """Peak RSS at the largest size over the smallest (sizes under `size_key`), against TARGET_SCALING; events and profiles alike."""
    smallest = min(rows, key=lambda row: row[size_key])
    largest = max(rows, key=lambda row: row[size_key])
    ratio = largest["peak_rss_mb"] / smallest["peak_rss_mb"] if smallest["peak_rss_mb"] else 0.0
    return {"ratio": ratio, "ratio_of": [largest[size_key], smallest[size_key]], "ratio_met": ratio <= TARGET_SCALING, "target": TARGET_SCALING}


def print_scaling(result: Dict[str, Any]) -> None:
    print()
    print("Memory scaling: the connector alone, one window, gzip on")
    header = f"{'events':>10} {'wall s':>7} {'CPU s':>6} {'records/s':>10} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        print(f"{row['events']:>10,} {row['wall_s']:>7.2f} {row['cpu_s']:>6.2f} {row['records_per_s']:>10,.0f} {row['peak_rss_mb']:>12.1f}")
    big, small = result["ratio_of"]
    print(f"peak RSS {big:,} / {small:,} events = {result['ratio']:.3f}  target <= {TARGET_SCALING}: "
          f"{'MET' if result['ratio_met'] else 'MISSED'}; every size <= {TARGET_RSS_MB:.0f} MB: {'MET' if result['rss_met'] else 'MISSED'}")


# --- 3. backfill -------------------------------------------------------------------------------------
def simulate_backfill(request_seconds: Sequence[float], target_seconds: float) -> Dict[str, Any]:
    """Plan a 365-day backfill with the real stream, then pace its requests on a fake clock."""
    from airbyte_cdk.models import SyncMode

    from source_mixpanel_aep.config import parse_config
    from source_mixpanel_aep.streams.export import ExportStream
    from source_mixpanel_aep.streams.http import PacingBudget

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


BACKFILL_MARK = "BACKFILL-SIMULATION "


def simulate_backfill_in_child(request_seconds: Sequence[float], target_seconds: float) -> Dict[str, Any]:
    """simulate_backfill in a child process, so this process stays small and never imports the CDK."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--simulate-backfill", ",".join(f"{s:g}" for s in request_seconds),
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
    expected = BACKFILL_LIVE_EVENTS_PER_DAY * days
    if run.returncode != 0 or run.records != expected:
        problems.append(f"live backfill: exit {run.returncode}, {run.records:,} records (expected {expected:,})\n{run.tail[-3000:]}")
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


# --- 4. context ---------------------------------------------------------------------------------------
def start_costs(args: argparse.Namespace, tries: int = 2) -> List[Dict[str, Any]]:
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import requests (the floor's imports)", [sys.executable, "-c", "import json, requests"]),
        ("import the CDK alone (entrypoint + http)", [sys.executable, "-c", "import airbyte_cdk.entrypoint, airbyte_cdk.sources.streams.http"]),
        # the same CDK import, with the collector off and serpyco-rs's docstring lookup skipped (package __init__, cdk_private)
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


# --- profile -----------------------------------------------------------------------------------------
def _console_entry() -> Any:
    """The function behind the `source-mixpanel-aep` console script (what the timed runs execute)."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="console_scripts"):
        if entry.name == "source-mixpanel-aep":
            return entry.load()
    from airbyte_cdk.entrypoint import launch

    from source_mixpanel_aep import SourceMixpanelAep

    return lambda: launch(SourceMixpanelAep(), sys.argv[1:])


def profile(args: argparse.Namespace, day: dt.date, catalog: Path, out: Path) -> None:
    """One read under cProfile in this process (gzip off, fd 1 -> /dev/null); with --py-spy also one sampled real process."""
    import cProfile
    import io
    import pstats

    text = io.StringIO()
    with FakeServer(args.events, day, gzip=False, name="server-profile") as server:
        config = write_config("profile", server.url, day, day)
        argv = ["read", "--config", str(config), "--catalog", str(catalog)]
        entry = _console_entry()
        sys.stdout.flush()
        saved_fd, saved_argv = os.dup(1), sys.argv
        devnull = os.open(os.devnull, os.O_WRONLY)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        try:
            os.dup2(devnull, 1)
            sys.argv = ["source-mixpanel-aep"] + argv
            profiler.enable()
            try:
                entry()
            except SystemExit:
                pass
            finally:
                profiler.disable()
                sys.stdout.flush()
        finally:
            sys.argv = saved_argv
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
            os.close(devnull)
        wall = time.perf_counter() - started
        where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
        text.write(f"Profile of one connector `read`: {args.events:,} events, one window, gzip off. Code {git_version()}, "
                   f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, stdout {'buffered' if args.buffered else 'PYTHONUNBUFFERED=1'}. Produced by `python bench/bench.py --events {args.events} --profile {where}"
                   f"{' --py-spy' if args.py_spy else ''}`.\n\n")
        text.write(f"## cProfile, in-process (the console script's function; imports not included; stdout -> /dev/null): "
                   f"{wall:.1f} s wall under the profiler, which inflates Python-level call overhead.\n\n")
        for order, title in (("cumulative", "by cumulative time"), ("tottime", "by total (own) time")):
            text.write(f"=== top {args.profile_top} {title} ===\n")
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(args.profile_top)
        if args.py_spy:
            text.write(py_spy_profile(args, config, catalog))
    out.write_text(text.getvalue())
    print(text.getvalue())
    print(f"written to {out}")


def py_spy_profile(args: argparse.Namespace, config: Path, catalog: Path) -> str:
    """Sample the real console-script process with py-spy (imports included, no tracing overhead); summarise by function."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return f"\n## py-spy: not installed next to {sys.executable} (pip install py-spy)\n"
    raw = WORK / "py-spy.raw.txt"
    # --nonblocking: the default pauses the process for every sample, which inflates the import's share several times over
    argv = [str(spy), "record", "--nonblocking", "--rate", "250", "--format", "raw", "--output", str(raw), "--"] + read_command(args.entry, config, catalog)
    run = run_counting("connector-py-spy", argv, timeout=run_timeout(args.events))
    if run.returncode != 0:
        return f"\n## py-spy failed (exit {run.returncode}):\n{run.tail[-2000:]}\n"
    inclusive: Dict[str, int] = {}
    own: Dict[str, int] = {}
    own_lines: Dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        raw_frames = stack.split(";")
        own_lines[raw_frames[-1]] = own_lines.get(raw_frames[-1], 0) + samples
        frames = [_frame_name(frame) for frame in raw_frames]
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
    lines = [f"\n## py-spy, the real process ({' '.join(read_command(args.entry, config, catalog)[:2])}...), imports included: "
             f"{total:,} samples at 250 Hz, {run.records:,} records, {run.wall_s:.1f} s wall; % of samples, grouped by function\n"]
    tables = (("inclusive (function on the stack)", inclusive), ("own (function at the top of the stack)", own),
              ("own, by line (native calls such as write() count to the line that made them)", own_lines))
    for title, table in tables:
        lines.append(f"\n=== top {args.profile_top} {title} ===")
        for name, samples in sorted(table.items(), key=lambda item: -item[1])[:args.profile_top]:
            lines.append(f"{samples * 100 / max(total, 1):6.1f}%  {name}")
    return "\n".join(lines) + "\n"


def _frame_name(frame: str) -> str:
    """`func (path/file.py:123)` -> `func (path/file.py)`, site-packages prefixes already stripped by py-spy."""
    name, _, location = frame.partition(" (")
    return f"{name} ({location.rsplit(':', 1)[0]})" if location else name


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


# --- main ----------------------------------------------------------------------------------------------
def _sizes(value: str) -> List[int]:
    sizes = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive event counts, e.g. 10000,100000,1000000")
    return sizes


def _seconds(value: str) -> List[float]:
    return [float(part) for part in value.split(",") if part.strip()]


def compile_package() -> None:
    """Byte-compile the connector's own modules, as `pip install` does for the image and every non-editable install.

    The venv's install is editable: its modules are read from the source tree, and with
    PYTHONDONTWRITEBYTECODE set (as on this project's machines) they would be compiled anew in every
    timed process (about 0.03 s), a cost no installed copy pays. Imports read the .pyc files this
    writes; a stale one is ignored (Python compares the source's mtime).
    """
    import compileall

    compileall.compile_dir(str(ROOT / "source_mixpanel_aep"), quiet=1)


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
        print(BACKFILL_MARK + json.dumps(simulate_backfill(sorted(set(args.simulate_backfill) | {args.request_seconds}), args.request_seconds)))
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
        results["profiles"] = profiles_scaling(
            args.profiles, day, catalog=write_catalog("profiles", "last_seen", "distinct_id"), server=FakeServer, write_config=write_config,
            command=lambda config, catalog: read_command(args.entry, config, catalog), run_counting=run_counting, rss_growth=rss_growth,
            problems=problems)
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
    print(f"\nbenchmark took {results['bench_seconds']:.0f} s; load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{value:.2f}" for value in results["load_after"]))
    other = other_cpu.seconds()
    if other is not None:
        share = other / results["bench_seconds"]
        results["other_cpu_s"] = other
        print(f"CPU used by processes other than this benchmark meanwhile: {other:.0f} CPU s ({share:.0%} of one CPU)")
        if share > 0.1:
            print(f"NOTE: other work was competing for the {cpus} CPUs; walls are noisy, compare the CPU columns too")

    missed = [row["case"] + " speed" for row in results["throughput"] if not row["ratio_met"]]
    missed += [row["case"] + " RSS" for row in results["throughput"] if not row["rss_met"]]
    if "scaling" in results:
        missed += [] if results["scaling"]["ratio_met"] else ["scaling ratio"]
        missed += [] if results["scaling"]["rss_met"] else ["scaling RSS"]
    if "profiles" in results:
        missed += [] if results["profiles"]["ratio_met"] else ["profiles scaling ratio"]
    missed += [] if results["backfill"]["requests_met"] else ["backfill requests"]
    missed += [] if results["backfill"]["sleep_met"] else ["backfill sleep"]
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

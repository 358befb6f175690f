"""`bench.py --profile PATH`: one connector `read` under cProfile in-process, and with --py-spy one sampled real process.

The in-process profile calls the console script's own function (imports not included, fd 1 to
/dev/null); py-spy samples the real `read` command, imports included. Both written as text to PATH.
Named profiling, not profile: cProfile imports the standard library's `profile`, and bench/ is first on sys.path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict

from fixtures import FakeServer, read_command, write_config
from processes import ROOT, WORK, run_counting, run_timeout
from report import git_version


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


"""Measured child processes for the benchmark: a launcher that reports one process's wall, CPU and peak RSS.

Every program the benchmark times runs as its own process under LAUNCHER, its stdout drained and
its RECORD lines counted here; every process started is tracked and ended when the benchmark
ends, however it ends. Standard library only.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"  # ignored by git, removed by `make clean`
RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')  # the CDK's compact form; floor.py's json.dumps form
MB = 1024 * 1024

LIVE: Dict[int, subprocess.Popen] = {}  # every process this benchmark started and has not reaped yet
CHILD_ENV = dict(os.environ)  # set by bench.main(): PYTHONUNBUFFERED as the Docker image has it, unless --buffered


def stop(proc: subprocess.Popen, grace: float = 5) -> None:
    """Terminate, then kill if it will not go; forget it either way."""
    if proc.poll() is None:
        proc.terminate()  # a launcher passes SIGTERM on to the program it measures
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    LIVE.pop(proc.pid, None)


def _cleanup() -> None:
    for proc in list(LIVE.values()):
        stop(proc)


def _on_signal(signum: int, _frame: Any) -> None:
    _cleanup()
    sys.exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


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
    LIVE[proc.pid] = proc
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
    LIVE.pop(proc.pid, None)
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


def expect_records(run: Run, expected: int, label: str, problems: List[str]) -> None:
    """A failed run or a wrong record count goes to `problems`: it always makes the exit status non-zero."""
    if run.returncode != 0 or run.records != expected:
        problems.append(f"{label}: exit {run.returncode}, {run.records:,} records (expected {expected:,})\n{run.tail[-3000:]}")


def run_timeout(events: int) -> float:
    return 120 + events / 1000  # generous: ~1,000 records/s would be 20x slower than today


def compile_package() -> None:
    """Byte-compile the connector's own modules, as `pip install` does for the image and every non-editable install.

    The venv's install is editable: its modules are read from the source tree, and with
    PYTHONDONTWRITEBYTECODE set (as on this project's machines) they would be compiled anew in every
    timed process (about 0.03 s), a cost no installed copy pays. Imports read the .pyc files this
    writes; a stale one is ignored (Python compares the source's mtime).
    """
    import compileall

    compileall.compile_dir(str(ROOT / "source_mixpanel_aep"), quiet=1)

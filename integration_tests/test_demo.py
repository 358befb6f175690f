"""The demo as a user runs it: `scripts/demo.py`, then the incremental run its hint points to.

The demo's fake is gone when it ends; the hint must give a command that works. Each run is the
real script in its own process (which runs the installed `source-mixpanel-aep` command), on a
temp directory instead of .demo/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/demo.py", *args], cwd=REPO, capture_output=True, text=True, timeout=180)


def cursor(directory: Path) -> str:
    return json.loads((directory / "state.json").read_text())[-1]["stream"]["stream_state"]["timestamp"]


def test_given_a_finished_demo_when_the_hinted_incremental_command_runs_then_it_resumes_from_the_saved_state(tmp_path):
    first = demo("--dir", str(tmp_path))
    assert first.returncode == 0, first.stderr[-2000:]
    [hinted] = re.findall(r"`(python scripts/demo\.py --incremental[^`]*)`", first.stdout)
    assert "make demo-incremental" in first.stdout
    first_cursor = cursor(tmp_path)

    second = demo(*hinted.split()[2:])  # the command exactly as hinted, with this test's interpreter
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Resuming from" in second.stdout and first_cursor in second.stdout
    assert re.search(r"new events delivered: (\d+) of \1\b", second.stdout), second.stdout
    assert re.search(r"late events for \S+ delivered now: (\d+) of \1 \(they reached Mixpanel since the last sync", second.stdout), second.stdout
    second_cursor = cursor(tmp_path)
    assert second_cursor >= first_cursor

    third = demo(*hinted.split()[2:])  # and again, from the state the second run saved
    assert third.returncode == 0 and "Resuming from" in third.stdout and second_cursor in third.stdout


def test_given_no_finished_demo_when_incremental_then_it_says_to_run_the_demo_first(tmp_path):
    done = demo("--incremental", "--dir", str(tmp_path))
    assert done.returncode != 0 and "run `make demo` first" in done.stderr

"""What every benchmark case reads from and runs: the fake Mixpanel as a process, config and catalog files, commands.

The fake Mixpanel is `python -m integration_tests.fake_mixpanel` (its own process, free port,
the URL in a port file); the connector is its console script next to sys.executable (or
`python main.py`); the floor is bench/floor.py. Files go to .bench/.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, List, Optional, Sequence

from processes import LIVE, ROOT, WORK, stop

sys.path.insert(0, str(ROOT))

from integration_tests.fake_mixpanel import FAKE_PROJECT_ID, FAKE_SA_SECRET, FAKE_SA_USERNAME, connector_config  # noqa: E402  (stdlib-only package)


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
        LIVE[self.proc.pid] = self.proc
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
            stop(self.proc, grace=10)


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

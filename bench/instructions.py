"""Instructions per event of one in-process `read`, counted by callgrind: a deterministic yardstick.

Wall and CPU time on a shared 2-core machine move by 10-25 % between identical runs, too much to
see a 3 % change; callgrind's instruction count moves by less than 0.1 %. Imports and a warm-up
read run uninstrumented; instrumentation is switched on (callgrind_control) for one read only:

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=.bench/callgrind.%p \\
        .venv/bin/python bench/instructions.py 20000        # then: callgrind_annotate .bench/callgrind.*

"Collected" in valgrind's summary, divided by the event count, is the figure docs/performance.md quotes.
Optional words after the count: `gzip` (a gzip body, as Mixpanel sends) and `xdm` (output_format xdm
with bench/throughput.py's XDM_SETTINGS), in any order:

    .venv/bin/python bench/instructions.py 20000 xdm

Without valgrind it just runs the two reads. Standard library + the connector; fake server on 127.0.0.1.
"""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from throughput import XDM_SETTINGS  # noqa: E402  (bench/ is on sys.path as the script's folder): the config the throughput pass reads xdm with

from integration_tests.fake_mixpanel import connector_config  # noqa: E402


def main() -> int:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    words = set(sys.argv[2:])
    if words - {"gzip", "xdm"}:
        sys.exit(f"unknown options {sorted(words - {'gzip', 'xdm'})}: after the event count, only gzip and xdm")
    gzip, xdm = "gzip" in words, "xdm" in words
    day = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    work = Path(tempfile.mkdtemp())
    server = subprocess.Popen(
        [sys.executable, "-m", "integration_tests.fake_mixpanel", "--port", "0", "--events-per-day", str(events), "--days", "1",
         "--start-day", day, "--cache-bodies"] + ([] if gzip else ["--no-gzip"]),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = server.stdout.readline().decode().strip()
        config = connector_config(url, start_date=day, end_date=day)
        if xdm:
            config.update(XDM_SETTINGS)
        (work / "config.json").write_text(json.dumps(config))
        (work / "catalog.json").write_text(json.dumps({"streams": [{"stream": {"name": "events", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                                                                    "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}))
        from source_mixpanel_aep.run import launch as run

        args = ["read", "--config", str(work / "config.json"), "--catalog", str(work / "catalog.json")]
        saved = os.dup(1)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        try:
            run(args)  # warm-up: first-use costs (and the fake's cache) out of the way
            sys.stdout.flush()
            toggle("on")
            run(args)
            sys.stdout.flush()
            toggle("off")
        finally:
            os.dup2(saved, 1)
    finally:
        server.terminate()
    print(f"{events:,} events read twice ({'xdm' if xdm else 'flat'}, gzip {'on' if gzip else 'off'}); the second read was instrumented (if under callgrind)", file=sys.stderr)
    return 0


def toggle(state: str) -> None:
    """callgrind_control -i on|off for this process; a no-op when not under callgrind."""
    try:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return
    time.sleep(0.2)  # callgrind picks the command up at its next poll


if __name__ == "__main__":
    sys.exit(main())

"""The built-in demo: a fake Mixpanel on a free loopback port, then the real connector, end to end.

Runs the installed `source-mixpanel-aep` command (a separate process, exactly as a user would)
for spec, check, discover and read, writes every file it used under .demo/, and prints a summary:
records read, one record, the final state. Then the same read with `output_format: "xdm"` (what
AEP ingests as it is) and one XDM record. No Mixpanel account, no network.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from integration_tests.fake_mixpanel import FakeMixpanel, connector_config  # noqa: E402

DAYS = 7
EVENTS_PER_DAY = 500
OUT = REPO / ".demo"
XDM = {"output_format": "xdm", "xdm_tenant_id": "_extconndev", "xdm_fields": {"$browser": "string", "$screen_width": "integer"}}


def connector(*args: str) -> list:
    command = [str(Path(sys.executable).parent / "source-mixpanel-aep"), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        errors = [m["trace"]["error"]["message"] for m in messages if m["type"] == "TRACE" and m["trace"].get("error")]
        sys.exit(f"`source-mixpanel-aep {args[0]}` failed (exit {done.returncode}): {errors or done.stderr[-2000:]}")
    return messages


def main() -> None:
    OUT.mkdir(exist_ok=True)
    today = dt.datetime.now(dt.timezone.utc).date()
    days = [today - dt.timedelta(days=offset) for offset in range(DAYS, 0, -1)]
    with FakeMixpanel(events_per_day=EVENTS_PER_DAY, days=days) as fake:
        config = connector_config(fake.url, start_date=days[0].isoformat(), date_window_days=3)
        (OUT / "config.json").write_text(json.dumps(config, indent=2))
        print(f"Fake Mixpanel at {fake.url}: {EVENTS_PER_DAY} events a day, {days[0]}..{days[-1]}")

        spec = next(m for m in connector("spec") if m["type"] == "SPEC")
        print(f"spec: {len(spec['spec']['connectionSpecification']['properties'])} config fields")
        status = next(m for m in connector("check", "--config", str(OUT / "config.json")) if m["type"] == "CONNECTION_STATUS")
        print(f"check: {status['connectionStatus']['status']}")
        catalog = next(m for m in connector("discover", "--config", str(OUT / "config.json")) if m["type"] == "CATALOG")
        stream = catalog["catalog"]["streams"][0]
        print(f"discover: stream {stream['name']!r}, modes {stream['supported_sync_modes']}, cursor {stream['default_cursor_field']}")
        configured = {"streams": [{"stream": stream, "sync_mode": "incremental", "cursor_field": ["timestamp"], "destination_sync_mode": "append"}]}
        (OUT / "catalog.json").write_text(json.dumps(configured, indent=2))

        messages = connector("read", "--config", str(OUT / "config.json"), "--catalog", str(OUT / "catalog.json"))
        (OUT / "config-xdm.json").write_text(json.dumps({**config, **XDM}, indent=2))
        xdm_messages = connector("read", "--config", str(OUT / "config-xdm.json"), "--catalog", str(OUT / "catalog.json"))
    records = [m["record"]["data"] for m in messages if m["type"] == "RECORD"]
    states = [m["state"] for m in messages if m["type"] == "STATE"]
    (OUT / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (OUT / "state.json").write_text(json.dumps([states[-1]], indent=2))
    windows = [m["log"]["message"] for m in messages if m["type"] == "LOG" and m["log"]["message"].startswith("Window ")]

    print(f"\nread: {len(records)} records ({len(set(r['_id'] for r in records))} distinct _id) in {len(windows)} windows")
    for line in windows:
        print(f"  {line}")
    print("events by name:", dict(Counter(r["event_name"] for r in records).most_common(5)))
    print("\none record:")
    print(json.dumps(records[0], indent=2)[:1800])
    print("\nfinal state (saved to .demo/state.json; pass it with --state for an incremental run):")
    print(json.dumps(states[-1]["stream"]["stream_state"], indent=2))
    xdm_records = [m["record"]["data"] for m in xdm_messages if m["type"] == "RECORD"]
    (OUT / "records-xdm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in xdm_records))
    print(f"\nthe same read with output_format xdm: {len(xdm_records)} XDM ExperienceEvents (.demo/records-xdm.jsonl); one of them:")
    print(json.dumps(xdm_records[0], indent=2, ensure_ascii=False)[:2500])
    print("what to create in AEP for them: .venv/bin/source-mixpanel-aep-xdm schema --config .demo/config-xdm.json")
    print(f"\nEverything used and produced is in {OUT.relative_to(REPO)}/")


if __name__ == "__main__":
    main()

"""The built-in demo: a fake Mixpanel on a free loopback port, then the real connector, end to end.

`make demo` (`python scripts/demo.py`) runs the installed `source-mixpanel-aep` command (a separate
process, exactly as a user would) for spec, check, discover and read, writes every file it used
under .demo/, and prints a summary: records read, one record, the final state.

`make demo-incremental` (`python scripts/demo.py --incremental`) is the next sync: the demo's fake
is gone when the demo ends, so it starts a new one on the same data (the days and seed saved in
.demo/fake.json) plus a few new events since the cursor and a few late events for the last day,
points .demo/config.json at its port, and runs `read --state .demo/state.json`: the new events and
the late ones (an old `time`, reaching Mixpanel just now) come in at once, because the sync asks for
what reached Mixpanel since the last one (`mp_processing_time_ms` in the `where`). The new final
state replaces .demo/state.json, so it can be run again. No Mixpanel account, no network.

It also reads the same data with `output_format: "xdm"` (what AEP ingests as it is) and prints one XDM record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from integration_tests.fake_mixpanel import FakeMixpanel, connector_config, generate_events  # noqa: E402

DAYS = 7
EVENTS_PER_DAY = 500
LATE_EVENTS = 5
NEW_EVENTS = 5
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


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def full(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    today = dt.datetime.now(dt.timezone.utc).date()
    days = [today - dt.timedelta(days=offset) for offset in range(DAYS, 0, -1)]
    (out / "fake.json").write_text(json.dumps({"days": [day.isoformat() for day in days], "events_per_day": EVENTS_PER_DAY, "seed": 0}))
    with FakeMixpanel(events_per_day=EVENTS_PER_DAY, days=days) as fake:
        config = connector_config(fake.url, start_date=days[0].isoformat(), date_window_days=3)
        (out / "config.json").write_text(json.dumps(config, indent=2))
        print(f"Fake Mixpanel at {fake.url}: {EVENTS_PER_DAY} events a day, {days[0]}..{days[-1]}")

        spec = next(m for m in connector("spec") if m["type"] == "SPEC")
        print(f"spec: {len(spec['spec']['connectionSpecification']['properties'])} config fields")
        status = next(m for m in connector("check", "--config", str(out / "config.json")) if m["type"] == "CONNECTION_STATUS")
        print(f"check: {status['connectionStatus']['status']}")
        catalog = next(m for m in connector("discover", "--config", str(out / "config.json")) if m["type"] == "CATALOG")
        stream = catalog["catalog"]["streams"][0]
        print(f"discover: stream {stream['name']!r}, modes {stream['supported_sync_modes']}, cursor {stream['default_cursor_field']}")
        configured = {"streams": [{"stream": stream, "sync_mode": "incremental", "cursor_field": ["timestamp"], "destination_sync_mode": "append"}]}
        (out / "catalog.json").write_text(json.dumps(configured, indent=2))

        messages = connector("read", "--config", str(out / "config.json"), "--catalog", str(out / "catalog.json"))
        (out / "config-xdm.json").write_text(json.dumps({**json.loads((out / "config.json").read_text()), **XDM}, indent=2))
        xdm_messages = connector("read", "--config", str(out / "config-xdm.json"), "--catalog", str(out / "catalog.json"))
    records = summarise(out, messages)
    print("\none record:")
    print(json.dumps(records[0], indent=2)[:1800])
    print(f"\nfinal state (saved to {_shown(out / 'state.json')}):")
    print(json.dumps(json.loads((out / "state.json").read_text())[0]["stream"]["stream_state"], indent=2))
    xdm_records = [m["record"]["data"] for m in xdm_messages if m["type"] == "RECORD"]
    (out / "records-xdm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in xdm_records))
    print(f"\nthe same read with output_format xdm: {len(xdm_records)} XDM ExperienceEvents ({_shown(out / 'records-xdm.jsonl')}); one of them:")
    print(json.dumps(xdm_records[0], indent=2, ensure_ascii=False)[:2500])
    print(f"what to create in AEP for them: .venv/bin/source-mixpanel-aep-xdm schema --config {_shown(out / 'config-xdm.json')}")
    config_file, state_file = _shown(out / "config.json"), _shown(out / "state.json")
    print(
        f"\nThe fake above is stopped now, so {config_file} points at a closed port. For the next, incremental sync\n"
        f"from that state, run `make demo-incremental` (or `python scripts/demo.py --incremental{_dir_option(out)}`): it starts\n"
        f"the fake again on the same data (plus a few new events and a few late ones), points {config_file} at it and runs `read --state {state_file}`."
    )
    print(f"\nEverything used and produced is in {_shown(out)}/")


def _dir_option(out: Path) -> str:
    return "" if out == OUT else f" --dir {_shown(out)}"


def incremental(out: Path) -> None:
    saved = [out / name for name in ("fake.json", "config.json", "catalog.json", "state.json")]
    if not all(path.is_file() for path in saved):
        sys.exit(f"No finished demo in {_shown(out)}/ (it needs {', '.join(path.name for path in saved)}): run `make demo` first.")
    fake_settings = json.loads((out / "fake.json").read_text())
    days = [dt.date.fromisoformat(day) for day in fake_settings["days"]]
    late = list(generate_events(days[-1], LATE_EVENTS, seed=int(dt.datetime.now().timestamp())))
    arrived_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    for event in late:  # late: they happened on the last day and reach Mixpanel only now
        event["properties"]["mp_processing_time_ms"] = arrived_ms
    state = json.loads((out / "state.json").read_text())[-1]["stream"]["stream_state"]
    new = _new_events(dt.datetime.fromisoformat(state["timestamp"].replace("Z", "+00:00")))
    with FakeMixpanel(events_per_day=fake_settings["events_per_day"], days=days, seed=fake_settings["seed"]) as fake:
        fake.add_events(late + new)
        config = json.loads((out / "config.json").read_text())
        config["base_url"] = fake.url
        (out / "config.json").write_text(json.dumps(config, indent=2))
        print(f"Fake Mixpanel again at {fake.url}: the same {days[0]}..{days[-1]}, plus {NEW_EVENTS} new events since the cursor "
              f"and {LATE_EVENTS} late events for {days[-1]}")
        print(f"read --state {_shown(out / 'state.json')} (cursor {state.get('timestamp')})")
        messages = connector("read", "--config", str(out / "config.json"), "--catalog", str(out / "catalog.json"),
                             "--state", str(out / "state.json"))
    records = summarise(out, messages, start_lines=("Resuming", "No saved", "start_date"))
    delivered = {r.get("insert_id") for r in records}
    new_ids, late_ids = ({event["properties"]["$insert_id"] for event in events} for events in (new, late))
    print(f"new events delivered: {len(new_ids & delivered)} of {len(new_ids)} (the sync asked only for events since the cursor)")
    lookback = config.get("lookback_window_days", 5)
    print(f"late events for {days[-1]} delivered now: {len(late_ids & delivered)} of {len(late_ids)} (they reached Mixpanel since the last "
          f"sync; a sync asks by arrival, mp_processing_time_ms, over the last {lookback} days); {days[-1]}'s safety sweep, on "
          f"{days[-1] + dt.timedelta(days=lookback + 1)}, looks only for events without an arrival time")
    print(f"\nnew state saved to {_shown(out / 'state.json')}; run `python scripts/demo.py --incremental{_dir_option(out)}` "
          "(`make demo-incremental`) again for the next sync.")


def _new_events(cursor: dt.datetime) -> list:
    """Events that happened since the cursor (up to now): what a scheduled sync exists for."""
    now = dt.datetime.now(dt.timezone.utc)
    stamp = int(now.timestamp())
    span = max(1, int((now - cursor).total_seconds()))
    return [
        {"event": "Page viewed", "properties": {"time": stamp - (span * index) // (NEW_EVENTS + 1), "distinct_id": f"demo-user-{index}",
                                                "$insert_id": f"demo-new-{stamp}-{index}", "mp_processing_time_ms": stamp * 1000}}
        for index in range(NEW_EVENTS)
    ]


def summarise(out: Path, messages: list, start_lines: tuple = ()) -> list:
    """Print the read's windows and counts, save records and the final state; the records."""
    records = [m["record"]["data"] for m in messages if m["type"] == "RECORD"]
    states = [m["state"] for m in messages if m["type"] == "STATE"]
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if states:
        (out / "state.json").write_text(json.dumps([states[-1]], indent=2))
    logs = [m["log"]["message"] for m in messages if m["type"] == "LOG"]
    windows = [line for line in logs if line.startswith("Window ")]
    print(f"\nread: {len(records)} records ({len(set(r['_id'] for r in records))} distinct _id) in {len(windows)} windows")
    for line in [line for line in logs if line.startswith(start_lines)] if start_lines else []:
        print(f"  {line}")
    for line in windows:
        print(f"  {line}")
    print("events by name:", dict(Counter(r["event_name"] for r in records).most_common(5)))
    return records


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incremental", action="store_true", help="the next sync, from the state the last demo saved")
    parser.add_argument("--dir", type=Path, default=OUT, help="where the demo's files are (default: .demo/)")
    args = parser.parse_args(argv)
    (incremental if args.incremental else full)(args.dir.resolve())


if __name__ == "__main__":
    main()

"""A simulated week of scheduled syncs: what each plan sends, delivers, loses, and how late.

`make bench-schedule` (CI runs it small). One simulated clock drives both sides: the connector
runs in-process (`run.launch`, the path the command ships) under time-machine, which moves
`datetime.now()`/`time.time()` for the whole process, and the fake Mixpanel (`now=`) serves only
the events that exist at that instant: their `time` and their arrival (`mp_processing_time_ms`)
are in the past. About 1% of the fake's events arrive between 1 hour and 4 days late.

The week: `--days` days of events (from 2026-06-01), synced every `--every` minutes from the first
interval of day 1 until every one of those days has left the lookback (days + lookback + 1 days of
syncs), so each day's last sweep is counted in the transfer. Every plan sees the same data:
- **arrival plan**: this connector with its default settings (each sync reads what reached Mixpanel
  since the last one, `mp_processing_time_ms`, plus the safety sweep of events without it);
- **+ full sweeps**: the arrival plan with `safety_sweep: full_days` (each past day read again in full on D+6);
- **sweep plan**: the plan before it (the fresh part from the cursor with the `$time` filter, each
  past day read again in full on D+6), the same connector with `sweep_plan_until` pinned in its state;
- **re-read plan** (Airbyte's connector, and this one before issue 10), replayed as the requests it
  made: every sync reads from the cursor's day minus `lookback_window_days` to today, whole days.

Printed per plan and schedule: events that exist, delivered (the exact set of `_id`s, after dedupe),
lost (must be 0), records for no existing event (must be 0);
transfer amplification = events the server sent / distinct events (target <= 1.5 for the arrival
plan), also without the sweeps' requests; the latest delivery of a late event after it arrived
(target: one interval plus the 5-minute arrival overlap), and of an on-time event after it happened;
requests per hour (the most in any rolling hour; Mixpanel allows 60).

Also `--drop-day N`: one day of N events on a connection that drops every N/7 lines, read by a
default sync from an empty state: it must still complete (windows split down to hour ranges).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections import deque
from io import BytesIO
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import orjson
import requests
import time_machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from integration_tests.builders import catalog_json, expected_id  # noqa: E402
from integration_tests.fake_mixpanel import FAKE_PROJECT_ID, FAKE_SA_SECRET, FAKE_SA_USERNAME, FakeMixpanel, connector_config  # noqa: E402
from source_mixpanel_aep.run import launch  # noqa: E402

FIRST_DAY = dt.date(2026, 6, 1)
LOOKBACK_DAYS = 5  # the connector's default, which today's plan also re-read
WINDOW_DAYS = 30
TARGET_AMPLIFICATION = 1.5
OVERLAP = dt.timedelta(minutes=5)  # the default arrival_overlap_minutes
PINNED = "2099-12-31"  # sweep_plan_until that keeps the sweep plan for the whole simulation
TARGET_REQUESTS_PER_HOUR = 60
UTC = dt.timezone.utc


def sync_instants(days: int, every: dt.timedelta) -> List[dt.datetime]:
    start = dt.datetime.combine(FIRST_DAY, dt.time(0), UTC)
    end = start + dt.timedelta(days=days + LOOKBACK_DAYS + 1)
    instants, at = [], start + every
    while at <= end:
        instants.append(at)
        at += every
    return instants


INSERT_ID = b'"$insert_id":"'


def insert_id_of(line: bytes) -> str:
    """The fake's `$insert_id` (unique per generated event), read straight from a raw line: today's plan sends millions."""
    start = line.index(INSERT_ID) + len(INSERT_ID)
    return line[start:line.index(b'"', start)].decode()


class Deliveries:
    """First delivery of each event, and how many records came.

    Keyed by `_id` (the dedupe key, Mixpanel's: event, distinct_id, time, $insert_id) for this
    connector; today's plan is replayed as raw requests, so its lines are keyed by the fake's
    `$insert_id`, which is unique per event there (checked), so the two sets mean the same.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.first: Dict[str, dt.datetime] = {}
        self.records = 0

    def add(self, ids: Iterable[str], at: dt.datetime) -> None:
        for record_id in ids:
            self.records += 1
            self.first.setdefault(record_id, at)


def run_connector(fake: FakeMixpanel, instants: List[dt.datetime], workdir: Path, sweep_plan: bool = False, **settings: object) -> Deliveries:
    """This connector (default settings, or `settings`), one in-process `read` per scheduled instant, each from the last STATE.

    `sweep_plan`: every state handed on keeps `sweep_plan_until` far ahead, so each sync reads the plan before the arrival plan.
    """
    config = workdir / "config.json"
    config.write_text(json.dumps(connector_config(fake.url, start_date=FIRST_DAY.isoformat(), **settings)))
    catalog = workdir / "catalog.json"
    catalog.write_text(catalog_json())
    state_file = workdir / "state.json"
    delivered = Deliveries("_id")
    for at in instants:
        args = ["read", "--config", str(config), "--catalog", str(catalog)] + (["--state", str(state_file)] if state_file.exists() else [])
        out = BytesIO()
        with time_machine.travel(at, tick=False):
            code = launch(args, stdout=out)
        if code != 0:
            raise SystemExit(f"the sync at {at} failed (exit {code}): {out.getvalue()[-2000:].decode(errors='replace')}")
        ids, last_state = [], None
        for line in out.getvalue().splitlines():
            if line.startswith(b'{"type":"RECORD"'):
                ids.append(orjson.loads(line)["record"]["data"]["_id"])
            elif line.startswith(b'{"type":"STATE"'):
                last_state = orjson.loads(line)["state"]
        delivered.add(ids, at)
        if last_state is not None:
            if sweep_plan:
                stream_state = last_state["stream"]["stream_state"]
                stream_state.pop("arrived", None)
                stream_state["sweep_plan_until"] = PINNED
            state_file.write_text(json.dumps([last_state]))
    return delivered


def run_todays_plan(fake: FakeMixpanel, instants: List[dt.datetime]) -> Deliveries:
    """Today's plan, as the requests it made: from the cursor's day minus the lookback to today, whole days, 30-day windows."""
    delivered = Deliveries("$insert_id")
    cursor: Optional[dt.datetime] = None
    session = requests.Session()
    session.auth = (FAKE_SA_USERNAME, FAKE_SA_SECRET)
    for at in instants:
        with time_machine.travel(at, tick=False):
            today = at.date()
            day = FIRST_DAY if cursor is None else max(FIRST_DAY, cursor.date() - dt.timedelta(days=LOOKBACK_DAYS))
            while day <= today:
                end = min(today, day + dt.timedelta(days=WINDOW_DAYS - 1))
                params = {"from_date": day.isoformat(), "to_date": end.isoformat(), "time_in_ms": "true", "project_id": FAKE_PROJECT_ID}
                with session.get(fake.url + "/api/2.0/export", params=params, stream=True, timeout=300) as response:
                    response.raise_for_status()
                    delivered.add((insert_id_of(line) for line in response.iter_lines(chunk_size=256 * 1024) if line), at)
                cursor = min(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), UTC) - dt.timedelta(milliseconds=1), at)
                day = end + dt.timedelta(days=1)
    return delivered


def is_sweep(request, first_sync: dt.datetime) -> bool:
    """A sweep's request: a past day read whole (no filter) after the first sync, or the arrival plan's unstamped-only sweep."""
    where = request.params.get("where") or ""
    return "not defined(" in where or (not where and request.at > first_sync and request.params.get("to_date") < request.at.date().isoformat())


def most_in_an_hour(instants: List[dt.datetime]) -> int:
    window: deque = deque()
    most = 0
    for at in sorted(instants):
        window.append(at)
        while window[0] <= at - dt.timedelta(hours=1):
            window.popleft()
        most = max(most, len(window))
    return most


def measure(name: str, fake: FakeMixpanel, delivered: Deliveries, events: List[dict], seconds: float, instants: List[dt.datetime]) -> dict:
    exported = [request for request in fake.requests if request.path.endswith("/export")]
    key = expected_id if delivered.key == "_id" else (lambda event: event["properties"]["$insert_id"])
    by_id = {key(event): event for event in events}
    assert len(by_id) == len(events), f"the fake's events have distinct {delivered.key}s"
    lost = sorted(set(by_id) - set(delivered.first))
    unexpected = set(delivered.first) - set(by_id)  # a record for no event that exists: must never happen
    late_waits, on_time_waits = [], []
    for record_id, event in by_id.items():
        if record_id not in delivered.first:
            continue
        happened = dt.datetime.fromtimestamp(event["properties"]["time"], UTC)
        arrived = dt.datetime.fromtimestamp(event["properties"]["mp_processing_time_ms"] / 1000, UTC)
        wait = (delivered.first[record_id] - arrived).total_seconds() / 3600
        (late_waits if arrived - happened > dt.timedelta(hours=1) else on_time_waits).append(wait)
    sent = sum(request.lines_sent for request in exported)
    sent_without_sweeps = sum(request.lines_sent for request in exported if not is_sweep(request, instants[0]))
    hours = (instants[-1] - instants[0]).total_seconds() / 3600 + (instants[1] - instants[0]).total_seconds() / 3600
    return {
        "plan": name, "syncs": len(instants), "exist": len(by_id), "delivered": len(set(by_id) & set(delivered.first)), "lost": len(lost), "unexpected": len(unexpected),
        "records": delivered.records, "sent": sent, "amplification": round(sent / max(len(by_id), 1), 2), "requests": len(exported),
        "amplification_without_sweeps": round(sent_without_sweeps / max(len(by_id), 1), 2),
        "requests_per_hour_max": most_in_an_hour([request.at for request in exported]),
        "requests_per_hour_avg": round(len(exported) / hours, 2),
        "late_events": len(late_waits), "late_latest_h": round(max(late_waits, default=0), 1),
        "on_time_latest_h": round(max(on_time_waits, default=0), 2), "seconds": round(seconds, 1),
    }


def simulate(every_minutes: int, days: int, events_per_day: int, sweeps: Optional[List[int]] = None) -> List[dict]:
    """Rows: the arrival plan, the sweep plan, the re-read plan; or, with `sweeps`, the sweep plan with each late_event_sweeps value."""
    instants = sync_instants(days, dt.timedelta(minutes=every_minutes))
    data_days = [FIRST_DAY + dt.timedelta(days=offset) for offset in range(days)]
    rows = []
    runs = [(f"{count} sweep{'s' if count > 1 else ''}/day", count) for count in sweeps] if sweeps else [("arrival plan", None), ("+ full sweeps", "full"), ("sweep plan", -1), ("re-read plan", 0)]
    for name, runner in runs:
        with tempfile.TemporaryDirectory() as directory, FakeMixpanel(events_per_day=events_per_day, days=data_days, now=lambda: dt.datetime.now(UTC)) as fake:
            started = time.monotonic()
            if runner is None:
                delivered = run_connector(fake, instants, Path(directory))
            elif runner == "full":
                delivered = run_connector(fake, instants, Path(directory), safety_sweep="full_days")
            elif runner == -1:
                delivered = run_connector(fake, instants, Path(directory), sweep_plan=True)
            elif runner:
                delivered = run_connector(fake, instants, Path(directory), sweep_plan=True, late_event_sweeps=runner)
            else:
                delivered = run_todays_plan(fake, instants)
            seconds = time.monotonic() - started
            events = fake.expected_events(data_days[0], data_days[-1], at=instants[-1])
            rows.append(measure(name, fake, delivered, events, seconds, instants))
    return rows


def drop_day(events: int) -> dict:
    """One day of `events` on a connection that drops every events/7 lines, from an empty state, default settings."""
    day = FIRST_DAY
    every = max(1, events // 7)
    at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), UTC)
    with tempfile.TemporaryDirectory() as directory, FakeMixpanel(events_per_day=events, days=[day], drop_every_lines=every, now=lambda: dt.datetime.now(UTC)) as fake:
        started = time.monotonic()
        delivered = run_connector(fake, [at], Path(directory))
        seconds = time.monotonic() - started
        expected = fake.expected_events(day, day, at=at)
        exported = [request for request in fake.requests if request.path.endswith("/export")]
    ids = {expected_id(event) for event in expected}
    return {"events": len(ids), "drop_every_lines": every, "delivered": len(ids & set(delivered.first)), "lost": len(ids - set(delivered.first)),
            "requests": len(exported), "broke_off": sum(request.lines_sent >= every for request in exported),
            "sent": sum(request.lines_sent for request in exported), "seconds": round(seconds, 1)}


def print_table(every: int, rows: List[dict], title: str = "") -> None:
    print(f"\n{title or f'{every}-minute syncs'}, {rows[0]['syncs']} of them ({rows[0]['exist']} events exist):")
    header = (f"  {'plan':<14}{'delivered':>10}{'lost':>6}{'sent':>10}{'ampl.':>7}{'w/o sweeps':>11}{'req/h max':>10}{'late ev.':>9}"
              f"{'late: latest (h)':>17}{'on time: latest (h)':>20}{'sim s':>7}")
    print(header)
    for row in rows:
        print(f"  {row['plan']:<14}{row['delivered']:>10}{row['lost']:>6}{row['sent']:>10}{row['amplification']:>7}{row['amplification_without_sweeps']:>11}"
              f"{row['requests_per_hour_max']:>10}{row['late_events']:>9}{row['late_latest_h']:>17}{row['on_time_latest_h']:>20}{row['seconds']:>7}")
    if rows[0]["plan"] != "arrival plan":
        return
    ours = rows[0]
    latest = latest_target_h(every)
    print(f"  arrival plan: lost {ours['lost']}, records for no existing event {ours['unexpected']}; amplification {ours['amplification']} "
          f"({'meets' if ours['amplification'] <= TARGET_AMPLIFICATION else 'MISSES'} the target of {TARGET_AMPLIFICATION:g}); "
          f"a late event delivered at most {ours['late_latest_h']} h after it arrived ({'within' if ours['late_latest_h'] <= latest else 'OVER'} "
          f"{latest:.2f} h, one interval plus the overlap); at most {ours['requests_per_hour_max']} requests in an hour "
          f"({'within' if ours['requests_per_hour_max'] <= TARGET_REQUESTS_PER_HOUR else 'OVER'} {TARGET_REQUESTS_PER_HOUR})")


def latest_target_h(every_minutes: int) -> float:
    return (dt.timedelta(minutes=every_minutes) + OVERLAP).total_seconds() / 3600


def misses(row: dict, every_minutes: int) -> bool:
    """The arrival plan's targets: nothing lost or invented, <= 1.5x transfer, late events within an interval plus the overlap, <= 60 requests an hour."""
    return (row["lost"] > 0 or row["unexpected"] > 0 or row["amplification"] > TARGET_AMPLIFICATION
            or row["late_latest_h"] > latest_target_h(every_minutes) or row["requests_per_hour_max"] > TARGET_REQUESTS_PER_HOUR)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7, help="days of events (default 7: a week)")
    parser.add_argument("--events-per-day", type=int, default=2000)
    parser.add_argument("--every", default="60,15", help="sync intervals in minutes, comma-separated (default 60,15)")
    parser.add_argument("--tradeoff", default="", help="late_event_sweeps values of the sweep plan to run hourly besides 1, e.g. 2,6 (default: skip)")
    parser.add_argument("--drop-day", type=int, default=1_400_000, help="events in the one-day dropped-connection run (0: skip)")
    parser.add_argument("--output", default=str(REPO / ".bench" / "schedule.json"))
    args = parser.parse_args(argv)
    print(f"Simulated schedules: {args.days} days of {args.events_per_day} events a day (from {FIRST_DAY}), about 1% of them late (1 h to 4 days); "
          f"default settings (lookback {LOOKBACK_DAYS} days, 5 min arrival overlap, one safety sweep per day after its lookback).")
    results: dict = {"days": args.days, "events_per_day": args.events_per_day, "schedules": {}}
    failed = False
    for every in (int(text) for text in args.every.split(",")):
        rows = simulate(every, args.days, args.events_per_day)
        print_table(every, rows)
        results["schedules"][f"{every}min"] = rows
        failed |= misses(rows[0], every) or any(row["lost"] or row["unexpected"] for row in rows)
    if args.tradeoff:
        rows = simulate(60, args.days, args.events_per_day, sweeps=[1] + [int(text) for text in args.tradeoff.split(",")])
        print_table(60, rows, "The sweep plan's trade of transfer for latency (late_event_sweeps), 60-minute syncs")
        results["tradeoff"] = rows
        failed |= any(row["lost"] for row in rows)
    if args.drop_day:
        drop = drop_day(args.drop_day)
        results["drop_day"] = drop
        print(f"\nOne day of {drop['events']} events, the connection dropped every {drop['drop_every_lines']} lines: delivered {drop['delivered']}, "
              f"lost {drop['lost']}, in {drop['requests']} requests ({drop['broke_off']} broke off), {drop['sent']} events sent "
              f"({drop['sent'] / max(drop['events'], 1):.2f}x), {drop['seconds']} s")
        failed |= drop["lost"] > 0
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

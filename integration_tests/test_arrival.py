"""Incremental syncs read by arrival (issue 18): what reached Mixpanel since the last sync, whatever the event's day.

Over real HTTP against the fake Mixpanel, through the entry point that ships (`run.launch`), the
clock of the whole process moved by time-machine to each sync's instant. The sweep plan these
syncs fall back to: test_schedule.py.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine

from integration_tests.builders import config, event_ids, ordered_ids, run_read, stream_states, warnings
from integration_tests.fake_mixpanel import FakeMixpanel, generate_events

UTC = dt.timezone.utc
DAY0 = dt.date(2026, 3, 2)
ARRIVAL = 'number(properties["mp_processing_time_ms"]) >= {ms}'
UNSTAMPED = 'not defined(properties["mp_processing_time_ms"])'


def day(offset: int) -> dt.date:
    return DAY0 + dt.timedelta(days=offset)


def at(date: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour, minute), UTC)


def ms(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


def clock() -> dt.datetime:
    return dt.datetime.now(UTC)  # under time-machine: the simulated instant, the same the connector sees


def read_at(instant: dt.datetime, cfg: dict, state: dict | None = None):
    with time_machine.travel(instant, tick=False):
        return run_read(cfg, state_value=state)


def last_state(output) -> dict:
    return stream_states(output, "events")[-1]


def arriving(on: dt.date, insert_id: str, arrived: dt.datetime | None) -> dict:
    """An event of day `on` that reaches Mixpanel at `arrived` (None: it carries no mp_processing_time_ms)."""
    event = next(generate_events(on, 1, seed=7))
    event["properties"]["$insert_id"] = insert_id
    if arrived is None:
        del event["properties"]["mp_processing_time_ms"]
    else:
        event["properties"]["mp_processing_time_ms"] = ms(arrived)
    return event


# --- the request -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "legacy, user_where, expected_where",
    [
        (False, None, ARRIVAL),
        (False, 'properties["$os"] == "Linux"', '(properties["$os"] == "Linux") and (' + ARRIVAL + ")"),
        (True, None, ARRIVAL),
        (True, 'properties["plan"] == "pro" or defined(properties["trial"])', '(properties["plan"] == "pro" or defined(properties["trial"])) and (' + ARRIVAL + ")"),
    ],
    ids=["utc", "utc-with-user-where", "legacy", "legacy-with-user-where-and-or"],
)
def test_given_an_arrival_cursor_when_the_next_sync_runs_then_it_asks_for_what_arrived_since_it_minus_5_minutes(sleeps, legacy, user_where, expected_where):
    la = {"project_timezone": "America/Los_Angeles", "legacy_local_time": True} if legacy else {}
    with FakeMixpanel(events_per_day=20, days=[day(3)], project_timezone="America/Los_Angeles" if legacy else "UTC") as fake:
        cfg = config(fake.url, start_date=str(day(0)), **la, **({"where": user_where} if user_where else {}))
        state = {"timestamp": "2026-03-05T12:00:00.000Z", "swept": {}, "arrived": "2026-03-05T12:00:00.000Z"}
        output = read_at(at(day(3), 13), cfg, state)
        [request] = fake.requests
    # mp_processing_time_ms is UTC ms in every project: the same bound for a legacy one; days from the lookback (5) before it
    assert (request.params["from_date"], request.params["to_date"]) == (str(day(0)), str(day(3)))
    assert request.params["where"] == expected_where.format(ms=ms(at(day(3), 11, 55)))
    assert not output.errors and last_state(output)["arrived"] == "2026-03-05T13:00:00.000Z"


# --- late events -------------------------------------------------------------------------------


def test_given_events_that_arrive_days_late_when_the_very_next_sync_runs_then_it_delivers_them_once(sleeps):
    with FakeMixpanel(events_per_day=50, days=[day(0), day(1), day(2), day(3)], now=clock) as fake:
        cfg = config(fake.url, start_date=str(day(0)))
        first = read_at(at(day(3), 12), cfg)
        late = [arriving(day(offset), f"late-{offset}", at(day(3), 12, 30)) for offset in range(3)]  # three old days, 30 min after the sync
        fake.add_events(late)
        second = read_at(at(day(3), 13), cfg, last_state(first))
        third = read_at(at(day(3), 14), cfg, last_state(second))
        everything = event_ids(fake.expected_events(day(0), day(3), at=at(day(3), 14)))
    late_ids = event_ids(late)
    assert all(ordered_ids(second).count(late_id) == 1 for late_id in late_ids)  # the very next sync, each once
    assert not set(late_ids) & set(ordered_ids(third))
    assert set(ordered_ids(first)) | set(ordered_ids(second)) | set(ordered_ids(third)) == set(everything)
    assert not first.errors and not second.errors and not third.errors


def test_given_hourly_syncs_when_a_sync_fails_midway_then_the_next_keeps_the_old_arrival_cursor_and_loses_nothing(sleeps):
    with FakeMixpanel(events_per_day=200, days=[day(0), day(1)], now=clock) as fake:
        cfg = config(fake.url, start_date=str(day(0)), date_window_days=1)
        state = last_state(read_at(at(day(1), 6), cfg))
        fake.add_events([arriving(day(0), "late-0", at(day(1), 6, 20))])
        fake.add_fault("status", status=503, times=50)
        failed = read_at(at(day(1), 7), cfg, state)
        fake.clear_faults()
        kept = stream_states(failed, "events")[-1] if stream_states(failed, "events") else state
        redone = read_at(at(day(1), 8), cfg, kept)
    assert failed.errors and kept["arrived"] == state["arrived"]
    assert ordered_ids(redone).count(event_ids([arriving(day(0), "late-0", at(day(1), 6, 20))])[0]) == 1 and not redone.errors


# --- the filter checked ------------------------------------------------------------------------


def test_given_a_server_that_ignores_the_arrival_filter_when_read_then_everything_is_delivered_one_warn_and_the_sweep_plan(sleeps):
    with FakeMixpanel(events_per_day=30, days=[day(0), day(1), day(2)], now=clock) as fake:
        cfg = config(fake.url, start_date=str(day(0)), lookback_window_days=2)
        state = last_state(read_at(at(day(2), 6), cfg))
        fake.honour_arrival_filter = False
        fake.requests.clear()
        output = read_at(at(day(2), 7), cfg, state)
        asked = [request.params.get("where") for request in fake.requests]
        sent = event_ids(fake.expected_events(day(0), day(2), at=at(day(2), 7)))
        after = read_at(at(day(2), 8), cfg, last_state(output))
        asked_after = [request.params.get("where") for request in fake.requests[len(asked):]]
    said = [line for line in warnings(output) if "filter was not applied" in line]
    assert len(said) == 1 and "They were delivered (nothing is lost)" in said[0]
    assert set(ordered_ids(output)) == set(sent)  # all the server sent, below the bound included
    assert asked[0].startswith("number(") and all(where is None or where.startswith('properties["$time"]') for where in asked[1:])
    new_state = last_state(output)
    assert "arrived" not in new_state and new_state["sweep_plan_until"] == str(day(2) + dt.timedelta(days=3))
    assert asked_after and all(where.startswith('properties["$time"] >= datetime(') for where in asked_after)  # the next sync: the sweep plan
    assert not output.errors and not after.errors


def test_given_events_without_the_arrival_property_when_first_read_then_one_warn_and_the_sweep_plan_with_full_sweeps(sleeps):
    with FakeMixpanel(events_per_day=10, days=[day(0), day(1)], now=clock) as fake:
        fake.add_events([arriving(day(0), "imported-long-ago", None)])
        cfg = config(fake.url, start_date=str(day(0)), lookback_window_days=1)
        first = read_at(at(day(1), 12), cfg)
        state = last_state(first)
        fake.requests.clear()
        swept = read_at(at(day(2), 0, 30), cfg, state)  # day 0's sweep, on D+2
        sweep = [request.params for request in fake.requests if request.params["from_date"] == str(day(0))]
    assert len([line for line in warnings(first) if "without mp_processing_time_ms" in line]) == 1
    assert event_ids([arriving(day(0), "imported-long-ago", None)])[0] in ordered_ids(first)
    assert "arrived" not in state and state["sweep_plan_until"] == str(day(1) + dt.timedelta(days=2))
    assert sweep == [{**sweep[0], "from_date": str(day(0)), "to_date": str(day(0))}] and "where" not in sweep[0]  # read in full
    assert not swept.errors


def test_given_an_unstamped_event_that_arrives_late_when_its_days_safety_sweep_comes_then_only_the_sweep_delivers_it(sleeps):
    with FakeMixpanel(events_per_day=10, days=[day(0), day(1), day(2)], now=clock) as fake:
        cfg = config(fake.url, start_date=str(day(0)), lookback_window_days=1)
        state = last_state(read_at(at(day(1), 12), cfg))
        fake.add_events([arriving(day(0), "unstamped-late", None)])
        unstamped = event_ids([arriving(day(0), "unstamped-late", None)])[0]
        runs = []
        for instant in (at(day(1), 13), at(day(2), 0, 30), at(day(2), 1, 30)):
            fake.requests.clear()
            output = read_at(instant, cfg, state)
            state = last_state(output)
            runs.append((ordered_ids(output), [request.params.get("where") for request in fake.requests]))
    (before, _), (on_sweep_day, wheres), (after, _) = runs
    assert unstamped not in before and on_sweep_day.count(unstamped) == 1 and unstamped not in after
    assert UNSTAMPED in wheres and "sweep_plan_until" not in state  # the safety sweep asks for nothing else


# --- state compatibility -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "saved",
    [
        {"timestamp": "2026-03-03T12:00:00.000Z"},
        {"timestamp": "2026-03-03T12:00:00.000Z", "swept": {"2026-03-02": "2026-03-03T00:10:00.000Z", "2026-03-03": None}, "events_per_day": 40},
        {"date": "2026-03-03"},
        {"time": 1772539200},
        {"swept": {"2026-03-02": None}},
        {"timestamp": "2026-03-03T12:00:00.000Z", "swept": {}, "arrived": "2026-03-03T12:00:00.000Z", "sweep_plan_until": "2026-03-03"},
    ],
    ids=["timestamp-only", "with-swept-and-rate", "other-connectors-date", "other-connectors-unix-time", "swept-without-cursor", "arrival-after-a-fallback"],
)
def test_given_each_older_state_shape_when_resumed_then_every_event_that_arrived_since_it_is_delivered(sleeps, saved):
    with FakeMixpanel(events_per_day=40, days=[day(0), day(1), day(2), day(3)], now=clock) as fake:
        fake.add_events([arriving(day(1), "late-1", at(day(3), 8))])
        cfg = config(fake.url, start_date=str(day(0)))
        output = read_at(at(day(3), 12), cfg, saved)
        since_cursor = fake.expected_events(day(0), day(3), at=at(day(3), 12), where=ARRIVAL.format(ms=ms(at(day(1), 11, 55))))
    got = set(ordered_ids(output))
    assert set(event_ids(since_cursor)) <= got and event_ids([arriving(day(1), "late-1", at(day(3), 8))])[0] in got
    assert not output.errors and last_state(output)["arrived"] == "2026-03-05T12:00:00.000Z"


# --- windows that recover after a break --------------------------------------------------------


def test_given_a_window_split_after_two_breaks_when_its_halves_complete_then_windows_grow_back_to_whole_days(sleeps):
    days = [day(offset) for offset in range(6)]
    with FakeMixpanel(events_per_day=600, days=days) as fake:
        fake.add_fault("none")  # day 0 teaches the rate; day 1 then breaks twice in a row
        fake.add_fault("reset", after_bytes=3000, times=2)
        cfg = config(fake.url, start_date=str(days[0]), end_date=str(days[-1]), date_window_days=1, window_target_events=1000)
        output = read_at(at(day(7)), cfg)
        asked = [(request.params["from_date"], request.params.get("where")) for request in fake.requests]
        everything = event_ids(fake.expected_events(days[0], days[-1]))
    noon = int(at(day(1), 12).timestamp())
    assert asked[:5] == [(str(day(0)), None), (str(day(1)), None), (str(day(1)), None),
                         (str(day(1)), f'properties["$time"] < datetime({noon})'), (str(day(1)), f'properties["$time"] >= datetime({noon})')]
    assert asked[5:] == [(str(d), None) for d in days[2:]]  # whole days again, not 12-hour pieces for the rest of the sync
    assert set(ordered_ids(output)) == set(everything) and not output.errors


FAULTS = [("status", {"status": 503}), ("status", {"status": 429}), ("reset", {"after_bytes": 2500}), ("terminated_early", {"after_events": 3})]


def test_given_30_percent_random_faults_over_20_one_day_windows_then_it_completes_within_twice_the_fault_free_requests(sleeps):
    days = [day(offset) for offset in range(20)]
    cfg_of = lambda url: config(url, start_date=str(days[0]), end_date=str(days[-1]), date_window_days=1)  # noqa: E731
    with FakeMixpanel(events_per_day=600, days=days) as fake:
        clean = read_at(at(day(21)), cfg_of(fake.url))
        fault_free = len(fake.requests)
    chance = random.Random(18)
    with FakeMixpanel(events_per_day=600, days=days) as fake:
        for _ in range(4 * fault_free):
            kind, options = chance.choice(FAULTS) if chance.random() < 0.3 else ("none", {})
            fake.add_fault(kind, **options)
        output = read_at(at(day(21)), cfg_of(fake.url))
        faulted = [request.fault for request in fake.requests]
        everything = event_ids(fake.expected_events(days[0], days[-1]))
    assert fault_free == 20 and not clean.errors
    assert sum(kind not in (None, "none") for kind in faulted) >= 6  # the faults did happen
    assert set(ordered_ids(output)) == set(everything) and not output.errors  # nothing lost
    assert len(faulted) <= 2 * fault_free, len(faulted)
    print(f"chaos: {len(faulted)} requests ({sum(kind not in (None, 'none') for kind in faulted)} faults) against {fault_free} fault-free")

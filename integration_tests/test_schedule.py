"""Scheduled syncs (issue 10): the fresh part's `$time` filter, late-event sweeps, split windows.

Since issue 18 incremental syncs read by arrival (test_arrival.py); the plan tested here is the
sweep plan they fall back to, pinned by a state's `sweep_plan_until`.

Over real HTTP against the fake Mixpanel, through the entry point that ships (`run.launch`), with
the clock of the whole process (connector and fake) moved by time-machine to the instant each
scheduled sync runs. Resuming from an old `{"timestamp": ...}` state: test_protocol.py and
test_acceptance_extras.py; from other connectors' states: test_bad_input.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from integration_tests.builders import config, cursors, days_back, event_ids, infos, ordered_ids, run_read, stream_states, warnings
from integration_tests.fake_mixpanel import FakeMixpanel, generate_events

UTC = dt.timezone.utc
DAY0 = dt.date(2026, 3, 2)


def day(offset: int) -> dt.date:
    return DAY0 + dt.timedelta(days=offset)


def at(date: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour, minute), UTC)


def read_at(instant: dt.datetime, cfg: dict, state: dict | None = None):
    with time_machine.travel(instant, tick=False):
        return run_read(cfg, state_value=state)


def last_state(output) -> dict:
    return stream_states(output, "events")[-1]


def in_sweep_plan(state: dict, until: str = "2026-04-30") -> dict:
    """The state as a fallback leaves it: the sweep plan up to `until`, no arrival cursor."""
    return {**{key: value for key, value in state.items() if key != "arrived"}, "sweep_plan_until": until}


def late_event(on: dt.date, insert_id: str) -> dict:
    event = next(generate_events(on, 1, seed=99))
    event["properties"]["$insert_id"] = insert_id
    return event


# --- the fresh part's filter -------------------------------------------------------------------


@pytest.mark.parametrize(
    "legacy, user_where, expected_where",
    [
        (False, None, 'properties["$time"] >= datetime({utc})'),
        (False, 'properties["$os"] == "Linux"', '(properties["$os"] == "Linux") and (properties["$time"] >= datetime({utc}))'),
        (True, None, 'properties["$time"] >= datetime({local})'),
        (True, 'properties["plan"] == "pro" or defined(properties["trial"])',
         '(properties["plan"] == "pro" or defined(properties["trial"])) and (properties["$time"] >= datetime({local}))'),
    ],
    ids=["utc", "utc-with-user-where", "legacy-local-clock", "legacy-with-user-where-and-or"],
)
def test_given_a_saved_cursor_in_the_sweep_plan_when_the_next_sync_runs_then_it_asks_only_from_the_cursor_minus_10_minutes(sleeps, legacy, user_where, expected_where):
    cursor = at(day(3), 12)
    since = cursor - dt.timedelta(minutes=10)
    la = {"project_timezone": "America/Los_Angeles", "legacy_local_time": True} if legacy else {}
    # A legacy project's raw `time` is Los Angeles wall-clock seconds (UTC-8 in early March): 11:50Z is 03:50 there
    utc, local = int(since.timestamp()), int(dt.datetime(2026, 3, 5, 3, 50, tzinfo=UTC).timestamp())
    with FakeMixpanel(events_per_day=20, days=[day(3)], project_timezone="America/Los_Angeles" if legacy else "UTC") as fake:
        cfg = config(fake.url, start_date=str(day(0)), **la, **({"where": user_where} if user_where else {}))
        output = read_at(at(day(3), 13), cfg, in_sweep_plan({"timestamp": "2026-03-05T12:00:00.000Z", "swept": {}}))
        [request] = fake.requests
    assert (request.params["from_date"], request.params["to_date"]) == (str(day(3)), str(day(3)))
    assert request.params["where"] == expected_where.format(utc=utc, local=local)
    assert not output.errors and cursors(output)[-1] == "2026-03-05T13:00:00.000Z"


def clock() -> dt.datetime:
    return dt.datetime.now(UTC)  # under time-machine: the simulated instant, the same the connector sees


def test_given_syncs_every_15_minutes_when_they_run_then_each_event_comes_once_plus_the_overlap_and_none_is_missed(sleeps):
    with FakeMixpanel(events_per_day=960, days=[day(0)], now=clock) as fake:  # an event every 90 s; each exists once it has arrived
        cfg = config(fake.url, start_date=str(day(0)))
        state, seen = None, []
        for quarter in range(1, 13):  # 00:15 .. 03:00
            output = read_at(at(day(0)) + dt.timedelta(minutes=15 * quarter), cfg, state)
            state = last_state(output)
            seen += ordered_ids(output)
        arrived = event_ids(fake.expected_events(day(0), day(0), at=at(day(0), 3) - dt.timedelta(minutes=10)))
        requests = [(request.params["from_date"], request.params.get("where")) for request in fake.requests]
    assert set(arrived) <= set(seen)  # every event that had arrived 10 minutes before the last sync
    assert len(seen) <= len(set(seen)) * (1 + 10 / 15) + 2  # each once, plus those in the 10-minute overlap: never the day again
    assert len(requests) == 12 and all(where and where.startswith('number(properties["mp_processing_time_ms"]) >= ') for _, where in requests[1:])


# --- late events and sweeps --------------------------------------------------------------------


def three_days_then_a_late_event(fake: FakeMixpanel, cfg: dict) -> dict:
    """A backfill on day 2 at 23:00, then an event of day 1 reaches Mixpanel; the state after the backfill."""
    first = read_at(at(day(2), 23), cfg)
    assert not first.errors
    fake.add_events([late_event(day(1), "late-day-1")])
    return in_sweep_plan(last_state(first))


def test_given_the_sweep_plan_and_a_late_event_when_its_days_sweep_comes_then_it_is_delivered_then_and_only_then(sleeps):
    with FakeMixpanel(events_per_day=5, days=[day(0), day(1), day(2)]) as fake:
        cfg = config(fake.url, start_date=str(day(0)), lookback_window_days=2)  # one sweep, on D+3: the day after the lookback
        state = three_days_then_a_late_event(fake, cfg)
        late = event_ids([late_event(day(1), "late-day-1")])[0]
        runs = {}
        for name, instant in (("D+2 of day 1", at(day(3), 0, 30)), ("D+3", at(day(4), 0, 30)), ("after", at(day(4), 1, 30))):
            fake.requests.clear()
            output = read_at(instant, cfg, state)
            state = last_state(output)
            runs[name] = (ordered_ids(output), [request.params for request in fake.requests], state)
    ids, asked, _ = runs["D+2 of day 1"]
    assert late not in ids and [(p["from_date"], p["to_date"]) for p in asked if "where" not in p] == [(str(day(0)), str(day(0)))]  # day 0's sweep
    ids, asked, state_after = runs["D+3"]
    assert ids.count(late) == 1
    [sweep] = [p for p in asked if "where" not in p]
    assert (sweep["from_date"], sweep["to_date"]) == (str(day(1)), str(day(1)))  # the whole day, no filter
    assert str(day(1)) not in state_after["swept"]  # its last sweep is done: nothing more owed
    ids, asked, _ = runs["after"]
    assert late not in ids and all("where" in p for p in asked)  # not swept twice


def test_given_the_sweep_plan_and_a_sweep_that_fails_when_the_next_sync_runs_then_the_sweep_is_redone(sleeps):
    with FakeMixpanel(events_per_day=5, days=[day(0), day(1), day(2)]) as fake:
        cfg = config(fake.url, start_date=str(day(0)), lookback_window_days=2)
        state = three_days_then_a_late_event(fake, cfg)
        state = last_state(read_at(at(day(3), 0, 30), cfg, state))  # day 0's sweep
        late = event_ids([late_event(day(1), "late-day-1")])[0]
        fake.add_fault("none")  # the fresh part is served; day 1's sweep then meets an outage
        fake.add_fault("status", status=503, times=50)
        failed = read_at(at(day(4), 0, 30), cfg, state)
        fake.clear_faults()
        state = last_state(failed)
        redone = read_at(at(day(4), 1, 30), cfg, state)
    assert failed.exit_code == 1 and failed.errors[-1].trace.error.failure_type.value == "transient_error"
    assert late not in ordered_ids(failed)
    assert state["swept"][str(day(1))] is not None and state["timestamp"].startswith(str(day(4)))  # the fresh part was checkpointed, the sweep not
    assert ordered_ids(redone).count(late) == 1 and not redone.errors
    assert any("sweeping 1 past day(s) for late events" in line for line in infos(redone))


# --- a window that breaks off is split ---------------------------------------------------------


def test_given_a_day_whose_reads_break_off_when_read_then_it_is_split_into_hour_ranges_each_checkpointed(sleeps):
    with FakeMixpanel(events_per_day=400, days=[day(0)]) as fake:
        fake.add_fault("reset", after_bytes=20_000, times=4)  # the whole day, then its first half, break off twice each
        output = read_at(at(day(1), 1), config(fake.url, start_date=str(day(0)), end_date=str(day(0))))
        wheres = [request.params.get("where") for request in fake.requests]
        everything = event_ids(fake.expected_events(day(0), day(0)))
    six, noon = int(at(day(0), 6).timestamp()), int(at(day(0), 12).timestamp())
    assert wheres == [
        None,
        None,  # one break is taken as chance; the second in a row splits the piece
        f'properties["$time"] < datetime({noon})',
        f'properties["$time"] < datetime({noon})',
        f'properties["$time"] < datetime({six})',
        f'properties["$time"] >= datetime({six}) and properties["$time"] < datetime({noon})',
        f'properties["$time"] >= datetime({noon})',
    ]
    assert set(ordered_ids(output)) == set(everything) and not output.errors
    assert cursors(output) == [f"{day(0)}T05:59:59.999Z", f"{day(0)}T11:59:59.999Z", f"{day(0)}T23:59:59.999Z"]
    assert len([line for line in warnings(output) if "the read broke off" in line]) == 4


def test_given_a_big_day_on_a_connection_that_drops_every_300_lines_when_read_then_it_completes_in_checkpointed_pieces(sleeps):
    with FakeMixpanel(events_per_day=2000, days=[day(0)], drop_every_lines=300) as fake:
        output = read_at(at(day(1), 6), config(fake.url, start_date=str(day(0)), end_date=str(day(0))))
        everything = event_ids(fake.expected_events(day(0), day(0)))
        served = [request.lines_sent for request in fake.requests]
    assert set(ordered_ids(output)) == set(everything) and output.exit_code == 0
    completed = [lines for lines in served if lines < 300]
    assert sum(completed) == len(everything)  # the pieces that completed hold every event once
    assert len(cursors(output)) == len(completed) and cursors(output)[-1] == f"{day(0)}T23:59:59.999Z"
    assert len(served) < 40  # later pieces aim under the break point: not a retry storm


def test_given_a_backfill_of_more_requests_than_an_hour_allows_when_read_then_the_plan_says_so_up_front(sleeps):
    days = days_back(71)
    with FakeMixpanel(events_per_day=1, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[0]), date_window_days=1))
        statuses = [request.status for request in fake.requests]
    [plan] = [line for line in infos(output) if line.startswith("Planned about")]
    assert "Planned about 71 requests" in plan and "at least 1 h" in plan
    assert statuses == [200] * 71 and not output.errors  # paced (the waits are recorded, not slept here), never rate-limited
    assert sum(sleeps.pacing) >= 3600 * 0.9  # the 61st request waited for the hour to roll


# --- windows sized to the data -----------------------------------------------------------------


def test_given_a_small_project_when_a_year_is_backfilled_then_13_requests(sleeps):
    days = days_back(366)
    with FakeMixpanel(events_per_day=2, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[0])))
        spans = [(request.params["from_date"], request.params["to_date"]) for request in fake.requests]
    assert len(spans) == 13 and spans[0] == (str(days[0]), str(days[5]))  # 6 days to learn the rate, then 30-day windows
    assert len(cursors(output)) == 13 and not output.errors


def test_given_a_big_project_when_backfilled_then_windows_shrink_to_the_target_and_a_state_comes_every_few_target_events(sleeps):
    days = days_back(12, end=days_back(2)[0])
    with FakeMixpanel(events_per_day=3000, days=days) as fake:
        output = run_read(config(fake.url, start_date=str(days[0]), end_date=str(days[-1]), window_target_events=1000))
        served = [request.lines_sent for request in fake.requests]
        spans = [(request.params["from_date"], request.params["to_date"], request.params.get("where")) for request in fake.requests]
    assert spans[0][:2] == (str(days[0]), str(days[5])) and served[0] == 6 * 3000  # the first window probes the rate
    # then 3000 a day against a target of 1000: thirds of a day (8-hour $time ranges), each about 1000 events
    assert all(where and "$time" in where for _, _, where in spans[1:]) and len(spans) == 1 + 6 * 3
    assert max(served[1:]) <= 1100 and sum(served) == 12 * 3000
    assert len(stream_states(output, "events")) == len(spans) and stream_states(output, "events")[-1]["events_per_day"] > 2500


def test_given_a_legacy_project_synced_hourly_across_a_dst_change_then_every_event_is_delivered_late_ones_included(sleeps):
    days = [dt.date(2026, 3, 6) + dt.timedelta(days=offset) for offset in range(4)]  # Los Angeles springs forward on the 8th
    with FakeMixpanel(events_per_day=300, days=days, project_timezone="America/Los_Angeles", now=clock) as fake:
        cfg = config(fake.url, start_date=str(days[0]), project_timezone="America/Los_Angeles", legacy_local_time=True, lookback_window_days=4)
        state, seen = None, set()
        # The fake's late events arrive up to 96 h after their (true UTC) time: within a lookback of 4 local days
        instant, end = dt.datetime(2026, 3, 6, 8, 30, tzinfo=UTC), dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
        while instant <= end:  # until every day has had its sweep on D+5, local days
            output = read_at(instant, cfg, state)
            assert not output.errors, output.errors
            state, seen = last_state(output), seen | set(ordered_ids(output))
            instant += dt.timedelta(hours=1)
        existing = fake.expected_events(days[0], days[-1], at=end)
    late = [event for event in existing if event["properties"]["mp_processing_time_ms"] / 1000 - event["properties"]["time"] > 3600 * 9]
    assert late  # the fake's ~1% that arrive hours to days late (local time vs UTC: 8 h more here)
    assert set(event_ids(existing)) == seen  # none lost, none unknown
    assert state["swept"] == {}  or min(state["swept"]) > str(days[-1])  # the data days owe nothing more

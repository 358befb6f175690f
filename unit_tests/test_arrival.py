"""The arrival plan's pure parts (source_mixpanel_aep.streams.arrival): named cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from source_mixpanel_aep.streams.arrival import ArrivalCheck, answered_at, arrival_base, arrival_first_day
from source_mixpanel_aep.streams.plan import PlanSettings, ReadState
from source_mixpanel_aep.streams.windows import StateError, Window, time_filter
from unit_tests.plan_builders import at, d, plan_settings

UTC = ZoneInfo("UTC")


def settings(**overrides) -> PlanSettings:
    """The arrival plan's defaults: sweeps for events without mp_processing_time_ms only, a 5-minute arrival overlap."""
    return plan_settings(**{"unstamped_sweeps": True, "arrival_overlap": dt.timedelta(minutes=5), **overrides})


@pytest.mark.parametrize(
    "raw, today, expected",
    [
        (None, "2024-05-10", None),
        ({"timestamp": "2024-05-10T12:00:00Z"}, "2024-05-10", "2024-05-10T12:00:00Z"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {"2024-05-08": "2024-05-09T01:00:00Z", "2024-05-09": None}}, "2024-05-10", "2024-05-09T00:00:00Z"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "arrived": "2024-05-10T11:00:00Z"}, "2024-05-10", "2024-05-10T11:00:00Z"),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "sweep_plan_until": "2024-05-12"}, "2024-05-12", None),
        ({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "sweep_plan_until": "2024-05-12"}, "2024-05-13", "2024-05-10T12:00:00Z"),
        ({"swept": {"2024-05-09": None}}, "2024-05-10", None),
    ],
    ids=["no-state", "timestamp-only-read-whole-at-the-cursor", "owed-days-vouch-for-their-last-full-read-or-their-start",
         "the-arrival-cursor", "in-a-fallback", "after-the-fallback", "no-cursor"],
)
def test_arrival_base_is_what_the_state_vouches_for(raw, today, expected):
    state = ReadState.parse(raw, UTC, 5)
    base = arrival_base(state, settings(), d(today))
    assert base == (at(expected) if expected else None)


def test_given_a_bad_arrival_field_then_a_state_error_names_it():
    with pytest.raises(StateError, match="arrived"):
        ReadState.parse({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "arrived": "soon"}, UTC, 5)
    with pytest.raises(StateError, match="sweep_plan_until"):
        ReadState.parse({"timestamp": "2024-05-10T12:00:00Z", "swept": {}, "sweep_plan_until": 5}, UTC, 5)


def test_the_new_fields_round_trip_through_the_state():
    raw = {"timestamp": "2024-05-10T12:00:00.000Z", "swept": {}, "arrived": "2024-05-10T11:00:00.000Z", "sweep_plan_until": "2024-05-16"}
    assert ReadState.parse(raw, UTC, 5).to_state() == raw


@pytest.mark.parametrize(
    "base, expected",
    [("2024-05-10T00:03:00Z", "2024-05-04"), ("2024-05-10T12:00:00Z", "2024-05-05"), ("2024-01-02T12:00:00Z", "2024-01-01")],
    ids=["the-overlap-crosses-midnight", "lookback-before-the-bounds-day", "never-before-start-date"],
)
def test_arrival_first_day(base, expected):
    assert arrival_first_day(at(base), settings()) == d(expected)


@pytest.mark.parametrize(
    "header, expected",
    [(None, "2024-05-10T12:00:00.500Z"), ("Fri, 10 May 2024 11:58:00 GMT", "2024-05-10T11:58:00Z"),
     ("Fri, 10 May 2024 12:30:00 GMT", "2024-05-10T12:00:00.500Z"), ("not a date", "2024-05-10T12:00:00.500Z")],
    ids=["no-date-header", "mixpanel-behind-us-wins", "mixpanel-ahead-ours-wins", "unreadable-header"],
)
def test_answered_at_takes_the_earlier_clock(header, expected):
    assert answered_at(at("2024-05-10T12:00:00.500Z"), header) == at(expected)


@pytest.mark.parametrize(
    "properties, below, unstamped",
    [({"mp_processing_time_ms": 1715342400000}, 0, 0), ({"mp_processing_time_ms": 1715342399999}, 1, 0),
     ({}, 0, 1), ({"mp_processing_time_ms": "1715342400000"}, 0, 1), ({"mp_processing_time_ms": True}, 0, 1)],
    ids=["at-the-bound", "below-the-bound", "without-the-property", "a-string", "a-boolean"],
)
def test_arrival_check_counts_events_that_break_the_promise(properties, below, unstamped):
    check = ArrivalCheck(Window(d("2024-05-01"), d("2024-05-10"), arrived_since=at("2024-05-10T12:00:00Z")))
    check({"event": "e", "properties": properties})
    assert (check.below, check.unstamped, check.failed) == (below, unstamped, bool(below or unstamped))


@pytest.mark.parametrize(
    "window, expected",
    [
        (Window(d("2024-05-01"), d("2024-05-10"), arrived_since=at("2024-05-10T12:00:00Z")), 'number(properties["mp_processing_time_ms"]) >= 1715342400000'),
        (Window(d("2024-05-10"), d("2024-05-10"), since=at("2024-05-10T06:00:00Z"), arrived_since=at("2024-05-10T12:00:00Z")),
         'properties["$time"] >= datetime(1715320800) and number(properties["mp_processing_time_ms"]) >= 1715342400000'),
        (Window(d("2024-05-01"), d("2024-05-01"), sweep=True, unstamped=True), 'not defined(properties["mp_processing_time_ms"])'),
    ],
    ids=["arrival", "a-part-of-a-day-and-arrival", "unstamped-sweep"],
)
def test_the_where_of_arrival_windows(window, expected):
    assert time_filter(window, None) == expected
    assert time_filter(window, ZoneInfo("America/Los_Angeles")).endswith(expected.split(" and ")[-1])  # UTC ms in legacy projects too
    assert Window.from_slice(window.as_slice()) == window
